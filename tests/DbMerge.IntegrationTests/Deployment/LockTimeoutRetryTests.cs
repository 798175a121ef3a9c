using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

public sealed class LockTimeoutRetryTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const string Migration = "9999_alter_app_User_test.sql";

    [Fact]
    public async Task A_migration_blocked_past_its_lock_timeout_is_retried_and_applied_once_the_lock_is_released()
    {
        var cancel = TestContext.Current.CancellationToken;

        // Given a migrated scratch database and a repository copy with one more migration under SET LOCK_TIMEOUT 1000
        var database = await Fixture.CreateScratchDatabaseAsync("lock_retry", cancel);
        await new Migrator(new MigratorOptions { Layout = Fixture.Layout }).MigrateAsync(database, cancel);
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        await File.WriteAllTextAsync(Path.Combine(layout.MigrationsDirectory, Migration),
            "/*\n  9999_alter_app_User_test\n  Why:   test of the runner's 1222 retry.\n  Locks: Sch-M on app.User, waits at most 1 s.\n*/\n" +
            "SET LOCK_TIMEOUT 1000;\nALTER TABLE app.[User] ADD RetryTestNote nvarchar(20) NULL;\nGO\n", cancel);

        // and another connection holding an exclusive table lock on app.User in an open transaction
        await using var blocker = new SqlConnection(database);
        await blocker.OpenAsync(cancel);
        var transaction = (SqlTransaction)await blocker.BeginTransactionAsync(cancel);
        await using (var lockTable = new SqlCommand("SELECT COUNT(*) FROM app.[User] WITH (TABLOCKX, HOLDLOCK);", blocker, transaction))
        {
            await lockTable.ExecuteScalarAsync(cancel);
        }

        // When the migrator runs, and the lock is released after its first retry is announced
        var log = new List<string>();
        var firstRetry = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var migrator = new Migrator(new MigratorOptions
        {
            Layout = layout,
            LockTimeoutRetries = 5,
            RetryBaseDelay = TimeSpan.FromSeconds(1),
            Log = line =>
            {
                lock (log)
                {
                    log.Add(line);
                }

                Output.WriteLine($"[migrator] {line}");
                if (line.Contains("hit a lock timeout (1222)", StringComparison.Ordinal))
                {
                    firstRetry.TrySetResult();
                }
            },
        });
        var migrating = migrator.MigrateAsync(database, cancel);
        await firstRetry.Task.WaitAsync(TimeSpan.FromSeconds(60), cancel);
        await transaction.RollbackAsync(cancel);
        var result = await migrating;

        // Then the migration was retried, then applied once, and the column exists
        Assert.Contains(log, l => l.StartsWith($"{Migration} hit a lock timeout (1222); retry 1/5 in 1s", StringComparison.Ordinal));
        Assert.Equal([Migration], result.AppliedMigrations);
        Assert.True(result.LockTimeoutRetries >= 1);
        var journal = await DeploymentTestSupport.JournalAsync(database, cancel);
        Assert.Single(journal, l => l.StartsWith(Migration + " ", StringComparison.Ordinal));
        await using var check = new SqlConnection(database);
        await check.OpenAsync(cancel);
        await using var column = new SqlCommand("SELECT COL_LENGTH(N'app.User', N'RetryTestNote');", check);
        Assert.NotNull(await column.ExecuteScalarAsync(cancel) as short?);
    }

    [Fact]
    public async Task A_migration_still_blocked_after_every_retry_fails_naming_it_and_leaves_it_unapplied()
    {
        var cancel = TestContext.Current.CancellationToken;

        // Given the same setup, but the lock is never released
        var database = await Fixture.CreateScratchDatabaseAsync("lock_giveup", cancel);
        await new Migrator(new MigratorOptions { Layout = Fixture.Layout }).MigrateAsync(database, cancel);
        var layout = DeploymentTestSupport.CopyOf(Fixture.Layout);
        await File.WriteAllTextAsync(Path.Combine(layout.MigrationsDirectory, Migration),
            "SET LOCK_TIMEOUT 1000;\nALTER TABLE app.[User] ADD RetryTestNote nvarchar(20) NULL;\nGO\n", cancel);
        await using var blocker = new SqlConnection(database);
        await blocker.OpenAsync(cancel);
        await using var transaction = (SqlTransaction)await blocker.BeginTransactionAsync(cancel);
        await using (var lockTable = new SqlCommand("SELECT COUNT(*) FROM app.[User] WITH (TABLOCKX, HOLDLOCK);", blocker, transaction))
        {
            await lockTable.ExecuteScalarAsync(cancel);
        }

        // When the migrator runs with two quick retries
        var migrator = new Migrator(new MigratorOptions
        {
            Layout = layout,
            LockTimeoutRetries = 2,
            RetryBaseDelay = TimeSpan.FromMilliseconds(100),
            Log = line => Output.WriteLine($"[migrator] {line}"),
        });
        var failed = await Assert.ThrowsAsync<DeploymentFailedException>(() => migrator.MigrateAsync(database, cancel));

        // Then it fails on that migration with 1222 after two retries, and nothing of it was applied
        Assert.Equal(Migration, failed.ScriptName);
        Assert.Equal(2, failed.LockTimeoutRetries);
        Assert.True(DbMerge.Client.Errors.SqlErrors.IsLockTimeout(failed.InnerException!));
        await transaction.RollbackAsync(cancel);
        var journal = await DeploymentTestSupport.JournalAsync(database, cancel);
        Assert.DoesNotContain(journal, l => l.StartsWith(Migration, StringComparison.Ordinal));
    }
}
