using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM009: every argument of an <c>EXEC</c> of a procedure is named (<c>EXEC dbmerge.X @A = 1</c>), system procedures
/// included (<c>sys.sp_getapplock @Resource = …</c>) and <c>sp_executesql</c> too: the repository writes
/// <c>EXEC sys.sp_executesql @stmt = @Sql, @params = N'…', @X = @X</c>. A positional argument silently changes
/// meaning when the callee's parameters are reordered. Applies to every script under database/ (INSERT … EXEC too).
/// </summary>
public sealed class NamedArgumentsRule : IHouseRule
{
    public const string RuleId = "DBM009";

    public string Id => RuleId;

    public string Description => "Named arguments on every EXEC of a procedure (system procedures and sp_executesql included).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            foreach (var reference in All<ExecutableProcedureReference>(script.Fragment!))
            {
                var callee = ProcedureName(reference) ?? "a procedure";
                var positional = reference.Parameters.Where(p => p.Variable is null).ToList();
                if (positional.Count == 0)
                {
                    continue;
                }

                var first = positional[0];
                yield return Finding(script, first, RuleId,
                    $"{ObjectOf(script)} calls {callee} with {positional.Count} positional argument(s) (first: {SqlText.TextOf(first)}): " +
                    $"name every argument, e.g. EXEC {callee} @Parameter = value.");
            }
        }
    }
}
