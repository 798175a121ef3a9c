using System.Diagnostics;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.Tests.Runner;

public sealed class MigrateVerbTests
{
    internal const string Unreachable =
        "Server=127.0.0.1,1;Database=x;User Id=sa;Password=Sup3rSecret!x;TrustServerCertificate=true;Connect Timeout=2";

    internal static async Task<(int ExitCode, string Out, string Error)> RunAsync(
        IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var context = new CliContext(output, error, isInteractive: false, environment: name =>
            environment is not null && environment.TryGetValue(name, out var value) ? value : null);
        var exitCode = await DbMergeCli.InvokeAsync(args, context, TestContext.Current.CancellationToken);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Migrate_against_an_unreachable_server_prints_one_line_and_exits_with_the_connection_code()
    {
        var watch = Stopwatch.StartNew();

        var (exitCode, _, error) = await RunAsync(null, "migrate", "--connection", Unreachable, "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("dbmerge: cannot connect to SQL Server", lines[0]);
        Assert.DoesNotContain("Sup3rSecret", error);
        Assert.DoesNotContain("   at ", error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Migrate_with_the_server_in_DBMERGE_CONNECTION_uses_it()
    {
        var environment = new Dictionary<string, string> { ["DBMERGE_CONNECTION"] = Unreachable };

        var (exitCode, _, error) = await RunAsync(environment, "migrate", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
        Assert.StartsWith("dbmerge: cannot connect to SQL Server", error);
        Assert.DoesNotContain("Sup3rSecret", error);
    }

    [Fact]
    public async Task Migrate_without_a_connection_string_exits_with_the_connection_code_and_says_how_to_give_one()
    {
        var (exitCode, _, error) = await RunAsync(null, "migrate", "--repo", Repo.Layout.Root);

        Assert.Equal(ExitCodes.ConnectionFailed, exitCode);
        Assert.Contains("--connection", error);
        Assert.Contains("DBMERGE_CONNECTION", error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task Migrate_with_a_folder_that_is_not_a_repository_is_a_usage_error()
    {
        var empty = ScratchDirectory.Create("dbmerge-norepo-");

        var (exitCode, _, error) = await RunAsync(null, "migrate", "--connection", Unreachable, "--repo", empty);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains("migrations", error);
    }

    [Theory]
    [InlineData("--command-timeout", "-1")]
    [InlineData("--object-lock-timeout", "0")]
    [InlineData("--object-lock-timeout", "600001")]
    public async Task Migrate_with_a_timeout_out_of_range_is_a_usage_error_before_connecting(string option, string value)
    {
        var (exitCode, _, error) = await RunAsync(null, "migrate", "--connection", Unreachable, "--repo", Repo.Layout.Root, option, value);

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.Contains(option, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
