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
    public async Task Merges_undo_without_a_run_id_is_a_usage_error_and_without_a_connection_fails_before_doing_anything()
    {
        var (exit, _, _) = await RunAsync(false, "merges", "undo");
        Assert.Equal(ExitCodes.Usage, exit);

        var (noConnection, output, error) = await RunAsync(false, "merges", "undo", "42", "--yes");
        Assert.Equal(ExitCodes.ConnectionFailed, noConnection);
        Assert.Contains("DBMERGE_CONNECTION", error);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public async Task Merges_undo_help_names_every_option_and_the_operator_only_refusals()
    {
        var (exit, output, _) = await RunAsync(false, "merges", "undo", "--help");

        Assert.Equal(ExitCodes.Success, exit);
        foreach (var option in new[] { "RUN_ID", "--dry-run", "--reason", "--yes", "--json", "--lock-timeout-ms", "--batch-size", "--max-duration-ms", "--connection", "--verbose" })
        {
            Assert.Contains(option, output, StringComparison.Ordinal);
        }

        Assert.Contains("dbmerge merges undo 42", output, StringComparison.Ordinal);
        Assert.Contains("Operators only", output, StringComparison.Ordinal);
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

    [Theory]
    [InlineData("5")]
    [InlineData("1000001")]
    public async Task Bench_merge_refuses_rows_outside_100_to_1000000_before_connecting(string rows)
    {
        var (exit, _, error) = await RunAsync(false, "bench", "merge", "--rows", rows);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--rows must be 100..1000000", error);
    }

    [Fact]
    public async Task Bench_merge_refuses_a_batch_size_outside_1_to_1000_before_connecting()
    {
        var (exit, _, error) = await RunAsync(false, "bench", "merge", "--batch-size", "1001");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--batch-size", error);
    }

    [Fact]
    public void Bench_merge_grows_the_rows_touched_ten_times_and_its_large_run_stays_within_the_seeds_limit()
    {
        Assert.Equal(10, BenchMergeVerb.Growth);
        Assert.Equal(10_000_000, BenchMergeVerb.MaxRows * BenchMergeVerb.Growth);
        Assert.Contains("@Rows NOT BETWEEN 100 AND 10000000", DbMerge.Scenarios.ScenarioCatalog.Get(BenchMergeVerb.Scenario).Text, StringComparison.Ordinal);
        Assert.Equal("scenario.BenchMergeWrite", DbMerge.Scenarios.ScenarioCatalog.Get(BenchMergeVerb.WriterScenario).ProcedureName);
    }

    [Fact]
    public async Task Users_sweep_without_a_connection_fails_with_the_connection_exit_code()
    {
        var (exit, output, error) = await RunAsync(false, "users", "sweep", "--dry-run");
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
        Assert.Contains("DBMERGE_CONNECTION", error);
        Assert.Equal(string.Empty, output);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("100001")]
    public async Task Users_sweep_refuses_a_max_outside_1_to_100000_before_connecting(string max)
    {
        var (exit, _, error) = await RunAsync(false, "users", "sweep", "--max", max);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("--max must be 1..100000", error);
    }

    [Fact]
    public async Task Generate_merge_check_is_clean_on_the_repository()
    {
        var (exit, output, error) = await RunAsync(false, "generate", "merge", "--check", "--repo", Repo.Layout.Root);
        Assert.True(exit == ExitCodes.Success, output + error);
    }

    [Fact]
    public async Task Generate_merge_check_exits_1_when_a_generated_file_is_stale_and_generate_merge_writes_it_back()
    {
        // Given a scratch copy whose generated core was edited by hand
        var scratch = Repo.ScratchCopy();
        var core = Path.Combine(scratch.Root, "database", "dbmerge", "Procedures", "dbmerge.User_MergeCore.sql");
        var generated = await File.ReadAllTextAsync(core, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(core, generated.Replace("@BatchSize", "@BatchSize ", StringComparison.Ordinal), TestContext.Current.CancellationToken);

        // Then --check finds it and writes nothing; without --check the file is written back as generated
        var (check, checkOut, checkError) = await RunAsync(false, "generate", "merge", "--check", "--repo", scratch.Root);
        Assert.True(check == ExitCodes.Findings, checkOut + checkError);
        Assert.NotEqual(generated, await File.ReadAllTextAsync(core, TestContext.Current.CancellationToken));
        var (write, writeOut, writeError) = await RunAsync(false, "generate", "merge", "--repo", scratch.Root);
        Assert.True(write == ExitCodes.Success, writeOut + writeError);
        Assert.Equal(generated, await File.ReadAllTextAsync(core, TestContext.Current.CancellationToken));
    }

    [Fact]
    public void The_merge_command_timeout_outlasts_the_budget_and_two_lock_waits()
    {
        var timeout = DbMerge.Client.DbMergeClient.MergeCommandTimeout(TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(50), timeout);
    }
}
