using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Verbs;
using Xunit;

namespace DbMerge.Tests.Runner;

public sealed class StatusVerbTests
{
    private static DeploymentStatus Status(int pending = 0, int mismatches = 0, int untrusted = 0, int unknown = 0) => new(
        [],
        Enumerable.Range(1, pending).Select(i => $"000{i}_x.sql").ToList(),
        Enumerable.Range(1, mismatches).Select(i => new ChecksumMismatch($"000{i}_x.sql", new string('a', 64), new string('b', 64))).ToList(),
        Enumerable.Range(1, unknown).Select(i => $"900{i}_newer.sql").ToList(),
        Enumerable.Range(1, untrusted).Select(i => new UntrustedConstraint("app", "T", $"CK_{i}", "CHECK", false)).ToList());

    [Fact]
    public void Status_exits_0_when_up_to_date_even_with_untrusted_constraints()
    {
        Assert.Equal(ExitCodes.Success, StatusVerb.ExitCodeFor(Status(untrusted: 1), strict: false));
        Assert.Equal(ExitCodes.Success, StatusVerb.ExitCodeFor(Status(), strict: true));
    }

    [Fact]
    public void Status_exits_1_when_migrations_are_pending_or_strict_and_a_constraint_is_untrusted()
    {
        Assert.Equal(ExitCodes.Findings, StatusVerb.ExitCodeFor(Status(pending: 2), strict: false));
        Assert.Equal(ExitCodes.Findings, StatusVerb.ExitCodeFor(Status(untrusted: 1), strict: true));
    }

    [Fact]
    public void Status_exits_5_when_the_database_has_migrations_this_repository_lacks_because_migrate_would_refuse_the_downgrade()
    {
        var newer = Status(unknown: 1);

        Assert.Equal(ExitCodes.DeploymentRefused, StatusVerb.ExitCodeFor(newer, strict: false));
        Assert.True(newer.IsNewerThanRepository);
        Assert.False(newer.IsUpToDate);
    }

    [Fact]
    public void Status_exits_5_when_an_applied_migration_changed()
    {
        Assert.Equal(ExitCodes.DeploymentRefused, StatusVerb.ExitCodeFor(Status(pending: 1, mismatches: 1, untrusted: 1), strict: true));
    }

    [Fact]
    public async Task Status_against_an_unreachable_server_exits_with_the_connection_code()
    {
        var (exitCode, _, error) = await MigrateVerbTests.RunAsync(null, "status", "--connection", MigrateVerbTests.Unreachable, "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("Sup3rSecret", error);
    }

    [Fact]
    public async Task Status_without_a_connection_string_exits_with_the_connection_code()
    {
        var (exitCode, _, _) = await MigrateVerbTests.RunAsync(null, "status", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
    }
}
