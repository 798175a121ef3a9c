using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM002: a procedure does its work inside <c>BEGIN TRY … END TRY</c>, and every CATCH block only rolls back,
/// optionally logs the failure, and re-throws. Precisely:
/// <list type="bullet">
/// <item>the body (inside its outer BEGIN … END) has exactly one top-level TRY/CATCH and nothing after it;</item>
/// <item>before the TRY only SET statements (options, isolation level, variables), DECLAREs, and guard clauses
///   are allowed — an IF whose branches hold only SET/DECLARE and end in THROW — and none of them may query a table
///   (a SELECT, EXISTS or scalar subquery is work). A guard refuses before anything is
///   touched; it is how a procedure that owns its transaction refuses a caller's open transaction without its
///   CATCH rolling that transaction back (api.User_Merge, error 51109);</item>
/// <item>every CATCH block (nested ones too) starts with <c>IF @@TRANCOUNT &gt; 0 ROLLBACK [TRANSACTION];</c>
///   (or <c>IF XACT_STATE() &lt;&gt; 0 ROLLBACK</c>), may then log the failure — INSERT or UPDATE into a <c>dbmerge</c>
///   table, or EXEC of a <c>dbmerge</c> procedure (dbmerge.MergeRun_Finish), with the values prepared in variables
///   (<c>SET @v = …</c>) — may translate an engine error into the procedure's own numbered error (COORDINATION §4:
///   a lock timeout 1222 becomes the procedure's lock-timeout number): an <c>IF</c> without ELSE whose branch holds only
///   SET/DECLARE statements, optionally ending in <c>THROW 51xxx, @message, 1</c> — and ends with a bare <c>THROW;</c>
///   — no RETURN, no SELECT of ERROR_MESSAGE(), no other logic.</item>
/// </list>
/// The same pattern holds for every kind of procedure: one that owns its transaction, one that requires its caller's
/// (dbmerge.User_MergeCore: XACT_ABORT has doomed the caller's transaction anyway, so rolling it back in the CATCH is
/// the usual nested pattern), and read-only ones (api.User_Find: the rollback is a no-op without a transaction).
/// </summary>
public sealed class TryCatchRule : IHouseRule
{
    public const string RuleId = "DBM002";

    public string Id => RuleId;

    public string Description => "Work inside TRY; CATCH only rolls back (IF @@TRANCOUNT > 0 ROLLBACK), logs to dbmerge, may translate an engine error (lock timeout 1222) to its own number, and ends with THROW;.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var procedure in Procedures(context))
        {
            foreach (var finding in CheckStructure(procedure))
            {
                yield return finding;
            }

            foreach (var tryCatch in All<TryCatchStatement>(procedure.Statement))
            {
                foreach (var finding in CheckCatch(procedure, tryCatch))
                {
                    yield return finding;
                }
            }
        }
    }

    private static IEnumerable<Finding> CheckStructure(DatabaseModule procedure)
    {
        var body = procedure.Body;
        var index = body.ToList().FindIndex(s => s is TryCatchStatement);
        if (index < 0)
        {
            yield return Finding(procedure.Script, procedure.Statement, RuleId,
                $"{procedure.Describe} has no BEGIN TRY … END TRY around its work: put the work in TRY and end with " +
                "BEGIN CATCH IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; THROW; END CATCH.");
            yield break;
        }

        foreach (var statement in body.Take(index))
        {
            if (IsAllowedBeforeTry(statement))
            {
                continue;
            }

            yield return Finding(procedure.Script, statement, RuleId,
                $"{procedure.Describe} runs {SqlText.StatementKind(statement)} before its BEGIN TRY: only SET, DECLARE and guard clauses " +
                "(IF … THROW) may precede the TRY; move the work inside it.");
        }

        foreach (var statement in body.Skip(index + 1))
        {
            yield return Finding(procedure.Script, statement, RuleId,
                $"{procedure.Describe} runs {SqlText.StatementKind(statement)} after its END CATCH: move it inside the TRY " +
                "(after the COMMIT) so a failure is rolled back and re-thrown like any other.");
        }
    }

    private static bool IsAllowedBeforeTry(TSqlStatement statement) => !ReadsData(statement) && statement switch
    {
        DeclareVariableStatement or DeclareTableVariableStatement => true,
        IfStatement guard => IsGuardBranch(guard.ThenStatement) && (guard.ElseStatement is null || IsGuardBranch(guard.ElseStatement)),
        _ => SqlText.IsSetStatement(statement),
    };

    /// <summary>A query (a table read, EXISTS, a scalar subquery) is work: it belongs inside the TRY.</summary>
    private static bool ReadsData(TSqlStatement statement) => All<QuerySpecification>(statement).Any();

    private static bool IsGuardBranch(TSqlStatement branch)
    {
        var statements = Flatten(branch).ToList();
        return statements.Count > 0
               && statements[^1] is ThrowStatement
               && statements.All(s => s is ThrowStatement or DeclareVariableStatement || SqlText.IsSetStatement(s));
    }

    private static IEnumerable<Finding> CheckCatch(DatabaseModule procedure, TryCatchStatement tryCatch)
    {
        var statements = tryCatch.CatchStatements?.Statements ?? [];
        var catchAt = statements.Count > 0 ? (TSqlFragment)statements[0] : tryCatch;
        if (statements.Count == 0 || !IsRollbackIfOpen(statements[0]))
        {
            yield return Finding(procedure.Script, catchAt, RuleId,
                $"{procedure.Describe}: its CATCH block does not start with IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;: roll back first " +
                "(a doomed transaction cannot be used), then log and THROW;.");
        }

        if (statements.Count == 0 || statements[^1] is not ThrowStatement { ErrorNumber: null })
        {
            yield return Finding(procedure.Script, statements.Count > 0 ? statements[^1] : tryCatch, RuleId,
                $"{procedure.Describe}: its CATCH block does not end with a bare THROW;: re-throw the original error so the caller " +
                "sees its number (a CATCH that does not re-throw swallows the error).");
        }

        for (var i = 0; i < statements.Count; i++)
        {
            var statement = statements[i];
            var allowed = (i == 0 && IsRollbackIfOpen(statement))
                          || (i == statements.Count - 1 && statement is ThrowStatement { ErrorNumber: null })
                          || (i > 0 && (IsFailureLogging(statement) || SqlText.IsSetStatement(statement) || statement is DeclareVariableStatement || IsTranslation(statement) || IsLockTimeoutTranslation(statement)));
            if (allowed)
            {
                continue;
            }

            yield return Finding(procedure.Script, statement, RuleId,
                $"{procedure.Describe}: its CATCH block runs {SqlText.StatementKind(statement)}: a CATCH only rolls back " +
                "(IF @@TRANCOUNT > 0 ROLLBACK), logs the failure (SET variables, then INSERT/UPDATE into a dbmerge table or EXEC " +
                "dbmerge.<procedure>), may translate an engine error (IF … THROW 51xxx, @message, 1;) and ends with THROW; — " +
                "no RETURN, no SELECT of the error, no other logic.");
        }
    }

    private static bool IsRollbackIfOpen(TSqlStatement statement)
    {
        if (statement is not IfStatement { ElseStatement: null } ifStatement)
        {
            return false;
        }

        var then = Flatten(ifStatement.ThenStatement).ToList();
        return then is [RollbackTransactionStatement { Name: null }] && IsTransactionOpenTest(ifStatement.Predicate);
    }

    private static bool IsTransactionOpenTest(BooleanExpression predicate)
    {
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is not BooleanComparisonExpression comparison)
        {
            return false;
        }

        var left = comparison.FirstExpression;
        var right = comparison.SecondExpression as IntegerLiteral;
        if (right?.Value != "0")
        {
            return false;
        }

        return (left is GlobalVariableExpression g && Same(g.Name, "@@TRANCOUNT") && comparison.ComparisonType is BooleanComparisonType.GreaterThan or BooleanComparisonType.NotEqualToBrackets or BooleanComparisonType.NotEqualToExclamation)
               || (left is FunctionCall f && Same(f.FunctionName.Value, "XACT_STATE") && comparison.ComparisonType is BooleanComparisonType.NotEqualToBrackets or BooleanComparisonType.NotEqualToExclamation);
    }

    /// <summary>
    /// <c>IF ERROR_NUMBER() = 1222 BEGIN SET …; THROW 51xxx, …, 1; END</c>: the engine's lock timeout re-thrown as the
    /// procedure's own documented number. Nothing but SET/DECLARE before the THROW, no ELSE.
    /// </summary>
    public static bool IsLockTimeoutTranslation(TSqlStatement statement)
    {
        if (statement is not IfStatement { ElseStatement: null } ifStatement)
        {
            return false;
        }

        var predicate = ifStatement.Predicate;
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is not BooleanComparisonExpression { ComparisonType: BooleanComparisonType.Equals } comparison)
        {
            return false;
        }

        var isErrorNumber = comparison.FirstExpression is FunctionCall { Parameters.Count: 0 } call && Same(call.FunctionName.Value, "ERROR_NUMBER");
        var is1222 = comparison.SecondExpression is IntegerLiteral { Value: "1222" };
        if (!isErrorNumber || !is1222)
        {
            return false;
        }

        var branch = Flatten(ifStatement.ThenStatement).ToList();
        return branch.Count > 0
               && branch[^1] is ThrowStatement { ErrorNumber: IntegerLiteral }
               && branch.Take(branch.Count - 1).All(s => s is DeclareVariableStatement || SqlText.IsSetStatement(s));
    }

    private static bool IsFailureLogging(TSqlStatement statement)
    {
        // IF <condition on variables> <failure logging>: logging only for some errors (no ELSE, no data read).
        if (statement is IfStatement { ElseStatement: null } guarded && !ReadsData(statement))
        {
            return Flatten(guarded.ThenStatement).ToList() is [var only] && only is not IfStatement && IsFailureLogging(only);
        }

        if (statement is ExecuteStatement { ExecuteSpecification.ExecutableEntity: ExecutableProcedureReference { ProcedureReference.ProcedureReference.Name: { } name } })
        {
            return Same(name.SchemaIdentifier?.Value, "dbmerge");
        }

        var target = statement switch
        {
            InsertStatement insert => insert.InsertSpecification.Target,
            UpdateStatement update => update.UpdateSpecification.Target,
            _ => null,
        };
        return target is NamedTableReference named && Same(named.SchemaObject.SchemaIdentifier?.Value, "dbmerge");
    }

    /// <summary>
    /// An IF without ELSE whose branch holds only SET/DECLARE statements, optionally ending in THROW with a literal number:
    /// preparing or raising the procedure's own error for an engine error (1222 → the lock-timeout number).
    /// </summary>
    private static bool IsTranslation(TSqlStatement statement)
    {
        if (statement is not IfStatement { ElseStatement: null } ifStatement || ReadsData(statement))
        {
            return false;
        }

        var branch = Flatten(ifStatement.ThenStatement).ToList();
        if (branch.Count == 0)
        {
            return false;
        }

        var body = branch[^1] is ThrowStatement { ErrorNumber: IntegerLiteral } ? branch.Take(branch.Count - 1) : branch;
        return body.All(s => s is DeclareVariableStatement || SqlText.IsSetStatement(s));
    }
}
