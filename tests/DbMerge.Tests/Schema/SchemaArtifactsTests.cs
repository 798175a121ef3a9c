using Xunit;
using DbMerge.Schema;
using DbMerge.Tests.Runner;
using Microsoft.SqlServer.Dac;
using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests.Schema;

/// <summary><c>dbmerge schema --dacpac / --script</c>: the offline model as artifacts DacFx and reviewers can use.</summary>
public sealed class SchemaArtifactsTests
{
    /// <summary>Every app table a migration creates, as <c>[app].[Name]</c>, read from the migrations with ScriptDom.</summary>
    private static SortedSet<string> AppTablesOfTheMigrations()
    {
        var tables = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var parsed in Repo.Layout.Migrations().Select(f => SqlText.Parse(f)))
        {
            Assert.NotNull(parsed.Fragment);
            var visitor = new CreateTables();
            parsed.Fragment.Accept(visitor);
            foreach (var name in visitor.Names.Where(n => string.Equals(n.SchemaIdentifier?.Value, "app", StringComparison.OrdinalIgnoreCase)))
            {
                tables.Add($"[app].[{name.BaseIdentifier.Value}]");
            }
        }

        return tables;
    }

    [Fact]
    public async Task Schema_dacpac_writes_a_package_DacFx_loads_that_holds_every_app_table()
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-dacpac-"), "DbMerge.dacpac");

        var result = await CliHarness.RunAsync(["schema", "--dacpac", path, "--repo", Repo.Layout.Root]);

        Assert.True(result.ExitCode == 0, result.Out + result.Error);
        using (var package = DacPackage.Load(path))
        {
            Assert.Equal("DbMerge", package.Name);
        }

        using var model = TSqlModel.LoadFromDacpac(path, new ModelLoadOptions(), TestContext.Current.CancellationToken);
        var tables = model.GetObjects(DacQueryScopes.UserDefined, Table.TypeClass)
            .Select(t => t.Name.ToString())
            .Where(n => n.StartsWith("[app].", StringComparison.OrdinalIgnoreCase))
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var expected = AppTablesOfTheMigrations();
        Assert.True(expected.Count >= 20, $"only {expected.Count} app tables found in migrations/");
        Assert.True(expected.All(tables.Contains), "missing from the dacpac: " + string.Join(", ", expected.Where(t => !tables.Contains(t))));
        Assert.Contains(model.GetObjects(DacQueryScopes.UserDefined, Procedure.TypeClass), p => p.Name.ToString() == "[api].[User_Merge]");
    }

    [Fact]
    public async Task Schema_script_writes_a_create_script_that_parses_and_creates_every_app_table()
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-script-"), "create.sql");

        var result = await CliHarness.RunAsync(["schema", "--script", path, "--repo", Repo.Layout.Root]);

        Assert.True(result.ExitCode == 0, result.Out + result.Error);
        var text = File.ReadAllText(path);
        foreach (var table in AppTablesOfTheMigrations())
        {
            Assert.Contains("CREATE TABLE " + table, text, StringComparison.OrdinalIgnoreCase);
        }

        // sqlcmd lines (:setvar, :on error) are not T-SQL: blank them, then the rest must parse.
        var tsql = string.Join('\n', text.ReplaceLineEndings("\n").Split('\n').Select(l => l.StartsWith(':') ? string.Empty : l));
        new TSql160Parser(initialQuotedIdentifiers: true).Parse(new StringReader(tsql.Replace("$(DatabaseName)", "DbMerge", StringComparison.Ordinal)
            .Replace("$(DefaultDataPath)", "/d/", StringComparison.Ordinal).Replace("$(DefaultFilePrefix)", "DbMerge", StringComparison.Ordinal)), out var errors);
        Assert.True(errors.Count == 0, string.Join('\n', errors.Select(e => $"{e.Line}: {e.Message}")));
    }

    [Theory]
    [InlineData]
    [InlineData("--dacpac", "a.dacpac", "--script", "a.sql")]
    public async Task Schema_needs_exactly_one_of_dacpac_or_script(params string[] options)
    {
        var result = await CliHarness.RunAsync(["schema", .. options, "--repo", Repo.Layout.Root]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("exactly one of --dacpac", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Schema_refuses_an_invalid_model_and_writes_nothing()
    {
        var copy = Repo.ScratchCopy();
        Plant.Replace(copy, "database/api/Procedures/api.User_Find.sql", "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-dacpac-"), "DbMerge.dacpac");

        var result = await CliHarness.RunAsync(["schema", "--dacpac", path, "--repo", copy.Root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("api.User_Find.sql", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
        Assert.False(File.Exists(path));
    }

    private sealed class CreateTables : TSqlFragmentVisitor
    {
        public List<SchemaObjectName> Names { get; } = [];

        public override void Visit(CreateTableStatement node) => Names.Add(node.SchemaObjectName);
    }
}
