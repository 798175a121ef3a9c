using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM013: a procedure that issues <c>BEGIN TRANSACTION</c> owns its transaction and refuses a caller's (STYLE.md: a
/// procedure "owns its transaction OR requires the caller's, never both"), and refuses implicit-transaction mode too.
/// Called inside an open transaction, such a procedure's <c>CATCH</c> (<c>IF @@TRANCOUNT &gt; 0 ROLLBACK</c>) would roll
/// back the CALLER's work, and the caller would then get error 266. Under <c>IMPLICIT_TRANSACTIONS ON</c> (JDBC and ODBC
/// with auto-commit off) the procedure's first table access opens a transaction, its <c>BEGIN TRANSACTION</c> nests
/// inside it (@@TRANCOUNT 2) and its <c>COMMIT</c> leaves the work and the locks open in the caller's session. So its
/// body must hold, as a top-level statement before its <c>BEGIN TRY</c>, before any <c>BEGIN TRANSACTION</c> and before
/// any statement that could open an implicit transaction, a refusal guard shaped like api.User_Merge's (51109):
/// <code>
/// IF @@TRANCOUNT &gt; 0 OR (@@OPTIONS &amp; 2) = 2
/// BEGIN
///     SET XACT_ABORT OFF;   -- THROW honours XACT_ABORT: with it ON the THROW would roll the caller's work back
///     DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.X: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON …');
///     THROW 51xxx, @OpenMessage, 1;
/// END;
/// </code>
/// The transaction test may also be written <c>@@TRANCOUNT &lt;&gt; 0</c>, <c>@@TRANCOUNT != 0</c> or <c>0 &lt; @@TRANCOUNT</c>;
/// the implicit-transactions test <c>(@@OPTIONS &amp; 2) = 2</c>, <c>&lt;&gt; 0</c>, <c>!= 0</c> or <c>&gt; 0</c> (either operand
/// order, parentheses allowed); the two are ORed in either order. Only SET statements and DECLARE/SET of variables that
/// read no table (no subquery, no table, no user function, no NEXT VALUE FOR) may come before the guard, or inside it
/// before its THROW: they open no implicit transaction. A procedure without <c>BEGIN TRANSACTION</c> (read-only ones, and dbmerge.User_MergeCore, which
/// requires its caller's transaction with <c>IF @@TRANCOUNT = 0 THROW</c>) is not concerned. One finding per procedure:
/// at the misplaced or incomplete guard when there is one, else at the first <c>BEGIN TRANSACTION</c>.
/// </summary>
public sealed class OwnTransactionGuardRule : IHouseRule
{
    public const string RuleId = "DBM013";

    public string Id => RuleId;

    public string Description =>
        "A procedure that issues BEGIN TRANSACTION refuses a caller's transaction and IMPLICIT_TRANSACTIONS ON first: " +
        "IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2 BEGIN SET XACT_ABORT OFF; … THROW 51xxx …; END before its TRY and before any table access.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var procedure in Procedures(context))
        {
            if (CheckProcedure(procedure) is { } finding)
            {
                yield return finding;
            }
        }
    }

    private static Finding? CheckProcedure(DatabaseModule procedure)
    {
        var firstBegin = All<BeginTransactionStatement>(procedure.Statement).OrderBy(b => b.FirstTokenIndex).FirstOrDefault();
        if (firstBegin is null)
        {
            return null;
        }

        var body = procedure.Body;
        var tryIndex = body.ToList().FindIndex(s => s is TryCatchStatement);
        var tryStart = tryIndex >= 0 ? body[tryIndex].FirstTokenIndex : int.MaxValue;

        // Every IF testing @@TRANCOUNT > 0 (alone or ORed) whose branch throws is meant as the guard (the CATCH's
        // IF @@TRANCOUNT > 0 ROLLBACK is not).
        var candidates = All<IfStatement>(procedure.Statement)
            .Where(i => Alternatives(i.Predicate).Any(IsOpenTransactionTest) && All<ThrowStatement>(i.ThenStatement).Any())
            .OrderBy(i => i.FirstTokenIndex)
            .ToList();

        var problems = new List<(IfStatement Guard, List<string> Defects)>();
        foreach (var guard in candidates)
        {
            var defects = Defects(procedure, guard, tryStart, firstBegin);
            if (defects.Count == 0)
            {
                return null;
            }

            problems.Add((guard, defects));
        }

        var fix = $"add before its BEGIN TRY and before any table access: IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2 BEGIN SET XACT_ABORT OFF; " +
                  $"DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'{procedure.Name}: called inside an open transaction or with " +
                  "IMPLICIT_TRANSACTIONS ON …'); THROW 51xxx, @OpenMessage, 1; END; (as api.User_Merge does with 51109), so a caller's " +
                  "transaction is refused instead of rolled back by the CATCH, and an implicit transaction is never left open.";

        if (problems.Count == 0)
        {
            return Finding(procedure.Script, firstBegin, RuleId,
                $"{procedure.Describe} issues BEGIN TRANSACTION (line {firstBegin.StartLine}) but does not refuse a caller's open " +
                $"transaction or IMPLICIT_TRANSACTIONS ON, so its CATCH would roll back the caller's work: {fix}");
        }

        var (at, found) = problems[0];
        return Finding(procedure.Script, at, RuleId,
            $"{procedure.Describe}: its IF @@TRANCOUNT > 0 guard at line {at.StartLine} {string.Join("; ", found)}: the guard must test " +
            "IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2, run before the BEGIN TRY, before any BEGIN TRANSACTION and before any table " +
            "access, SET XACT_ABORT OFF and end in THROW with a literal 51xxx number (as api.User_Merge's does with 51109), so a " +
            "caller's transaction is refused instead of rolled back by the CATCH, and an implicit transaction is never left open.");
    }

    private static List<string> Defects(DatabaseModule procedure, IfStatement guard, int tryStart, BeginTransactionStatement firstBegin)
    {
        var defects = new List<string>();
        if (All<TryCatchStatement>(procedure.Statement).Any(t => t.FirstTokenIndex <= guard.FirstTokenIndex && guard.LastTokenIndex <= t.LastTokenIndex))
        {
            defects.Add("is inside the TRY (its CATCH would still roll the caller's transaction back)");
        }
        else if (!procedure.Body.Contains(guard))
        {
            defects.Add("is nested in another statement (make it a statement of the body itself)");
        }
        else if (guard.FirstTokenIndex > tryStart)
        {
            defects.Add("comes after the TRY");
        }

        if (guard.FirstTokenIndex > firstBegin.FirstTokenIndex)
        {
            defects.Add($"comes after the BEGIN TRANSACTION at line {firstBegin.StartLine}");
        }

        if (!Alternatives(guard.Predicate).Any(IsImplicitTransactionsTest))
        {
            defects.Add("does not test IMPLICIT_TRANSACTIONS (add OR (@@OPTIONS & 2) = 2: under IMPLICIT_TRANSACTIONS ON the first table " +
                        "access opens a transaction and the procedure's COMMIT leaves the caller's session in it, with the locks held)");
        }

        if (procedure.Body.Contains(guard)
            && procedure.Body.TakeWhile(s => !ReferenceEquals(s, guard)).FirstOrDefault(MayOpenImplicitTransaction) is { } before)
        {
            defects.Add($"comes after a statement that may open an implicit transaction (line {before.StartLine}; only SET statements and " +
                        "DECLAREs that read no table may precede the guard)");
        }

        var branch = Flatten(guard.ThenStatement).ToList();
        if (!branch.Any(s => s is PredicateSetStatement { IsOn: false } set && set.Options.HasFlag(SetOptions.XactAbort)))
        {
            defects.Add("does not SET XACT_ABORT OFF (THROW honours XACT_ABORT: with it ON the THROW rolls the caller's work back)");
        }

        if (branch.LastOrDefault() is not ThrowStatement { ErrorNumber: IntegerLiteral })
        {
            defects.Add("does not end in THROW with a literal 51xxx number");
        }

        // The refusal itself must not open an implicit transaction (a message read from a table would, and the THROW
        // would then leave it open in the caller's session: @@TRANCOUNT 0 before the call, 1 after).
        if (branch.Take(Math.Max(0, branch.Count - 1)).FirstOrDefault(s => s is not ThrowStatement && MayOpenImplicitTransaction(s)) is { } inside)
        {
            defects.Add($"builds its refusal with a statement that may open an implicit transaction (line {inside.StartLine}; the " +
                        "guard's branch may only SET options and DECLARE or SET variables that read no table before its THROW)");
        }

        return defects;
    }

    /// <summary>The alternatives of an OR (through parentheses); a predicate without OR is its own single alternative.</summary>
    private static IEnumerable<BooleanExpression> Alternatives(BooleanExpression predicate)
    {
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.Or } or)
        {
            return Alternatives(or.FirstExpression).Concat(Alternatives(or.SecondExpression));
        }

        return [predicate];
    }

    /// <summary>
    /// True unless the statement certainly opens no implicit transaction: SET options and DECLARE/SET of variables whose
    /// values read no table (no subquery, table, user function or sequence), and DECLAREd table variables, are safe;
    /// everything else may open one.
    /// </summary>
    private static bool MayOpenImplicitTransaction(TSqlStatement statement)
    {
        if (statement is SetOnOffStatement or SetCommandStatement or SetTransactionIsolationLevelStatement or DeclareTableVariableStatement)
        {
            return false;
        }

        if (statement is not (DeclareVariableStatement or SetVariableStatement))
        {
            return true;
        }

        return Descendants(statement).Any(f => f is QueryExpression or ScalarSubquery or NamedTableReference or NextValueForExpression
            or FunctionCall { CallTarget: not null });
    }

    /// <summary>
    /// <c>(@@OPTIONS &amp; 2) = 2</c>, or <c>&lt;&gt; 0</c>, <c>!= 0</c>, <c>&gt; 0</c>; either operand order, either order of the
    /// bitwise AND, parentheses allowed (IMPLICIT_TRANSACTIONS is bit 2 of @@OPTIONS).
    /// </summary>
    private static bool IsImplicitTransactionsTest(BooleanExpression predicate)
    {
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is not BooleanComparisonExpression comparison)
        {
            return false;
        }

        static ScalarExpression Unwrap(ScalarExpression e)
        {
            while (e is ParenthesisExpression p)
            {
                e = p.Expression;
            }

            return e;
        }

        static bool IsLiteral(ScalarExpression e, string value) => Unwrap(e) is IntegerLiteral literal && literal.Value == value;
        static bool IsOptionsBit(ScalarExpression e) =>
            Unwrap(e) is BinaryExpression { BinaryExpressionType: BinaryExpressionType.BitwiseAnd } and
            && ((Unwrap(and.FirstExpression) is GlobalVariableExpression g1 && Same(g1.Name, "@@OPTIONS") && IsLiteral(and.SecondExpression, "2"))
                || (Unwrap(and.SecondExpression) is GlobalVariableExpression g2 && Same(g2.Name, "@@OPTIONS") && IsLiteral(and.FirstExpression, "2")));

        bool Matches(ScalarExpression bit, ScalarExpression other) => comparison.ComparisonType switch
        {
            BooleanComparisonType.Equals => IsOptionsBit(bit) && IsLiteral(other, "2"),
            BooleanComparisonType.NotEqualToBrackets or BooleanComparisonType.NotEqualToExclamation => IsOptionsBit(bit) && IsLiteral(other, "0"),
            _ => false,
        };

        return Matches(comparison.FirstExpression, comparison.SecondExpression)
               || Matches(comparison.SecondExpression, comparison.FirstExpression)
               || (comparison.ComparisonType == BooleanComparisonType.GreaterThan && IsOptionsBit(comparison.FirstExpression) && IsLiteral(comparison.SecondExpression, "0"))
               || (comparison.ComparisonType == BooleanComparisonType.LessThan && IsLiteral(comparison.FirstExpression, "0") && IsOptionsBit(comparison.SecondExpression));
    }

    /// <summary><c>@@TRANCOUNT &gt; 0</c>, <c>@@TRANCOUNT &lt;&gt; 0</c>, <c>@@TRANCOUNT != 0</c> or <c>0 &lt; @@TRANCOUNT</c> (parentheses allowed).</summary>
    private static bool IsOpenTransactionTest(BooleanExpression predicate)
    {
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is not BooleanComparisonExpression comparison)
        {
            return false;
        }

        static bool IsTranCount(ScalarExpression e) => e is GlobalVariableExpression g && Same(g.Name, "@@TRANCOUNT");
        static bool IsZero(ScalarExpression e) => e is IntegerLiteral { Value: "0" };

        return comparison.ComparisonType switch
        {
            BooleanComparisonType.GreaterThan => IsTranCount(comparison.FirstExpression) && IsZero(comparison.SecondExpression),
            BooleanComparisonType.LessThan => IsZero(comparison.FirstExpression) && IsTranCount(comparison.SecondExpression),
            BooleanComparisonType.NotEqualToBrackets or BooleanComparisonType.NotEqualToExclamation =>
                (IsTranCount(comparison.FirstExpression) && IsZero(comparison.SecondExpression))
                || (IsZero(comparison.FirstExpression) && IsTranCount(comparison.SecondExpression)),
            _ => false,
        };
    }
}
