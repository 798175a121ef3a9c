using DbMerge.Runner.Cli;
using DbMerge.Tests.Runner;
using Xunit;

namespace DbMerge.Tests.Collections;

/// <summary>
/// <c>dbmerge collections …</c> parsing, offline: required options and arguments, value ranges, and that a complete
/// command line reaches the connection step (exit 3 without DBMERGE_CONNECTION, before any network call).
/// </summary>
public sealed class CollectionsCliTests
{
    private static Task<CliHarness.Result> RunAsync(params string[] args) => CliHarness.RunAsync(args);

    [Theory]
    [InlineData("claim-session", "--session", "k3j4h5g6", "--user", "ada@example.org")]
    [InlineData("claim-session", "--session", "k3j4h5g6", "--user", "42", "--json")]
    [InlineData("legacy", "--user", "42")]
    [InlineData("legacy", "--user", "ada@example.org", "--json")]
    [InlineData("claim-legacy", "--user", "42")]
    [InlineData("claim-legacy", "--user", "ada@example.org", "--from", "17", "--dry-run", "--json")]
    [InlineData("claims")]
    [InlineData("claims", "--user", "ada@example.org", "--top", "50")]
    [InlineData("claims", "--claim", "9", "--json")]
    [InlineData("undo-claim", "42", "--yes")]
    [InlineData("undo-claim", "42", "--dry-run", "--json")]
    public async Task A_complete_command_line_parses_and_stops_at_the_missing_connection(params string[] args)
    {
        var result = await RunAsync(["collections", .. args]);

        Assert.Equal(ExitCodes.ConnectionFailed, result.ExitCode);
        Assert.Contains("DBMERGE_CONNECTION", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Out);
    }

    [Theory]
    [InlineData("claim-session", "--user", "42")]
    [InlineData("claim-session", "--session", "k3j4h5g6")]
    [InlineData("legacy")]
    [InlineData("claim-legacy", "--from", "17")]
    [InlineData("undo-claim")]
    public async Task A_missing_required_option_or_argument_is_a_usage_error(params string[] args)
    {
        var result = await RunAsync(["collections", .. args]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("dbmerge --help", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--from takes a user id", "claim-legacy", "--user", "42", "--from", "0")]
    [InlineData("--from", "claim-legacy", "--user", "42", "--from", "ada@example.org")]
    [InlineData("at most one of --user and --claim", "claims", "--user", "42", "--claim", "3")]
    [InlineData("--top must be 1..100000", "claims", "--top", "0")]
    [InlineData("--top must be 1..100000", "claims", "--top", "100001")]
    [InlineData("CLAIM_ID must be a positive claim id", "undo-claim", "0")]
    [InlineData("'seventeen'", "undo-claim", "seventeen")]
    public async Task An_invalid_value_is_a_usage_error_that_names_it(string expected, params string[] args)
    {
        var result = await RunAsync(["collections", .. args]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("claim-session", "--session", "Example: dbmerge collections claim-session")]
    [InlineData("legacy", "--user", "Example: dbmerge collections legacy")]
    [InlineData("claim-legacy", "--dry-run", "Example: dbmerge collections claim-legacy")]
    [InlineData("claims", "--top", "Example: dbmerge collections claims")]
    [InlineData("undo-claim", "--yes", "Example: dbmerge collections undo-claim")]
    public async Task Help_describes_the_verb_its_options_and_an_example(string verb, string option, string example)
    {
        var result = await RunAsync("collections", verb, "--help");

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains(option, result.Out, StringComparison.Ordinal);
        Assert.Contains(example, result.Out, StringComparison.Ordinal);
        Assert.Contains("--connection", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public void Undo_without_yes_on_a_terminal_asks_after_a_dry_run_and_elsewhere_only_dry_runs() =>
        // The same decision as users merge (shared UsersVerbs.DecideMode): --dry-run wins, --yes undoes.
        Assert.Equal(
            [DbMerge.Runner.Verbs.UsersVerbs.MergeMode.DryRun, DbMerge.Runner.Verbs.UsersVerbs.MergeMode.Merge,
             DbMerge.Runner.Verbs.UsersVerbs.MergeMode.AskAfterDryRun, DbMerge.Runner.Verbs.UsersVerbs.MergeMode.DryRunBecauseNotInteractive],
            new[]
            {
                DbMerge.Runner.Verbs.UsersVerbs.DecideMode(dryRun: true, yes: true, interactive: true),
                DbMerge.Runner.Verbs.UsersVerbs.DecideMode(dryRun: false, yes: true, interactive: false),
                DbMerge.Runner.Verbs.UsersVerbs.DecideMode(dryRun: false, yes: false, interactive: true),
                DbMerge.Runner.Verbs.UsersVerbs.DecideMode(dryRun: false, yes: false, interactive: false),
            });
}
