using System.Reflection;
using DbMerge.Schema;

namespace DbMerge.Scenarios;

/// <summary>One scenario procedure as embedded in this assembly: <c>scenario.&lt;Name&gt;</c> and its file's text.</summary>
/// <param name="Name">The procedure's own name, without the schema: <c>DemoMerge</c>.</param>
/// <param name="Text">The text of <c>Sql/scenario.&lt;Name&gt;.sql</c> (SET lines, GO, CREATE OR ALTER PROCEDURE).</param>
public sealed record ScenarioScript(string Name, string Text)
{
    /// <summary><c>scenario.DemoMerge</c>: what EXEC calls.</summary>
    public string ProcedureName => $"{ScenarioScripts.Schema}.{Name}";

    /// <summary>The repository-relative path of the file it was embedded from (where offline findings point).</summary>
    public string RelativePath => $"{ScenarioScripts.Folder}/{ProcedureName}.sql";
}

/// <summary>
/// The scenario procedures embedded in DbMerge.Scenarios (<c>Sql/scenario.*.sql</c>, one procedure per file). Adding a
/// scenario is adding one file there: it is embedded by the wildcard in the project file, validated offline by
/// <c>dbmerge validate</c> against the model, and deployed by <see cref="ScratchDatabase"/> into every scratch database.
/// </summary>
public static class ScenarioCatalog
{
    private const string ResourcePrefix = "DbMerge.Scenarios.Sql.scenario.";

    private static readonly Lazy<IReadOnlyList<ScenarioScript>> Embedded = new(Load);

    /// <summary>Every embedded scenario, ordered by name.</summary>
    public static IReadOnlyList<ScenarioScript> All => Embedded.Value;

    /// <summary>The scenario named <paramref name="name"/> (<c>DemoMerge</c> or <c>scenario.DemoMerge</c>).</summary>
    /// <exception cref="ArgumentException">No embedded scenario has that name (the message lists them).</exception>
    public static ScenarioScript Get(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var bare = name.StartsWith(ScenarioScripts.Schema + ".", StringComparison.OrdinalIgnoreCase) ? name[(ScenarioScripts.Schema.Length + 1)..] : name;
        return All.FirstOrDefault(s => string.Equals(s.Name, bare, StringComparison.Ordinal))
               ?? throw new ArgumentException(
                   $"No scenario '{name}' is embedded in DbMerge.Scenarios (known: {string.Join(", ", All.Select(s => s.Name))}); " +
                   $"add {ScenarioScripts.Folder}/scenario.{bare}.sql.", nameof(name));
    }

    private static IReadOnlyList<ScenarioScript> Load()
    {
        var assembly = typeof(ScenarioCatalog).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => new ScenarioScript(n[ResourcePrefix.Length..^".sql".Length], Read(assembly, n)))
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
                           ?? throw new InvalidOperationException($"Embedded resource {resource} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
