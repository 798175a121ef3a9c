using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

public sealed class MigratorTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private Migrator MigratorFor(Schema.RepositoryLayout layout, string? stopAfter = null) => new(new MigratorOptions
    {
        Layout = layout,
        StopAfterMigration = stopAfter,
        RetryBaseDelay = TimeSpan.FromMilliseconds(500),
        Log = line => Output.WriteLine($"[migrator] {line}"),
    });

    [Fact]
    public async Task Migrating_an_empty_database_applies_every_migration_and_journals_each_with_its_checksum()
    {
        // Given an empty database
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_empty", Cancel);

        // When it is migrated
        var result = await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);

        // Then every migration was applied once, in order, and every database/ script ran
        var journal = await DeploymentTestSupport.JournalAsync(database, Cancel);
        Dump("journal", journal.Select(l => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?> { ["line"] = l }));
        Assert.Equal(Fixture.Layout.Migrations().Select(m => m.Name), result.AppliedMigrations);
        Assert.Equal(Fixture.Layout.DatabaseObjects().Select(o => o.RelativePath), result.DatabaseObjectsRun);
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), journal);
        Assert.Equal(0, result.LockTimeoutRetries);
    }

    [Fact]
    public async Task Migrating_a_migrated_database_again_applies_nothing()
    {
        // Given a migrated database (a scratch one: the class database is left alone)
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_again", Cancel);
        await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);
        var before = await DeploymentTestSupport.JournalAsync(database, Cancel);

        // When it is migrated again
        var result = await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);

        // Then no migration ran, the journal is unchanged, and only the re-runnable scripts ran again
        Assert.Empty(result.AppliedMigrations);
        Assert.Equal(before, await DeploymentTestSupport.JournalAsync(database, Cancel));
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), before);
        Assert.Equal(Fixture.Layout.DatabaseObjects().Count, result.DatabaseObjectsRun.Count);
    }

    [Fact]
    public async Task The_class_database_copied_from_the_migrated_template_holds_every_migration_with_its_checksum()
    {
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), await DeploymentTestSupport.JournalAsync(ConnectionString, Cancel));
    }

    [Fact]
    public async Task Two_migrators_started_at_once_apply_each_migration_exactly_once()
    {
        // Given an empty database and two migrators
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_race", Cancel);

        // When both start at the same moment
        var results = await Task.WhenAll(
            Task.Run(() => MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel), Cancel),
            Task.Run(() => MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel), Cancel));

        // Then one applied everything, the other (having waited for the deploy lock) nothing
        var perScript = await DeploymentTestSupport.LinesAsync(database,
            "SELECT ScriptName + N' ' + CONVERT(nvarchar(10), COUNT(*)) FROM dbo.SchemaVersions GROUP BY ScriptName ORDER BY ScriptName;", Cancel);
        Output.WriteLine(string.Join("\n", perScript));
        Assert.All(perScript, line => Assert.EndsWith(" 1", line));
        Assert.Equal(Fixture.Layout.Migrations().Count, perScript.Count);
        Assert.Equal(Fixture.Layout.Migrations().Select(m => m.Name).Order(StringComparer.Ordinal),
            results.SelectMany(r => r.AppliedMigrations).Order(StringComparer.Ordinal));
        Assert.Contains(results, r => r.AppliedMigrations.Count == 0);
    }

    [Fact]
    public async Task A_database_whose_applied_migration_changed_is_refused_and_nothing_is_applied()
    {
        // Given a copy of the repository migrated up to its third migration
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        var migrations = layout.Migrations();
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_changed", Cancel);
        await MigratorFor(layout, stopAfter: migrations[2].Name).MigrateAsync(database, Cancel);
        var journalBefore = await DeploymentTestSupport.JournalAsync(database, Cancel);

        // When an applied migration is edited and the database is migrated again
        await File.AppendAllTextAsync(migrations[1].FullPath, "\n-- edited after it was applied\n", Cancel);
        var refused = await Assert.ThrowsAsync<DeploymentRefusedException>(() => MigratorFor(layout).MigrateAsync(database, Cancel));

        // Then the deployment is refused naming the edited script, and nothing else was applied
        Output.WriteLine(refused.Message);
        Assert.Equal([migrations[1].Name], refused.ScriptNames);
        Assert.Contains(migrations[1].Name, refused.Message);
        Assert.Equal(journalBefore, await DeploymentTestSupport.JournalAsync(database, Cancel));
        Assert.Equal(3, journalBefore.Count);
        Assert.Null(await ScalarOnAsync<int?>(database, "SELECT OBJECT_ID(N'app.Thread', N'U');"));

        // and status reports the same mismatch
        var status = await MigratorFor(layout).GetStatusAsync(database, Cancel);
        Assert.Equal(migrations[1].Name, Assert.Single(status.ChecksumMismatches).ScriptName);
        Assert.Equal(migrations.Skip(3).Select(m => m.Name), status.Pending);
    }

    [Fact]
    public async Task Status_of_the_class_database_is_up_to_date()
    {
        var status = await MigratorFor(Fixture.Layout).GetStatusAsync(ConnectionString, Cancel);

        Assert.True(status.IsUpToDate, string.Join(", ", status.Pending));
        Assert.Empty(status.ChecksumMismatches);
        Assert.All(status.Applied, a => Assert.True(a.ChecksumMatches));
        Assert.Equal(Fixture.Layout.Migrations().Count, status.Applied.Count);
    }

    private static async Task<T?> ScalarOnAsync<T>(string connectionString, string sql)
    {
        await using var connection = new Microsoft.Data.SqlClient.SqlConnection(connectionString);
        await connection.OpenAsync(Cancel);
        await using var command = new Microsoft.Data.SqlClient.SqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(Cancel);
        return value is null or DBNull ? default : (T)value;
    }
}
