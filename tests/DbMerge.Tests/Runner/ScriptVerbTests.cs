using DbMerge.Runner.Cli;
using DbMerge.Tests.Deployment;
using Xunit;

namespace DbMerge.Tests.Runner;

public sealed class ScriptVerbTests
{
    [Fact]
    public async Task Script_without_a_connection_writes_the_full_deploy_script_offline()
    {
        var file = Path.Combine(ScratchDirectory.Create("dbmerge-script-"), "deploy.sql");
        // DBMERGE_CONNECTION is deliberately ignored by 'script': a forgotten variable must not make a partial script.
        var environment = new Dictionary<string, string> { ["DBMERGE_CONNECTION"] = MigrateVerbTests.Unreachable };

        var (exitCode, output, error) = await MigrateVerbTests.RunAsync(environment, "script", "--output", file, "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.Success, exitCode);
        Assert.Equal(string.Empty, error);
        Assert.Contains("sqlcmd -b", output);
        var script = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        Assert.Empty(DeployScriptGeneratorTests.Parse(script, out _));
        Assert.All(Repo.Layout.Migrations(), m => Assert.Contains($"-- Migration {m.Name} ", script));
    }

    [Fact]
    public async Task Script_without_an_output_file_is_a_usage_error()
    {
        var (exitCode, _, error) = await MigrateVerbTests.RunAsync(null, "script", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("--output", error);
    }

    [Fact]
    public async Task Script_for_an_unreachable_target_exits_with_the_connection_code_and_writes_nothing()
    {
        var file = Path.Combine(ScratchDirectory.Create("dbmerge-script-"), "deploy.sql");

        var (exitCode, _, error) = await MigrateVerbTests.RunAsync(null, "script", "--output", file, "--connection", MigrateVerbTests.Unreachable, "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
        Assert.DoesNotContain("Sup3rSecret", error);
        Assert.False(File.Exists(file));
    }
}
