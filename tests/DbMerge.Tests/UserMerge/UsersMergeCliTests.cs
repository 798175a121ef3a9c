using DbMerge.Runner;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Verbs;
using Xunit;

namespace DbMerge.Tests.UserMerge;

public sealed class UsersMergeCliTests
{
    private static async Task<(int Exit, string Out, string Error)> RunAsync(bool interactive, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var context = new CliContext(output, error, interactive, () => null, _ => null);
        var exit = await DbMergeCli.InvokeAsync(args, context, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Users_merge_without_source_is_a_usage_error()
    {
        var (exit, _, error) = await RunAsync(false, "users", "merge", "--target", "7");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--source", error);
    }

    [Fact]
    public async Task Users_merge_without_a_connection_fails_with_the_connection_exit_code_before_doing_anything()
    {
        var (exit, output, error) = await RunAsync(false, "users", "merge", "--source", "42", "--target", "ada@example.org");
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
        Assert.Contains("DBMERGE_CONNECTION", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public async Task Merges_show_without_a_run_id_is_a_usage_error()
    {
        var (exit, _, _) = await RunAsync(false, "merges", "show");
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Fact]
    public async Task Merges_list_without_a_connection_fails_with_the_connection_exit_code()
    {
        var (exit, _, _) = await RunAsync(false, "merges", "list", "--user", "42");
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
    }

    [Theory]
    [InlineData(true, false, false, "DryRun")]
    [InlineData(true, true, true, "DryRun")]
    [InlineData(false, true, false, "Merge")]
    [InlineData(false, true, true, "Merge")]
    [InlineData(false, false, true, "AskAfterDryRun")]
    [InlineData(false, false, false, "DryRunBecauseNotInteractive")]
    public void Merge_mode_is_a_dry_run_unless_confirmed_by_yes_or_on_a_terminal(bool dryRun, bool yes, bool interactive, string expected)
    {
        Assert.Equal(expected, UsersVerbs.DecideMode(dryRun, yes, interactive).ToString());
    }

    [Fact]
    public async Task Bench_merge_rejects_a_row_count_out_of_range_before_connecting()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var context = new CliContext(output, error, false, () => null, _ => null);
        var bench = BenchVerbs.Build(context);
        var exit = await bench.Parse(["merge", "--rows", "5"]).InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.Usage, exit);
    }
}
