using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM005: no <c>SELECT *</c> and no <c>alias.*</c> anywhere under database/ — including inside
/// <c>EXISTS (SELECT * …)</c>, where the repository's style is <c>SELECT 1</c>. <c>COUNT(*)</c> is not a select star.
/// </summary>
public sealed class NoSelectStarRule : IHouseRule
{
    public const string RuleId = "DBM005";

    public string Id => RuleId;

    public string Description => "No SELECT * or alias.* (EXISTS uses SELECT 1).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            foreach (var star in All<SelectStarExpression>(script.Fragment!))
            {
                yield return Finding(script, star, RuleId,
                    $"{ObjectOf(script)} selects {SqlText.TextOf(star)}: name the columns (a result set or an insert must not " +
                    "change shape when a column is added); inside EXISTS write SELECT 1.");
            }
        }
    }
}
