using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.Tests.Runner;

public sealed class CliTests
{
    [Fact]
    public async Task An_unknown_verb_is_a_usage_error_with_a_pointer_to_help()
    {
        var result = await CliHarness.RunAsync(["frobnicate"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("frobnicate", result.Error);
        Assert.Contains("--help", result.Error);
    }

    [Fact]
    public async Task Help_lists_the_verbs_and_exits_zero()
    {
        var result = await CliHarness.RunAsync(["--help"]);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Contains("Usage:", result.Out);
    }

    [Fact]
    public void A_missing_connection_is_a_connection_failure_that_names_both_ways_to_give_one()
    {
        var context = new CliContext(TextWriter.Null, TextWriter.Null, false, environment: _ => null);

        var error = Assert.Throws<CliException>(() => CommonOptions.ResolveConnection(context, null));

        Assert.Equal(ExitCodes.ConnectionFailed, error.ExitCode);
        Assert.Contains("--connection", error.Message);
        Assert.Contains(CommonOptions.ConnectionEnvironmentVariable, error.Message);
    }

    [Fact]
    public void The_connection_comes_from_the_option_before_the_environment()
    {
        var context = new CliContext(TextWriter.Null, TextWriter.Null, false,
            environment: name => name == CommonOptions.ConnectionEnvironmentVariable ? "Server=env;Database=e" : null);

        Assert.Equal("Server=opt;Database=o", CommonOptions.ResolveConnection(context, "Server=opt;Database=o"));
        Assert.Equal("Server=env;Database=e", CommonOptions.ResolveConnection(context, null));
    }

    [Fact]
    public void A_malformed_connection_string_is_rejected_without_echoing_it()
    {
        var context = new CliContext(TextWriter.Null, TextWriter.Null, false, environment: _ => null);
        const string secret = "Server=x;Pasword=TopSecret123;Bogus Keyword=1";

        var error = Assert.Throws<CliException>(() => CommonOptions.ResolveConnection(context, secret));

        Assert.Equal(ExitCodes.ConnectionFailed, error.ExitCode);
        Assert.DoesNotContain("TopSecret123", error.Message);
    }

    [Fact]
    public void Describing_a_target_names_server_and_database_but_never_the_password()
    {
        var description = CommonOptions.DescribeTarget("Server=db1,1433;Database=Shop;User Id=sa;Password=TopSecret123");

        Assert.Equal("db1,1433/Shop", description);
        Assert.DoesNotContain("TopSecret123", description);
    }

    [Fact]
    public async Task A_failing_verb_body_becomes_one_line_and_its_documented_exit_code()
    {
        var stderr = new StringWriter();
        var context = new CliContext(TextWriter.Null, stderr, false, environment: _ => null);

        var refused = await Verb.RunAsync(context, () => throw new DbMerge.Client.Errors.DbMergeConflictException(51107, "api.User_Merge", "api.User_Merge: collision"));
        var cli = await Verb.RunAsync(context, () => throw new CliException(ExitCodes.Usage, "bad"));
        var bug = await Verb.RunAsync(context, () => throw new InvalidOperationException("boom\nsecond line"));

        Assert.Equal(ExitCodes.Refused, refused);
        Assert.Equal(ExitCodes.Usage, cli);
        Assert.Equal(ExitCodes.InternalError, bug);
        var lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("error 51107", lines[0]);
        Assert.DoesNotContain("   at ", stderr.ToString());
    }

    [Fact]
    public async Task A_DbMerge_lock_timeout_maps_to_the_lock_timeout_exit_code()
    {
        var context = new CliContext(TextWriter.Null, TextWriter.Null, false, environment: _ => null);

        var exit = await Verb.RunAsync(context, () => throw new DbMerge.Client.Errors.DbMergeLockTimeoutException(51108, "api.User_Merge", "timeout"));

        Assert.Equal(ExitCodes.LockTimeout, exit);
    }
}
