using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

/// <summary>The DBA deploy script, run through sqlcmd -b, must leave exactly what 'dbmerge migrate' leaves.</summary>
public sealed class DeployScriptTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const int HalfWay = 3;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_deploy_script_run_twice_on_an_empty_database_leaves_the_same_schema_and_journal_as_migrate()
    {
        // Given a database deployed by the runner, and an empty one
        var expected = await MigratedReferenceAsync();
        var database = await Fixture.CreateScratchDatabaseAsync("script_empty", Cancel);
        var script = WriteScript(DeployScriptGenerator.Generate(Fixture.Layout));

        // When the full deploy script runs on the empty one, twice
        await RunSqlcmdAsync(database, script);
        await RunSqlcmdAsync(database, script);

        // Then schema and journal equal the runner's
        await AssertSameDeploymentAsync(expected, database);
    }

    [Fact]
    public async Task The_full_deploy_script_run_twice_on_a_half_migrated_database_applies_exactly_the_missing_migrations()
    {
        // Given a database the runner migrated up to the third migration only
        var expected = await MigratedReferenceAsync();
        var database = await HalfMigratedAsync("script_half_full");

        // When the full (guarded) deploy script runs on it, twice
        var script = WriteScript(DeployScriptGenerator.Generate(Fixture.Layout));
        var first = await RunSqlcmdAsync(database, script);
        await RunSqlcmdAsync(database, script);

        // Then only the missing migrations were applied, and schema and journal equal the runner's
        foreach (var migration in Fixture.Layout.Migrations())
        {
            var applied = first.Output.Contains($"DbMerge deploy: applied {migration.Name}", StringComparison.Ordinal);
            Assert.Equal(Fixture.Layout.Migrations().ToList().IndexOf(migration) >= HalfWay, applied);
        }

        await AssertSameDeploymentAsync(expected, database);
    }

    [Fact]
    public async Task The_deploy_script_generated_from_a_half_migrated_databases_journal_completes_it()
    {
        // Given a half-migrated database and a script generated for it (applied migrations left out)
        var expected = await MigratedReferenceAsync();
        var database = await HalfMigratedAsync("script_half_target");
        var applied = (await DeploymentJournal.ReadAsync(database, Cancel)).Select(j => j.ScriptName).ToList();
        var script = WriteScript(DeployScriptGenerator.Generate(Fixture.Layout, applied));

        // When it runs twice
        await RunSqlcmdAsync(database, script);
        await RunSqlcmdAsync(database, script);

        // Then the database is complete and equals the runner's
        await AssertSameDeploymentAsync(expected, database);
    }

    [Fact]
    public async Task The_runner_finds_nothing_to_apply_after_the_deploy_script_and_the_script_nothing_after_the_runner()
    {
        // Given one database deployed by the script and one by the runner
        var scripted = await Fixture.CreateScratchDatabaseAsync("script_then_runner", Cancel);
        var script = WriteScript(DeployScriptGenerator.Generate(Fixture.Layout));
        await RunSqlcmdAsync(scripted, script);

        // When the runner migrates the scripted one, and the script runs on the runner's
        var result = await new Migrator(new MigratorOptions { Layout = Fixture.Layout }).MigrateAsync(scripted, Cancel);
        var runnerFirst = await MigratedReferenceAsync();
        var second = await RunSqlcmdAsync(runnerFirst, script);

        // Then neither applies a migration
        Assert.Empty(result.AppliedMigrations);
        Assert.DoesNotContain("DbMerge deploy: applied 0", second.Output, StringComparison.Ordinal);
        await AssertSameDeploymentAsync(runnerFirst, scripted);
    }

    [Fact]
    public async Task The_deploy_script_refuses_a_database_whose_applied_migration_changed()
    {
        // Given a database migrated from a copy of the repository, whose second migration is then edited
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        var database = await Fixture.CreateScratchDatabaseAsync("script_changed", Cancel);
        await new Migrator(new MigratorOptions { Layout = layout, StopAfterMigration = layout.Migrations()[2].Name }).MigrateAsync(database, Cancel);
        var changed = layout.Migrations()[1];
        await File.AppendAllTextAsync(changed.FullPath, "\n-- edited after it was applied\n", Cancel);
        var before = await DeploymentTestSupport.JournalAsync(database, Cancel);

        // When the deploy script generated from the edited copy runs
        var result = await Fixture.SqlcmdAsync(database, WriteScript(DeployScriptGenerator.Generate(layout)), Cancel);

        // Then it fails with 51001 naming the script, and applies nothing
        Output.WriteLine(result.Output);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("51001", result.Output, StringComparison.Ordinal);
        Assert.Contains(changed.Name, result.Output, StringComparison.Ordinal);
        Assert.Equal(before, await DeploymentTestSupport.JournalAsync(database, Cancel));
    }

    private async Task<string> MigratedReferenceAsync()
    {
        var database = await Fixture.CreateScratchDatabaseAsync("runner_reference", Cancel);
        await new Migrator(new MigratorOptions { Layout = Fixture.Layout }).MigrateAsync(database, Cancel);
        return database;
    }

    private async Task<string> HalfMigratedAsync(string prefix)
    {
        var database = await Fixture.CreateScratchDatabaseAsync(prefix, Cancel);
        var stopAfter = Fixture.Layout.Migrations()[HalfWay - 1].Name;
        await new Migrator(new MigratorOptions { Layout = Fixture.Layout, StopAfterMigration = stopAfter }).MigrateAsync(database, Cancel);
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout, HalfWay), await DeploymentTestSupport.JournalAsync(database, Cancel));
        return database;
    }

    private async Task<SqlcmdResult> RunSqlcmdAsync(string database, string scriptPath)
    {
        var result = await Fixture.SqlcmdAsync(database, scriptPath, Cancel);
        Output.WriteLine($"-- sqlcmd exit {result.ExitCode}\n{result.Output}");
        Assert.Equal(0, result.ExitCode);
        return result;
    }

    private async Task AssertSameDeploymentAsync(string expectedDatabase, string actualDatabase)
    {
        var expectedSchema = await DeploymentTestSupport.SchemaAsync(expectedDatabase, Cancel);
        var actualSchema = await DeploymentTestSupport.SchemaAsync(actualDatabase, Cancel);
        Output.WriteLine("-- only in the runner's database:\n" + string.Join("\n", expectedSchema.Except(actualSchema)));
        Output.WriteLine("-- only in the script's database:\n" + string.Join("\n", actualSchema.Except(expectedSchema)));
        Assert.NotEmpty(expectedSchema);
        Assert.Equal(expectedSchema, actualSchema);
        Assert.Equal(await DeploymentTestSupport.JournalAsync(expectedDatabase, Cancel), await DeploymentTestSupport.JournalAsync(actualDatabase, Cancel));
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), await DeploymentTestSupport.JournalAsync(actualDatabase, Cancel));
    }

    private static string WriteScript(string text)
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-deploy-"), "deploy.sql");
        File.WriteAllText(path, text);
        return path;
    }
}
