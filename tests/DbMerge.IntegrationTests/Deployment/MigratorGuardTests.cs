using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

/// <summary>
/// <c>dbmerge migrate</c> (the Migrator): refuses before touching anything, shows what the scripts print, stops between
/// scripts when cancelled, and never queues callers behind a busy procedure for longer than its object lock timeout.
/// </summary>
public sealed class MigratorGuardTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private Migrator MigratorFor(RepositoryLayout layout, List<string>? log = null, Action<ScriptMessage>? printed = null, string? stopAfter = null,
        TimeSpan? deployLockTimeout = null) => new(new MigratorOptions
    {
        Layout = layout,
        StopAfterMigration = stopAfter,
        DeploymentLockTimeout = deployLockTimeout ?? TimeSpan.FromSeconds(60),
        RetryBaseDelay = TimeSpan.FromMilliseconds(200),
        ReportTimings = true,
        ScriptOutput = printed,
        Log = line =>
        {
            lock (Output)
            {
                Output.WriteLine($"[migrator] {line}");
            }

            if (log is not null)
            {
                lock (log)
                {
                    log.Add(line);
                }
            }
        },
    });

    [Fact]
    public async Task Migrate_refuses_a_database_whose_journal_holds_migrations_this_release_lacks_and_applies_nothing()
    {
        // Given a half-migrated database whose journal also holds a migration of a newer release
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_newer", Cancel);
        await MigratorFor(Fixture.Layout, stopAfter: Fixture.Layout.Migrations()[2].Name).MigrateAsync(database, Cancel);
        await DeploymentTestSupport.AddJournalRowAsync(database, "9999_from_a_newer_release.sql", Cancel);
        var journal = await DeploymentTestSupport.JournalAsync(database, Cancel);
        var schema = await DeploymentTestSupport.SchemaAsync(database, Cancel);

        // When this release migrates it
        var refused = await Assert.ThrowsAsync<DatabaseNewerException>(() => MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel));

        // Then it is refused naming the migration, nothing changed, and status says the database is newer
        Output.WriteLine(refused.Message);
        Assert.Equal(["9999_from_a_newer_release.sql"], refused.ScriptNames);
        Assert.Equal(journal, await DeploymentTestSupport.JournalAsync(database, Cancel));
        Assert.Equal(schema, await DeploymentTestSupport.SchemaAsync(database, Cancel));
        var status = await MigratorFor(Fixture.Layout).GetStatusAsync(database, Cancel);
        Assert.True(status.IsNewerThanRepository);
        Assert.Equal(["9999_from_a_newer_release.sql"], status.AppliedNotInRepository);
    }

    [Fact]
    public async Task Migrate_refuses_a_system_database_before_taking_the_lock_or_creating_the_journal()
    {
        // Given a connection string whose database is tempdb (as one without Database= lands in the default database)
        var tempdb = new SqlConnectionStringBuilder(Fixture.MasterConnectionString) { InitialCatalog = "tempdb" }.ConnectionString;
        // (tempdb is the server's: a journal left there by anything else would fail the assertion below for the wrong reason)
        Assert.False(await DeploymentTestSupport.TableExistsAsync(tempdb, "dbo.SchemaVersions", Cancel), "tempdb already has a journal");

        // When it is migrated
        var refused = await Assert.ThrowsAsync<SystemDatabaseException>(() => MigratorFor(Fixture.Layout).MigrateAsync(tempdb, Cancel));

        // Then nothing was created there
        Assert.Equal("tempdb", refused.Database);
        Assert.False(await DeploymentTestSupport.TableExistsAsync(tempdb, "dbo.SchemaVersions", Cancel));
        await Assert.ThrowsAsync<SystemDatabaseException>(() => MigratorFor(Fixture.Layout).GetStatusAsync(tempdb, Cancel));
    }

    [Fact]
    public async Task Migrate_while_another_deployment_holds_the_lock_gives_up_after_the_wait_and_applies_nothing()
    {
        // Given a half-migrated database and another deployment holding the deploy lock
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_locked", Cancel);
        await MigratorFor(Fixture.Layout, stopAfter: Fixture.Layout.Migrations()[2].Name).MigrateAsync(database, Cancel);
        var journal = await DeploymentTestSupport.JournalAsync(database, Cancel);
        await using var other = await DeploymentTestSupport.HoldDeployLockAsync(database, Cancel);

        // When the runner migrates with a 2 s wait
        await Assert.ThrowsAsync<DeploymentLockTimeoutException>(() =>
            MigratorFor(Fixture.Layout, deployLockTimeout: TimeSpan.FromSeconds(2)).MigrateAsync(database, Cancel));

        // Then nothing was applied
        Assert.Equal(journal, await DeploymentTestSupport.JournalAsync(database, Cancel));
    }

    [Fact]
    public async Task What_the_scripts_print_reaches_the_caller_with_the_script_that_printed_it()
    {
        // Given a migrated database and one more migration that prints and raises a progress message
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_print", Cancel);
        await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        const string migration = "9999_alter_app_User_print.sql";
        await File.WriteAllTextAsync(Path.Combine(layout.MigrationsDirectory, migration),
            "/*\n  9999_alter_app_User_print\n  Why:   test of script output.\n  Locks: none.\n*/\n" +
            "PRINT N'planted print';\nRAISERROR(N'planted progress %d', 10, 1, 42) WITH NOWAIT;\nGO\n", Cancel);
        var printed = new List<ScriptMessage>();

        // When it is migrated
        await MigratorFor(layout, printed: m => { lock (printed) { printed.Add(m); } }).MigrateAsync(database, Cancel);

        // Then both messages arrived, attributed to that migration, and no login message did
        Assert.Contains(new ScriptMessage(migration, "planted print"), printed);
        Assert.Contains(new ScriptMessage(migration, "planted progress 42"), printed);
        Assert.DoesNotContain(printed, m => m.Message.StartsWith("Changed database context", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_offline_index_warning_of_0034_reaches_the_caller_on_an_edition_without_online_index_operations()
    {
        var edition = await ScalarAsync<int>("SELECT CAST(SERVERPROPERTY('EngineEdition') AS int);");
        Assert.SkipWhen(edition is 3 or 5 or 8, $"EngineEdition {edition} builds the index ONLINE: 0034/0035 print no warning on this server.");

        // Given an empty database, when it is migrated
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_warning", Cancel);
        var printed = new List<ScriptMessage>();
        await MigratorFor(Fixture.Layout, printed: m => { lock (printed) { printed.Add(m); } }).MigrateAsync(database, Cancel);

        // Then the warning of 0034 arrived, attributed to it
        Assert.Contains(printed, m => m.Script == "0034_create_IX_app_Invitation_ChannelId.sql" && m.Message.StartsWith("warning: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cancelling_migrate_stops_after_the_running_script_says_where_and_a_second_run_continues_there()
    {
        // Given an empty database and a run that is cancelled once the third migration is applied
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_cancel", Cancel);
        var third = Fixture.Layout.Migrations()[2].Name;
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        var log = new List<string>();
        var migrator = new Migrator(new MigratorOptions
        {
            Layout = Fixture.Layout,
            Log = line =>
            {
                Output.WriteLine($"[migrator] {line}");
                log.Add(line);
                if (line == $"applied {third}")
                {
                    cancellation.Cancel();
                }
            },
        });

        // When it runs
        var stopped = await Assert.ThrowsAsync<MigrationCancelledException>(() => migrator.MigrateAsync(database, cancellation.Token));

        // Then exactly the first three are applied, the exception says where it stopped, and a new run completes the rest
        Output.WriteLine(stopped.Message);
        Assert.Equal(third, stopped.LastCompleted);
        Assert.Equal(Fixture.Layout.Migrations()[3].Name, stopped.StoppedBefore);
        Assert.Equal(DeploymentTestSupport.ExpectedJournal(Fixture.Layout, 3), await DeploymentTestSupport.JournalAsync(database, Cancel));
        var rest = await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);
        Assert.Equal(Fixture.Layout.Migrations().Skip(3).Select(m => m.Name), rest.AppliedMigrations);
    }

    [Fact]
    public async Task A_busy_procedure_is_recreated_after_bounded_lock_waits_with_the_retries_reported_and_no_object_run_twice()
    {
        // Given a migrated database and another session holding a schema-modification lock on api.User_Find
        var database = await Fixture.CreateScratchDatabaseAsync("migrate_busy", Cancel);
        await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);
        const string busy = "database/api/Procedures/api.User_Find.sql";
        var definition = Fixture.Layout.DatabaseObjects().Single(o => o.RelativePath == busy).Text;
        var createOrAlter = definition[definition.IndexOf("/*", StringComparison.Ordinal)..].Split("\nGO", StringSplitOptions.None)[0];
        await using var blocker = new SqlConnection(database);
        await blocker.OpenAsync(Cancel);
        var transaction = (SqlTransaction)await blocker.BeginTransactionAsync(Cancel);
        await using (var hold = new SqlCommand(createOrAlter, blocker, transaction))
        {
            await hold.ExecuteNonQueryAsync(Cancel);
        }

        // When migrate runs (1 s object lock timeout), and the lock is released after the first retry is announced
        var log = new List<string>();
        var firstRetry = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var migrator = new Migrator(new MigratorOptions
        {
            Layout = Fixture.Layout,
            DatabaseObjectLockTimeout = TimeSpan.FromSeconds(1),
            RetryBaseDelay = TimeSpan.FromMilliseconds(200),
            Log = line =>
            {
                Output.WriteLine($"[migrator] {line}");
                lock (log)
                {
                    log.Add(line);
                }

                if (line.StartsWith($"{busy} waited 1000 ms for its schema lock", StringComparison.Ordinal))
                {
                    firstRetry.TrySetResult();
                }
            },
        });
        var migrating = migrator.MigrateAsync(database, Cancel);
        await firstRetry.Task.WaitAsync(TimeSpan.FromSeconds(60), Cancel);
        await transaction.RollbackAsync(Cancel);
        var result = await migrating;

        // Then it was retried, every database/ script ran exactly once in the end, and the retry was counted
        Assert.True(result.LockTimeoutRetries >= 1);
        Assert.Equal(Fixture.Layout.DatabaseObjects().Select(o => o.RelativePath), result.DatabaseObjectsRun);
        Assert.NotEmpty(result.DatabaseObjectsRun);
        Assert.All(Fixture.Layout.DatabaseObjects(), o => Assert.Single(log, l => l == $"ran {o.RelativePath}" || l.StartsWith($"ran {o.RelativePath} (", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_deploy_script_recreates_a_busy_procedure_after_bounded_lock_waits_and_reports_the_retry()
    {
        // Given a migrated database and another session holding a schema-modification lock on api.User_Find
        var database = await Fixture.CreateScratchDatabaseAsync("script_busy", Cancel);
        await MigratorFor(Fixture.Layout).MigrateAsync(database, Cancel);
        const string busy = "database/api/Procedures/api.User_Find.sql";
        var definition = Fixture.Layout.DatabaseObjects().Single(o => o.RelativePath == busy).Text;
        var createOrAlter = definition[definition.IndexOf("/*", StringComparison.Ordinal)..].Split("\nGO", StringSplitOptions.None)[0];
        await using var blocker = new SqlConnection(database);
        await blocker.OpenAsync(Cancel);
        var transaction = (SqlTransaction)await blocker.BeginTransactionAsync(Cancel);
        await using (var hold = new SqlCommand(createOrAlter, blocker, transaction))
        {
            await hold.ExecuteNonQueryAsync(Cancel);
        }

        // When the script runs, and the lock is released once the script's session is seen in its retry delay (WAITFOR)
        var script = DeploymentTestSupport.WriteScript(DeployScriptGenerator.Generate(Fixture.Layout));
        var running = Fixture.SqlcmdAsync(database, script, Cancel);
        var databaseName = new SqlConnectionStringBuilder(database).InitialCatalog;
        await using var monitor = new SqlConnection(Fixture.MasterConnectionString);
        await monitor.OpenAsync(Cancel);
        var waited = false;
        for (var attempt = 0; attempt < 600 && !waited && !running.IsCompleted; attempt++)
        {
            // Polls sys.dm_exec_requests for the state waited for (the retry delay); the delay only paces the polling.
            await using var poll = new SqlCommand(
                "SELECT COUNT(*) FROM sys.dm_exec_requests AS r WHERE r.database_id = DB_ID(@Database) AND r.wait_type = N'WAITFOR';", monitor);
            poll.Parameters.AddWithValue("@Database", databaseName);
            waited = (int)(await poll.ExecuteScalarAsync(Cancel))! > 0;
            if (!waited)
            {
                await Task.Delay(100, Cancel);
            }
        }

        await transaction.RollbackAsync(Cancel);
        var result = await running;
        Output.WriteLine(result.Output);

        // Then the script reported the retry and completed
        Assert.True(waited, "the script's session was never seen in its retry delay");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"DbMerge deploy: {busy} waited 3000 ms for its schema lock (1222); retry 1/5", result.Output, StringComparison.Ordinal);
    }
}
