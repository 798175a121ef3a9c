using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM006: no dirty reads anywhere under database/: no <c>NOLOCK</c> or <c>READUNCOMMITTED</c> table hint (also not
/// inside <c>OPTION (TABLE HINT …)</c>) and no <c>SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED</c>.
/// </summary>
public sealed class NoReadUncommittedRule : IHouseRule
{
    public const string RuleId = "DBM006";

    public string Id => RuleId;

    public string Description => "No NOLOCK / READUNCOMMITTED hints and no READ UNCOMMITTED isolation level.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            foreach (var fragment in Descendants(script.Fragment!))
            {
                switch (fragment)
                {
                    case TableHint { HintKind: TableHintKind.NoLock or TableHintKind.ReadUncommitted } hint:
                        yield return Finding(script, hint, RuleId,
                            $"{ObjectOf(script)} reads with the {hint.HintKind.ToString().ToUpperInvariant()} hint (dirty reads: rows " +
                            "missed, read twice or rolled back): remove it; use READ COMMITTED (with READ_COMMITTED_SNAPSHOT) or READPAST for a queue.");
                        break;
                    case SetTransactionIsolationLevelStatement { Level: IsolationLevel.ReadUncommitted } set:
                        yield return Finding(script, set, RuleId,
                            $"{ObjectOf(script)} sets TRANSACTION ISOLATION LEVEL READ UNCOMMITTED (dirty reads): use READ COMMITTED " +
                            "(with READ_COMMITTED_SNAPSHOT) or SNAPSHOT.");
                        break;
                }
            }
        }
    }
}
