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
        Assert.Contains("sqlcmd -S <server> -d <database> -i " + file, output);
        Assert.Contains("SQLCMD Mode", output);
        var script = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        Assert.Empty(DeployScriptGeneratorTests.Parse(DbMerge.Deployment.DeployScriptGenerator.AsSqlcmdSends(script), out _));
        Assert.All(Repo.Layout.Migrations(), m => Assert.Contains($"-- Migration {m.Name} ", script));
    }

    [Fact]
    public async Task Script_with_output_dash_writes_the_script_to_stdout_and_the_summary_to_stderr()
    {
        var (exitCode, output, error) = await MigrateVerbTests.RunAsync(null, "script", "--output", "-", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.Success, exitCode);
        Assert.StartsWith("/*\n  DbMerge deploy script\n", output);
        Assert.EndsWith("GO\n", output);
        Assert.Empty(DeployScriptGeneratorTests.Parse(DbMerge.Deployment.DeployScriptGenerator.AsSqlcmdSends(output), out _));
        Assert.Contains("Wrote the deploy script to standard output", error);
        Assert.False(File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "-")));
    }

    [Fact]
    public async Task Script_with_output_dash_and_json_is_a_usage_error_because_both_would_go_to_stdout()
    {
        var (exitCode, output, error) = await MigrateVerbTests.RunAsync(null, "script", "-o", "-", "--json", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Equal(string.Empty, output);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Script_of_a_repository_the_generator_cannot_carry_exits_1_with_the_findings_and_writes_nothing()
    {
        var copy = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(copy.MigrationsDirectory, "9994_alter_app_User_planted.sql"), "/*\n  go\n*/\nSELECT 1 AS One;\nGO\n");
        var file = Path.Combine(ScratchDirectory.Create("dbmerge-script-"), "deploy.sql");

        var (exitCode, output, error) = await MigrateVerbTests.RunAsync(null, "script", "--output", file, "--repo", copy.Root);

        Assert.Equal(ExitCodes.Findings, exitCode);
        Assert.Equal(string.Empty, output);
        Assert.Contains("migrations/9994_alter_app_User_planted.sql:2: error script: ", error);
        Assert.Contains("nothing was written", error);
        Assert.False(File.Exists(file));
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
