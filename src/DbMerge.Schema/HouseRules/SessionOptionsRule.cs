using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM001: a procedure's body starts by switching on <c>NOCOUNT</c> and <c>XACT_ABORT</c>: its first statement is
/// <c>SET NOCOUNT, XACT_ABORT ON;</c>, or its first two statements are <c>SET NOCOUNT ON;</c> and
/// <c>SET XACT_ABORT ON;</c> (either order). Nothing may run before them — XACT_ABORT is what makes any error
/// doom and roll back the transaction instead of leaving half of it open. (A procedure that must refuse without
/// touching a caller's transaction switches XACT_ABORT off only inside that refusal's guard, after this line:
/// see api.User_Merge.) A <c>SET XACT_ABORT OFF</c> anywhere else in the procedure is a finding too: it is allowed only
/// inside an IF branch that ends in THROW (a guard that refuses).
/// </summary>
public sealed class SessionOptionsRule : IHouseRule
{
    public const string RuleId = "DBM001";

    public string Id => RuleId;

    public string Description => "A procedure starts with SET NOCOUNT, XACT_ABORT ON.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var procedure in Procedures(context))
        {
            var body = procedure.Body;
            var options = SetOptions.None;
            foreach (var statement in body.Take(2))
            {
                if (statement is PredicateSetStatement { IsOn: true } set)
                {
                    options |= set.Options & (SetOptions.NoCount | SetOptions.XactAbort);
                    if (options.HasFlag(SetOptions.NoCount) && options.HasFlag(SetOptions.XactAbort))
                    {
                        break;
                    }
                }
                else
                {
                    break;
                }
            }

            foreach (var off in All<PredicateSetStatement>(procedure.Statement).Where(p => !p.IsOn && p.Options.HasFlag(SetOptions.XactAbort)))
            {
                if (!InsideGuard(procedure.Statement, off))
                {
                    yield return Finding(procedure.Script, off, RuleId,
                        $"{procedure.Describe} switches XACT_ABORT off outside a refusal guard: keep it on for the whole body (an error " +
                        "must doom the transaction); switch it off only in an IF branch that ends in THROW.");
                }
            }

            if (options.HasFlag(SetOptions.NoCount) && options.HasFlag(SetOptions.XactAbort))
            {
                continue;
            }

            var at = body.Count > 0 ? (TSqlFragment)body[0] : procedure.Statement;
            var missing = string.Join(" and ", new[] { (SetOptions.NoCount, "NOCOUNT"), (SetOptions.XactAbort, "XACT_ABORT") }
                .Where(o => !options.HasFlag(o.Item1)).Select(o => o.Item2));
            yield return Finding(procedure.Script, at, RuleId,
                $"{procedure.Describe} does not start by switching on {missing}: make SET NOCOUNT, XACT_ABORT ON; the first statement of its body " +
                "(without XACT_ABORT an error can leave a transaction open and half done).");
        }
    }

    private static bool InsideGuard(TSqlFragment procedure, TSqlStatement statement) =>
        All<IfStatement>(procedure)
            .SelectMany(i => new[] { i.ThenStatement, i.ElseStatement })
            .Where(branch => branch is not null && Flatten(branch).LastOrDefault() is ThrowStatement)
            .Any(branch => branch!.FirstTokenIndex <= statement.FirstTokenIndex && statement.LastTokenIndex <= branch.LastTokenIndex);
}
