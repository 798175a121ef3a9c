using System.Text.RegularExpressions;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM023: no DbUp variable token <c>$name$</c> and no sqlcmd variable reference <c>$(name)</c> in migrations/ or
/// database/. DbMerge runs DbUp with variables disabled, and its deploy script's only sqlcmd variable is its own
/// SQLCMD-mode probe, so such a token would either reach SQL Server verbatim or, run by sqlcmd or another tool, be
/// replaced by whatever that tool's variable holds. DbUp substitutes inside string literals and bracketed identifiers too (only comments are
/// skipped), so tokens are reported everywhere except in comments.
/// </summary>
public sealed partial class NoScriptVariablesRule : IHouseRule
{
    public const string RuleId = "DBM023";

    public string Id => RuleId;

    public string Description => "No $name$ (DbUp) or $(name) (sqlcmd) variable tokens outside comments.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var findings = new List<Finding>();
        foreach (var script in context.Scripts)
        {
            var text = script.File.Text;
            var kinds = SqlLexical.Classify(text);
            foreach (Match match in Token().Matches(text))
            {
                if (kinds[match.Index] is SqlCharKind.LineComment or SqlCharKind.BlockComment)
                {
                    continue;
                }

                var sqlcmd = match.Value.StartsWith("$(", StringComparison.Ordinal);
                var where = kinds[match.Index] == SqlCharKind.Code ? string.Empty : $" (inside {SqlLexical.Describe(kinds[match.Index])})";
                findings.Add(new Finding(script.File.RelativePath, SqlLexical.LineOf(text, match.Index), RuleId,
                    sqlcmd
                        ? $"sqlcmd variable reference {match.Value}{where}: DbMerge's scripts define no sqlcmd variables (the deploy script's only one is its own SQLCMD-mode probe); sqlcmd would replace or " +
                          "reject it. Write the value itself (split a literal as '$' + '(' if the text must contain it)."
                        : $"DbUp variable token {match.Value}{where}: DbUp variables are disabled in DbMerge, so it would reach SQL Server " +
                          "as written (and DbUp substitutes even inside strings). Write the value itself."));
            }
        }

        return findings;
    }

    /// <summary><c>$name$</c> (DbUp: word characters between dollars) or <c>$(</c> (sqlcmd: any variable reference).</summary>
    [GeneratedRegex(@"\$\w+\$|\$\([^)\r\n]*\)?", RegexOptions.CultureInvariant)]
    private static partial Regex Token();
}
