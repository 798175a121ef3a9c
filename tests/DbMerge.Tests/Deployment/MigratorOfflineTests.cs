using DbMerge.Client.Errors;
using DbMerge.Deployment;
using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests.Deployment;

public sealed class MigratorOfflineTests
{
    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["0001_a.sql"] = new string('a', 64),
        ["0002_b.sql"] = new string('b', 64),
        ["0003_c.sql"] = new string('c', 64),
    };

    [Fact]
    public void A_journaled_migration_whose_file_changed_is_a_mismatch_naming_it()
    {
        var journal = new[]
        {
            new JournalEntry("0001_a.sql", DateTime.UtcNow, new string('a', 64)),
            new JournalEntry("0002_b.sql", DateTime.UtcNow, new string('f', 64)),
        };

        var mismatch = Assert.Single(DeploymentJournal.FindMismatches(journal, Files));
        var refused = new DeploymentRefusedException([mismatch]);

        Assert.Equal("0002_b.sql", mismatch.ScriptName);
        Assert.Contains("0002_b.sql", refused.Message);
        Assert.Contains("nothing was applied", refused.Message);
        Assert.Equal(["0002_b.sql"], refused.ScriptNames);
    }

    [Fact]
    public void Rows_without_a_checksum_or_without_a_file_are_not_mismatches()
    {
        var journal = new[]
        {
            new JournalEntry("0001_a.sql", DateTime.UtcNow, null),
            new JournalEntry("0099_gone.sql", DateTime.UtcNow, new string('9', 64)),
        };

        Assert.Empty(DeploymentJournal.FindMismatches(journal, Files));
    }

    [Fact]
    public void Status_lists_pending_migrations_mismatches_and_scripts_the_repository_lacks()
    {
        var journal = new[]
        {
            new JournalEntry("0001_a.sql", DateTime.UtcNow, new string('a', 64)),
            new JournalEntry("0002_b.sql", DateTime.UtcNow, new string('0', 64)),
            new JournalEntry("0099_gone.sql", DateTime.UtcNow, null),
        };
        var untrusted = new[] { new UntrustedConstraint("app", "Invitation", "CK_x", "CHECK", false) };

        var status = Migrator.BuildStatus(journal, Files, untrusted);

        Assert.Equal(["0003_c.sql"], status.Pending);
        Assert.Equal("0002_b.sql", Assert.Single(status.ChecksumMismatches).ScriptName);
        Assert.Equal(["0099_gone.sql"], status.AppliedNotInRepository);
        Assert.Equal([true, false, null], status.Applied.Select(a => a.ChecksumMatches));
        Assert.False(status.IsUpToDate);
        Assert.True(status.IsNewerThanRepository);
        Assert.Single(status.UntrustedConstraints);
    }

    [Fact]
    public void A_journal_with_migrations_this_release_lacks_is_a_newer_database_and_the_refusal_names_them()
    {
        var journal = new[]
        {
            new JournalEntry("0001_a.sql", DateTime.UtcNow, new string('a', 64)),
            new JournalEntry("0005_e.sql", DateTime.UtcNow, new string('e', 64)),
            new JournalEntry("0004_d.sql", DateTime.UtcNow, null),
        };

        var unknown = DeploymentJournal.FindUnknown(journal, Files);
        var refused = new DatabaseNewerException(unknown);

        Assert.Equal(["0004_d.sql", "0005_e.sql"], unknown);
        Assert.Contains("0004_d.sql, 0005_e.sql", refused.Message);
        Assert.Contains("newer than this release", refused.Message);
        Assert.Contains("nothing was applied", refused.Message);
        Assert.Empty(DeploymentJournal.FindUnknown(journal.Take(1), Files));
    }

    [Fact]
    public void A_migration_resets_the_lock_timeout_and_a_database_object_waits_at_most_the_object_lock_timeout()
    {
        var migration = new SqlScriptFile("migrations/0001_a.sql", "0001_a.sql", "SELECT 1;\nGO\n");
        var procedure = new SqlScriptFile("database/api/Procedures/api.P.sql", "api.P.sql", "CREATE OR ALTER PROCEDURE api.P AS SELECT 1;\nGO\n");

        var scripts = Migrator.BuildScripts([migration], [procedure], TimeSpan.FromMilliseconds(2500));

        Assert.Equal("SET LOCK_TIMEOUT -1;\nGO\n" + migration.Text, scripts[0].Contents);
        Assert.Equal("SET LOCK_TIMEOUT 2500;\nGO\n" + procedure.Text, scripts[1].Contents);
        Assert.Equal(DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds,
            (int)new MigratorOptions { Layout = Repo.Layout }.DatabaseObjectLockTimeout.TotalMilliseconds);
    }

    [Fact]
    public void The_cancellation_check_runs_before_a_script_and_throws_only_once_cancelled()
    {
        using var cancellation = new CancellationTokenSource();
        var check = new Migrator.StopBetweenScripts(cancellation.Token);

        Assert.Equal("SELECT 1;", check.Process("SELECT 1;"));
        cancellation.Cancel();
        Assert.Throws<OperationCanceledException>(() => check.Process("SELECT 1;"));
    }

    // ---- DbUp's real engine over a fake connection ---------------------------------------------------------

    private static readonly SqlScriptFile[] Migrations =
    [
        new("migrations/0001_a.sql", "0001_a.sql", "PRINT 'first';\nGO\n"),
        new("migrations/0002_b.sql", "0002_b.sql", "PRINT 'second';\nGO\n"),
        new("migrations/0003_c.sql", "0003_c.sql", "PRINT 'third';\nGO\n"),
    ];

    private static readonly SqlScriptFile[] Objects =
    [
        new("database/api/Procedures/api.One.sql", "api.One.sql", "CREATE OR ALTER PROCEDURE api.One AS SELECT 1;\nGO\n"),
        new("database/api/Procedures/api.Two.sql", "api.Two.sql", "CREATE OR ALTER PROCEDURE api.Two AS SELECT 2;\nGO\n"),
    ];

    private static readonly Dictionary<string, string> Checksums = Migrations.ToDictionary(m => m.Name, m => new string('0', 64), StringComparer.Ordinal);

    [Fact]
    public async Task Cancelling_during_a_script_lets_it_complete_with_its_journal_row_and_stops_before_the_next_saying_where()
    {
        // Given a run whose token is cancelled while the second migration executes
        using var cancellation = new CancellationTokenSource();
        var fake = new FakeDatabase { OnExecute = text => { if (text.Contains("'second'", StringComparison.Ordinal)) { cancellation.Cancel(); } } };
        var log = new List<string>();
        var migrator = new Migrator(new MigratorOptions { Layout = Repo.Layout, Log = log.Add });

        // When it runs
        var stopped = await Assert.ThrowsAsync<MigrationCancelledException>(() =>
            migrator.RunScriptsAsync(Migrations, Objects, Checksums, _ => fake.Manager(), null, cancellation.Token));

        // Then the second migration completed (with its journal row), the third never started, and the stop says where
        Assert.Equal("0002_b.sql", stopped.LastCompleted);
        Assert.Equal("0003_c.sql", stopped.StoppedBefore);
        Assert.Equal(["0001_a.sql", "0002_b.sql"], stopped.Applied);
        Assert.Contains("the last completed was 0002_b.sql, 0003_c.sql was not started", stopped.Message);
        Assert.Contains(fake.Executed, t => t.Contains("'second'", StringComparison.Ordinal));
        Assert.Equal(2, fake.Executed.Count(t => t.StartsWith("INSERT INTO dbo.SchemaVersions", StringComparison.Ordinal)));
        Assert.DoesNotContain(fake.Executed, t => t.Contains("'third'", StringComparison.Ordinal) || t.Contains("api.One", StringComparison.Ordinal));
        Assert.Equal(["applied 0001_a.sql", "applied 0002_b.sql"], log);
    }

    [Fact]
    public async Task A_database_object_hitting_a_lock_timeout_is_retried_without_running_the_objects_before_it_again()
    {
        // Given the second object fails once with a lock timeout (1222)
        var failures = 0;
        var fake = new FakeDatabase
        {
            OnExecute = text =>
            {
                if (text.Contains("api.Two", StringComparison.Ordinal) && failures++ == 0)
                {
                    throw new DbMergeException(SqlErrors.LockRequestTimeout, null, "Lock request time out period exceeded.");
                }
            },
        };
        var log = new List<string>();
        var migrator = new Migrator(new MigratorOptions { Layout = Repo.Layout, Log = log.Add, RetryBaseDelay = TimeSpan.FromMilliseconds(1), ReportTimings = true });

        // When it runs (database objects only: the fake journal stays empty, a real one skips applied migrations on retry)
        var result = await migrator.RunScriptsAsync([], Objects, Checksums, _ => fake.Manager(), null, TestContext.Current.CancellationToken);

        // Then the retry is reported, api.One ran once, api.Two twice (failed, then succeeded)
        Assert.Equal(1, result.LockTimeoutRetries);
        Assert.Equal(Objects.Select(o => o.RelativePath), result.DatabaseObjectsRun);
        Assert.Single(fake.Executed, t => t.Contains("api.One", StringComparison.Ordinal));
        Assert.Equal(2, fake.Executed.Count(t => t.Contains("api.Two", StringComparison.Ordinal)));
        Assert.Contains(log, l => l.StartsWith("database/api/Procedures/api.Two.sql waited 3000 ms for its schema lock (1222)", StringComparison.Ordinal) &&
                                  l.EndsWith("retry 1/5 in 1ms", StringComparison.Ordinal));
        Assert.All(log.Where(l => l.StartsWith("applied ", StringComparison.Ordinal) || l.StartsWith("ran ", StringComparison.Ordinal)),
            l => Assert.Matches(@" \(\d+ ms\)$", l));
        Assert.Equal(Objects.Length, result.Scripts.Count);
    }

    [Fact]
    public async Task Stopping_after_an_unknown_migration_is_an_argument_error_before_connecting()
    {
        var migrator = new Migrator(new MigratorOptions { Layout = Repo.Layout, StopAfterMigration = "9999_nope.sql" });

        var error = await Assert.ThrowsAsync<ArgumentException>(() =>
            migrator.MigrateAsync("Server=127.0.0.1,1;Database=x;User Id=sa;Password=x;Connect Timeout=1", TestContext.Current.CancellationToken));

        Assert.Contains("9999_nope.sql", error.Message);
    }
}
