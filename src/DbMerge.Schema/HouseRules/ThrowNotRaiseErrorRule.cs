using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM003: errors are raised with <c>THROW</c>, never <c>RAISERROR</c>. A RAISERROR whose severity is a literal
/// 0..10 is an informational progress message (<c>RAISERROR(@msg, 10, 1) WITH NOWAIT</c>) and is allowed; a severity
/// above 10, or one that is not an integer literal (a variable, an expression, a negative number), is a finding.
/// Applies to every script under database/.
/// </summary>
public sealed class ThrowNotRaiseErrorRule : IHouseRule
{
    public const string RuleId = "DBM003";

    public string Id => RuleId;

    public string Description => "THROW, never RAISERROR, for errors (RAISERROR with a literal severity <= 10 is a progress message).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            foreach (var raise in All<RaiseErrorStatement>(script.Fragment!))
            {
                if (raise.SecondParameter is IntegerLiteral literal && int.TryParse(literal.Value, out var severity) && severity <= 10)
                {
                    continue;
                }

                var shown = raise.SecondParameter is null ? "?" : SqlText.TextOf(raise.SecondParameter);
                yield return Finding(script, raise, RuleId,
                    $"{ObjectOf(script)} raises an error with RAISERROR (severity {shown}): raise errors with " +
                    "THROW 51xxx, @Message, 1; (RAISERROR is allowed only for progress messages with a literal severity of 10 or less, WITH NOWAIT).");
            }
        }
    }
}
