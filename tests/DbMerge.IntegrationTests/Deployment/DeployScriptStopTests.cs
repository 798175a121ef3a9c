using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

/// <summary>
/// The deploy script refuses, and after the refusal no batch changes anything, in every client: sqlcmd without -b,
/// a client that ignores errors (sqlcmd with :on error ignore, or a batch-by-batch client in SQLCMD mode that does not
/// stop), and SSMS without SQLCMD mode. Each test starts from a half-migrated database, so an unguarded batch after the
/// refusal would visibly apply a pending migration.
/// </summary>
public sealed class DeployScriptStopTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const int HalfWay = 3;

    /// <summary>The deploy-lock wait of the scripts generated here (the real script waits 60 s).</summary>
    private const int ShortLockWaitMilliseconds = 2_000;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>How the script is run.</summary>
    public static TheoryData<string> Clients => new() { "sqlcmd without -b", "sqlcmd without -b, errors ignored", "SQLCMD-mode client, errors ignored" };

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task The_script_run_while_another_session_holds_the_deploy_lock_applies_nothing_and_leaves_the_journal_unchanged(string client)
    {
        // Given a half-migrated database and another deployment holding the deploy lock
        var database = await HalfMigratedAsync("stop_lock", Fixture.Layout);
        var before = await SnapshotAsync(database);
        await using var other = await DeploymentTestSupport.HoldDeployLockAsync(database, Cancel);

        // When the full script runs
        var run = await RunAsync(client, database, DeployScriptGenerator.Build(Fixture.Layout, null, null, ShortLockWaitMilliseconds).Text);

        // Then it refused with 51003 and changed nothing
        AssertStopped(client, run, DeployScriptGenerator.DeployLockTimeoutError);
        Assert.Equal(before, await SnapshotAsync(database));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task The_script_run_over_a_changed_migration_applies_nothing_and_leaves_the_journal_unchanged(string client)
    {
        // Given a half-migrated database whose second (applied) migration was edited afterwards
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        var database = await HalfMigratedAsync("stop_changed", layout);
        await File.AppendAllTextAsync(layout.Migrations()[1].FullPath, "\n-- edited after it was applied\n", Cancel);
        var before = await SnapshotAsync(database);

        // When the script generated from the edited copy runs
        var run = await RunAsync(client, database, DeployScriptGenerator.Build(layout).Text);

        // Then it refused with 51001 naming the migration, and changed nothing
        AssertStopped(client, run, DeployScriptGenerator.AppliedMigrationChangedError);
        Assert.Contains(layout.Migrations()[1].Name, run.Output, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(database));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task The_script_run_over_a_newer_database_applies_nothing_and_leaves_the_journal_unchanged(string client)
    {
        // Given a half-migrated database whose journal also holds a migration of a newer release
        var database = await HalfMigratedAsync("stop_newer", Fixture.Layout);
        await DeploymentTestSupport.AddJournalRowAsync(database, "9999_from_a_newer_release.sql", Cancel);
        var before = await SnapshotAsync(database);

        // When this release's script runs
        var run = await RunAsync(client, database, DeployScriptGenerator.Build(Fixture.Layout).Text);

        // Then it refused with 51006 naming the newer migration, and changed nothing
        AssertStopped(client, run, DeployScriptGenerator.DatabaseNewerError);
        Assert.Contains("9999_from_a_newer_release.sql", run.Output, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync(database));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task The_script_run_in_a_system_database_changes_nothing_there(string client)
    {
        // Given a connection whose database is tempdb (a system database: a forgotten -d lands in one like it)
        var tempdb = new SqlConnectionStringBuilder(Fixture.MasterConnectionString) { InitialCatalog = "tempdb" }.ConnectionString;
        Assert.False(await DeploymentTestSupport.TableExistsAsync(tempdb, "dbo.SchemaVersions", Cancel), "tempdb already has a journal");

        // When the script runs there
        var run = await RunAsync(client, tempdb, DeployScriptGenerator.Build(Fixture.Layout).Text);

        // Then it refused with 51005 and created neither the journal nor any schema
        AssertStopped(client, run, DeployScriptGenerator.SystemDatabaseError);
        Assert.False(await DeploymentTestSupport.TableExistsAsync(tempdb, "dbo.SchemaVersions", Cancel));
        Assert.Empty(await DeploymentTestSupport.LinesAsync(tempdb, "SELECT name FROM sys.schemas WHERE name IN (N'app', N'dbmerge', N'api');", Cancel));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_journal_check_ended_by_an_error_it_does_not_throw_itself_stops_the_script_and_applies_nothing(string client)
    {
        // Given a half-migrated database whose second (applied) migration's journal checksum differs from the file (so the
        // script must refuse with 51001), and a deploying user (db_owner) who may not read the journal's Checksum column:
        // the changed-migration check itself fails with 230 instead of refusing
        var database = await HalfMigratedAsync("stop_checkfails", Fixture.Layout);
        await ExecuteAsync(database,
            $"UPDATE dbo.SchemaVersions SET Checksum = '{new string('f', 64)}' WHERE ScriptName = N'{Fixture.Layout.Migrations()[1].Name}'; " +
            "CREATE USER DbMergeDeployTester WITHOUT LOGIN; ALTER ROLE db_owner ADD MEMBER DbMergeDeployTester; " +
            "DENY SELECT ON dbo.SchemaVersions (Checksum) TO DbMergeDeployTester;");
        var before = await SnapshotAsync(database);

        // When the script runs as that user
        var run = await RunAsync(client, database,
            "EXECUTE AS USER = N'DbMergeDeployTester';\nGO\n" + DeployScriptGenerator.Build(Fixture.Layout).Text);

        // Then the check's own error (230) stopped it: no migration ran, the journal and the schema are as they were
        Assert.Contains(230, run.Errors);
        Assert.DoesNotContain("DbMerge deploy: applying", run.Output, StringComparison.Ordinal);
        if (client.EndsWith("errors ignored", StringComparison.Ordinal))
        {
            Assert.Equal(DeployScriptGenerator.StoppedError, run.Errors[^1]);
            Assert.Contains("the journal checks (51006, 51001) did not complete", run.Output, StringComparison.Ordinal);
        }
        else
        {
            Assert.NotEqual(0, run.ExitCode);
        }

        Assert.Equal(before, await SnapshotAsync(database));
    }

    [Theory]
    [MemberData(nameof(Clients))]
    public async Task A_journal_whose_ScriptName_has_another_collation_than_the_database_is_checked_and_deployed(string client)
    {
        // Given a half-migrated database whose journal columns have a collation other than the database's (a journal
        // created before the database collation was changed: both its text columns keep the old one)
        var database = await HalfMigratedAsync("collation_journal", Fixture.Layout);
        await ExecuteAsync(database,
            "DECLARE @Other sysname = CASE WHEN CONVERT(sysname, DATABASEPROPERTYEX(DB_NAME(), 'Collation')) = N'Latin1_General_BIN2' THEN N'Latin1_General_CI_AS' ELSE N'Latin1_General_BIN2' END; " +
            "DECLARE @Sql nvarchar(max) = N'ALTER TABLE dbo.SchemaVersions ALTER COLUMN ScriptName nvarchar(255) COLLATE ' + @Other + N' NOT NULL; " +
            "ALTER TABLE dbo.SchemaVersions ALTER COLUMN Checksum char(64) COLLATE ' + @Other + N' NULL;'; " +
            "EXEC sys.sp_executesql @Sql;");
        Assert.Equal(["0"], await DeploymentTestSupport.LinesAsync(database,
            "SELECT CONVERT(nvarchar(10), COUNT(*)) FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.SchemaVersions') AND collation_name = CONVERT(sysname, DATABASEPROPERTYEX(DB_NAME(), 'Collation'));", Cancel));

        // When the script runs
        var run = await RunAsync(client, database, DeployScriptGenerator.Build(Fixture.Layout).Text);

        // Then it compared the journal without a collation conflict (468) and deployed the rest
        Assert.Empty(run.Errors);
        if (run.ExitCode is { } exitCode)
        {
            Assert.Equal(0, exitCode);
        }

        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), await DeploymentTestSupport.JournalAsync(database, Cancel));
    }

    [Fact]
    public async Task Opened_without_SQLCMD_mode_the_script_says_so_and_changes_nothing()
    {
        // Given an empty database
        var database = await Fixture.CreateScratchDatabaseAsync("stop_nosqlcmd", Cancel);

        // When the script runs as SSMS sends it with SQLCMD Mode off: every batch as written, on through errors
        var run = await DeploymentTestSupport.RunLikeSsmsAsync(database, DeployScriptGenerator.Build(Fixture.Layout).Text, sqlcmdMode: false, Cancel);
        Output.WriteLine(run.Output);

        // Then it said it needs SQLCMD mode (51004), reported the stop at the end (51007), and created nothing
        Assert.Contains(DeployScriptGenerator.NotSqlcmdModeError, run.Errors);
        Assert.Equal(DeployScriptGenerator.StoppedError, run.Errors[^1]);
        Assert.Contains("SQLCMD mode", run.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("DbMerge deploy: applying", run.Output, StringComparison.Ordinal);
        Assert.False(await DeploymentTestSupport.TableExistsAsync(database, "dbo.SchemaVersions", Cancel));
        Assert.Empty(await DeploymentTestSupport.SchemaAsync(database, Cancel));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_in_a_session_with_an_open_transaction_the_script_refuses_with_51008_and_leaves_that_transaction_and_its_work_as_they_were(bool sqlcmdMode)
    {
        // Given a query window with work of its own in an open transaction (and, without SQLCMD mode, a script that
        // would also fail its SQLCMD-mode guard)
        var database = await Fixture.CreateScratchDatabaseAsync("stop_opentran", Cancel);
        await ExecuteAsync(database, "CREATE TABLE dbo.CallerWork (Id int NOT NULL);");
        await using var window = new SqlConnection(database);
        await window.OpenAsync(Cancel);
        await using (var begin = new SqlCommand("BEGIN TRANSACTION; INSERT INTO dbo.CallerWork (Id) VALUES (1);", window))
        {
            await begin.ExecuteNonQueryAsync(Cancel);
        }

        // When the script runs in that window, on through errors
        var run = await DeploymentTestSupport.RunLikeSsmsAsync(window, DeployScriptGenerator.Build(Fixture.Layout).Text, sqlcmdMode, Cancel);
        Output.WriteLine(run.Output);

        // Then it refused with 51008 first, reported the stop, created nothing, and the caller's transaction is still
        // open with its uncommitted row (neither the refusal's THROW nor the end batch rolled it back)
        Assert.Equal(DeployScriptGenerator.OpenTransactionError, run.Errors.First(e => e >= 51000));
        Assert.Equal(DeployScriptGenerator.StoppedError, run.Errors[^1]);
        await using (var check = new SqlCommand("SELECT CONCAT(@@TRANCOUNT, N' ', (SELECT COUNT(*) FROM dbo.CallerWork));", window))
        {
            Assert.Equal("1 1", await check.ExecuteScalarAsync(Cancel));
        }

        await using (var rollback = new SqlCommand("ROLLBACK TRANSACTION;", window))
        {
            await rollback.ExecuteNonQueryAsync(Cancel);
        }

        Assert.False(await DeploymentTestSupport.TableExistsAsync(database, "dbo.SchemaVersions", Cancel));
        Assert.Empty(await DeploymentTestSupport.SchemaAsync(database, Cancel));
    }

    [Fact]
    public async Task After_a_stop_the_same_session_is_usable_and_a_second_run_in_it_deploys()
    {
        // Given a session (like an SSMS window) in which the script stopped on a held deploy lock
        var database = await HalfMigratedAsync("stop_rerun", Fixture.Layout);
        var script = DeployScriptGenerator.Build(Fixture.Layout, null, null, ShortLockWaitMilliseconds).Text;
        await using var window = new SqlConnection(database);
        await window.OpenAsync(Cancel);
        var other = await DeploymentTestSupport.HoldDeployLockAsync(database, Cancel);
        var first = await DeploymentTestSupport.RunLikeSsmsAsync(window, script, sqlcmdMode: true, Cancel);
        Assert.Contains(DeployScriptGenerator.DeployLockTimeoutError, first.Errors);
        await other.DisposeAsync();

        // When it runs again in that session once the lock is free (the end batch switched NOEXEC off and cleared the stop)
        var second = await DeploymentTestSupport.RunLikeSsmsAsync(window, script, sqlcmdMode: true, Cancel);
        Output.WriteLine(second.Output);

        // Then it deployed everything, and the session holds no deploy lock and runs statements again
        Assert.Empty(second.Errors);
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), await DeploymentTestSupport.JournalAsync(database, Cancel));
        await using var check = new SqlCommand("SELECT APPLOCK_MODE(N'public', N'DbMerge.Deploy', N'Session');", window);
        Assert.Equal("NoLock", await check.ExecuteScalarAsync(Cancel));
    }

    [Fact]
    public async Task The_runner_and_the_script_deploying_at_once_apply_each_migration_exactly_once()
    {
        // Given an empty database
        var database = await Fixture.CreateScratchDatabaseAsync("race_script_runner", Cancel);
        var script = DeploymentTestSupport.WriteScript(DeployScriptGenerator.Generate(Fixture.Layout));

        // When the runner and the script start at the same moment
        var runner = Task.Run(() => new Migrator(new MigratorOptions { Layout = Fixture.Layout, Log = l => Output.WriteLine($"[migrator] {l}") })
            .MigrateAsync(database, Cancel), Cancel);
        var sqlcmd = Task.Run(() => Fixture.SqlcmdAsync(database, script, Cancel, stopOnError: false), Cancel);
        await Task.WhenAll(runner, sqlcmd);
        var scripted = await sqlcmd;
        Output.WriteLine(scripted.Output);

        // Then both finished, one of them applied every migration (the other waited for the lock and found none left)
        Assert.Equal(0, scripted.ExitCode);
        var perScript = await DeploymentTestSupport.LinesAsync(database,
            "SELECT ScriptName + N' ' + CONVERT(nvarchar(10), COUNT(*)) FROM dbo.SchemaVersions GROUP BY ScriptName ORDER BY ScriptName;", Cancel);
        Assert.Equal(Fixture.Layout.Migrations().Select(m => m.Name + " 1").Order(StringComparer.Ordinal), perScript);
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout), await DeploymentTestSupport.JournalAsync(database, Cancel));
        var scriptApplied = Fixture.Layout.Migrations().Count(m => scripted.Output.Contains($"DbMerge deploy: applied {m.Name}", StringComparison.Ordinal));
        Assert.True((await runner).AppliedMigrations.Count + scriptApplied == Fixture.Layout.Migrations().Count);
    }

    // ---- helpers ------------------------------------------------------------------------------------------

    private async Task<string> HalfMigratedAsync(string prefix, RepositoryLayout layout)
    {
        var database = await Fixture.CreateScratchDatabaseAsync(prefix, Cancel);
        await new Migrator(new MigratorOptions { Layout = layout, StopAfterMigration = layout.Migrations()[HalfWay - 1].Name }).MigrateAsync(database, Cancel);
        Assert.Equal(HalfWay, (await DeploymentTestSupport.JournalAsync(database, Cancel)).Count);
        return database;
    }

    private static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new SqlConnection(database);
        await connection.OpenAsync(Cancel);
        await using var command = new SqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Cancel);
    }

    /// <summary>The journal and the schema listing: what a refused run must leave exactly as it was.</summary>
    private static async Task<string> SnapshotAsync(string database) =>
        string.Join("\n", await DeploymentTestSupport.JournalAsync(database, Cancel)) + "\n--\n" +
        string.Join("\n", await DeploymentTestSupport.SchemaAsync(database, Cancel));

    private async Task<BatchRun> RunAsync(string client, string database, string scriptText)
    {
        BatchRun run;
        switch (client)
        {
            case "sqlcmd without -b":
            case "sqlcmd without -b, errors ignored":
                var text = client.EndsWith("errors ignored", StringComparison.Ordinal) ? DeploymentTestSupport.IgnoringErrors(scriptText) : scriptText;
                var result = await Fixture.SqlcmdAsync(database, DeploymentTestSupport.WriteScript(text), Cancel, stopOnError: false);
                run = new BatchRun(NumbersIn(result.Output), result.Output, result.ExitCode);
                break;
            case "SQLCMD-mode client, errors ignored":
                run = await DeploymentTestSupport.RunLikeSsmsAsync(database, scriptText, sqlcmdMode: true, Cancel);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(client), client, null);
        }

        Output.WriteLine($"-- {client}\n{run.Output}");
        return run;
    }

    /// <summary>The DbMerge error numbers sqlcmd printed ("Msg 51003, Level 16, …"), in order.</summary>
    private static List<int> NumbersIn(string sqlcmdOutput) =>
        System.Text.RegularExpressions.Regex.Matches(sqlcmdOutput, @"Msg (?<number>\d+), Level")
            .Select(m => int.Parse(m.Groups["number"].Value, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();

    private static void AssertStopped(string client, BatchRun run, int refusal)
    {
        Assert.Contains(refusal, run.Errors);
        Assert.DoesNotContain("DbMerge deploy: applying", run.Output, StringComparison.Ordinal);
        if (client.EndsWith("errors ignored", StringComparison.Ordinal))
        {
            // Every batch after the refusal ran, guarded: the end batch reports the stop and names the refusal.
            Assert.Equal(DeployScriptGenerator.StoppedError, run.Errors[^1]);
            Assert.Contains($"error {refusal}", run.Output, StringComparison.Ordinal);
        }
        else
        {
            // sqlcmd stops at the refusal by itself (:on error exit in the script), even without -b, and says so in its exit code.
            Assert.DoesNotContain(DeployScriptGenerator.StoppedError, run.Errors);
            Assert.NotEqual(0, run.ExitCode);
        }
    }
}
