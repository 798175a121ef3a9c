using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>What a house rule sees: the repository and every script, parsed (Fragment null when it did not parse).</summary>
public sealed record HouseRuleContext(RepositoryLayout Layout, IReadOnlyList<ParsedScript> Scripts)
{
    /// <summary>
    /// True when <see cref="Scripts"/> are scenario procedures checked by <see cref="ScenarioRules"/>: the procedure rules
    /// then see them as <see cref="DatabaseObjects"/>, and there are no migrations.
    /// </summary>
    public bool ScenarioScope { get; init; }

    public IEnumerable<ParsedScript> Migrations => ScenarioScope
        ? []
        : Scripts.Where(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal));

    public IEnumerable<ParsedScript> DatabaseObjects => ScenarioScope
        ? Scripts
        : Scripts.Where(s => s.File.RelativePath.StartsWith("database/", StringComparison.Ordinal));

    /// <summary>database/&lt;schema&gt;/Procedures/… files that parsed.</summary>
    public IEnumerable<(ParsedScript Script, TSqlFragment Fragment)> Procedures =>
        DatabaseObjects.Where(s => HouseRuleSet.KindOf(s.File.RelativePath) == "Procedures" && s.Fragment is not null)
            .Select(s => (s, s.Fragment!));
}

/// <summary>A house rule (DESIGN §7, STYLE.md): a stable id, and a check over the repository's scripts.</summary>
public interface IHouseRule
{
    /// <summary>Stable id, e.g. <c>DBM001</c>.</summary>
    string Id { get; }

    /// <summary>One line: what the rule requires.</summary>
    string Description { get; }

    IEnumerable<Finding> Check(HouseRuleContext context);
}

/// <summary>The house rules offline verification runs.</summary>
public static class HouseRuleSet
{
    /// <summary>Every house rule: the procedure rules (DBM001–DBM019), then the migration rules (DBM020–DBM029).</summary>
    public static IReadOnlyList<IHouseRule> All { get; } = [.. ProcedureRules.All, .. MigrationRules.All];

    public static IEnumerable<Finding> Check(RepositoryLayout layout, IReadOnlyList<ParsedScript> scripts)
    {
        var context = new HouseRuleContext(layout, scripts);
        return All.SelectMany(rule => rule.Check(context)).ToList();
    }

    /// <summary>The object-kind folder of a database/ path: <c>Procedures</c>, <c>Functions</c>, …, or <c>permissions</c>.</summary>
    public static string KindOf(string relativePath)
    {
        var parts = relativePath.Split('/');
        return parts.Length >= 4 ? parts[2] : parts.Length >= 2 ? parts[1] : string.Empty;
    }
}
