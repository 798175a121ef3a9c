using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM013: a procedure that issues <c>BEGIN TRANSACTION</c> owns its transaction and refuses a caller's (STYLE.md: a
/// procedure "owns its transaction OR requires the caller's, never both"). Called inside an open transaction, such a
/// procedure's <c>CATCH</c> (<c>IF @@TRANCOUNT &gt; 0 ROLLBACK</c>) would roll back the CALLER's work, and the caller
/// would then get error 266. So its body must hold, as a top-level statement before its <c>BEGIN TRY</c> and before any
/// <c>BEGIN TRANSACTION</c>, a refusal guard shaped like api.User_Merge's (51109):
/// <code>
/// IF @@TRANCOUNT &gt; 0
/// BEGIN
///     SET XACT_ABORT OFF;   -- THROW honours XACT_ABORT: with it ON the THROW would roll the caller's work back
///     DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.X: called inside an open transaction …');
///     THROW 51xxx, @OpenMessage, 1;
/// END;
/// </code>
/// The test may also be written <c>@@TRANCOUNT &lt;&gt; 0</c>, <c>@@TRANCOUNT != 0</c> or <c>0 &lt; @@TRANCOUNT</c>. A procedure
/// without <c>BEGIN TRANSACTION</c> (read-only ones, and dbmerge.User_MergeCore, which requires its caller's transaction
/// with <c>IF @@TRANCOUNT = 0 THROW</c>) is not concerned. One finding per procedure: at the misplaced or incomplete
/// guard when there is one, else at the first <c>BEGIN TRANSACTION</c>.
/// </summary>
public sealed class OwnTransactionGuardRule : IHouseRule
{
    public const string RuleId = "DBM013";

    public string Id => RuleId;

    public string Description =>
        "A procedure that issues BEGIN TRANSACTION refuses a caller's transaction first: IF @@TRANCOUNT > 0 BEGIN SET XACT_ABORT OFF; … THROW 51xxx …; END before its TRY.";

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

        // Every IF @@TRANCOUNT > 0 whose branch throws is meant as the guard (the CATCH's IF @@TRANCOUNT > 0 ROLLBACK is not).
        var candidates = All<IfStatement>(procedure.Statement)
            .Where(i => IsOpenTransactionTest(i.Predicate) && All<ThrowStatement>(i.ThenStatement).Any())
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

        var fix = $"add before its BEGIN TRY: IF @@TRANCOUNT > 0 BEGIN SET XACT_ABORT OFF; DECLARE @OpenMessage nvarchar(2048) = " +
                  $"FORMATMESSAGE(N'{procedure.Name}: called inside an open transaction …; call it outside a transaction.'); " +
                  "THROW 51xxx, @OpenMessage, 1; END; (as api.User_Merge does with 51109), so a caller's transaction is refused " +
                  "instead of rolled back by the CATCH.";

        if (problems.Count == 0)
        {
            return Finding(procedure.Script, firstBegin, RuleId,
                $"{procedure.Describe} issues BEGIN TRANSACTION (line {firstBegin.StartLine}) but does not refuse a caller's open " +
                $"transaction, so its CATCH would roll back the caller's work: {fix}");
        }

        var (at, found) = problems[0];
        return Finding(procedure.Script, at, RuleId,
            $"{procedure.Describe}: its IF @@TRANCOUNT > 0 guard at line {at.StartLine} {string.Join("; ", found)}: the guard must run " +
            "before the BEGIN TRY and before any BEGIN TRANSACTION, SET XACT_ABORT OFF and end in THROW with a literal 51xxx number " +
            "(as api.User_Merge's does with 51109), so a caller's transaction is refused instead of rolled back by the CATCH.");
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

        var branch = Flatten(guard.ThenStatement).ToList();
        if (!branch.Any(s => s is PredicateSetStatement { IsOn: false } set && set.Options.HasFlag(SetOptions.XactAbort)))
        {
            defects.Add("does not SET XACT_ABORT OFF (THROW honours XACT_ABORT: with it ON the THROW rolls the caller's work back)");
        }

        if (branch.LastOrDefault() is not ThrowStatement { ErrorNumber: IntegerLiteral })
        {
            defects.Add("does not end in THROW with a literal 51xxx number");
        }

        return defects;
    }

    /// <summary>
    /// <c>@@TRANCOUNT &gt; 0</c>, <c>@@TRANCOUNT &lt;&gt; 0</c>, <c>@@TRANCOUNT != 0</c> or <c>0 &lt; @@TRANCOUNT</c> (parentheses allowed),
    /// alone or OR-ed with more refusals (COORDINATION.md convention 1: <c>IF @@TRANCOUNT &gt; 0 OR (@@OPTIONS &amp; 2) = 2</c>
    /// also refuses IMPLICIT_TRANSACTIONS ON; an OR only widens the refusal).
    /// </summary>
    private static bool IsOpenTransactionTest(BooleanExpression predicate)
    {
        while (predicate is BooleanParenthesisExpression parenthesis)
        {
            predicate = parenthesis.Expression;
        }

        if (predicate is BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.Or } or)
        {
            return IsOpenTransactionTest(or.FirstExpression) || IsOpenTransactionTest(or.SecondExpression);
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
