using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>DBM004: no <c>MERGE</c> statement anywhere under database/ (its race conditions and bugs are not worth it).</summary>
public sealed class NoMergeStatementRule : IHouseRule
{
    public const string RuleId = "DBM004";

    public string Id => RuleId;

    public string Description => "No MERGE statement.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            foreach (var merge in All<MergeStatement>(script.Fragment!))
            {
                yield return Finding(script, merge, RuleId,
                    $"{ObjectOf(script)} uses MERGE: write the upsert as UPDATE … WITH (UPDLOCK, SERIALIZABLE) …; " +
                    "IF @@ROWCOUNT = 0 INSERT …, or as separate set-based UPDATE/INSERT/DELETE statements.");
            }
        }
    }
}
