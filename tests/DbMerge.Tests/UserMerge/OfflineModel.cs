using System.Text.RegularExpressions;
using DbMerge.Schema;
using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// A small stand-in for the schema work's SchemaVerifier: parses every script and builds a DacFx model from the
/// migrations' DDL batches (DML batches are skipped, as the replay does), enough for the model rules.
/// </summary>
internal static partial class OfflineModel
{
    public static ModelRuleContext Build(RepositoryLayout layout)
    {
        // DacFx loads collation cultures by LCID, which globalization-invariant mode forbids. The schema work sets
        // InvariantGlobalization=false in Directory.Build.props; until that lands these tests cannot run here.
        Xunit.Assert.SkipWhen(
            AppContext.TryGetSwitch("System.Globalization.Invariant", out var invariant) && invariant,
            "DacFx needs culture data: build with InvariantGlobalization=false (dotnet test -p:InvariantGlobalization=false).");
        var scripts = layout.AllScripts().Select(Parse).ToList();
        var model = new TSqlModel(SqlServerVersion.Sql150, new TSqlModelOptions());
        foreach (var migration in layout.Migrations())
        {
            foreach (var batch in Batches(migration.Text))
            {
                var first = FirstKeyword(batch);
                if (first is "CREATE" or "ALTER")
                {
                    model.AddObjects(batch);
                }
            }
        }

        return new ModelRuleContext(layout, model, scripts);
    }

    public static ParsedScript Parse(SqlScriptFile file)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(file.Text);
        var fragment = parser.Parse(reader, out var errors);
        return new ParsedScript(file, errors.Count == 0 ? fragment : null);
    }

    private static IEnumerable<string> Batches(string text) =>
        GoLine().Split(text).Where(b => !string.IsNullOrWhiteSpace(b));

    private static string FirstKeyword(string batch)
    {
        var withoutComments = BlockComment().Replace(batch, " ");
        withoutComments = LineComment().Replace(withoutComments, " ");
        var match = Word().Match(withoutComments);
        return match.Success ? match.Value.ToUpperInvariant() : string.Empty;
    }

    [GeneratedRegex(@"^\s*GO\s*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex GoLine();

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"--[^\n]*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"[A-Za-z]+")]
    private static partial Regex Word();
}
