using DbMerge.Deployment;
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
        Assert.Single(status.UntrustedConstraints);
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
