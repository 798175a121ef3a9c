using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.Tests.Invitations;

public sealed class InvitationsCliTests
{
    internal static async Task<(int Exit, string Out, string Error)> RunAsync(bool interactive, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        // No DBMERGE_CONNECTION: a verb that tries to connect fails with exit 3 before any network call.
        var context = new CliContext(output, error, interactive, readLine: () => "n", environment: _ => null);
        var exit = await DbMergeCli.InvokeAsync(args, context, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Create_with_both_a_channel_and_an_organization_is_a_usage_error()
    {
        var (exit, _, error) = await RunAsync(false, "invitations", "create", "--channel", "1", "--organization", "2",
            "--email", "ada@example.org", "--share-mode", "view", "--sender", "7");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("exactly one of --channel and --organization", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_with_neither_a_channel_nor_an_organization_is_a_usage_error()
    {
        var (exit, _, _) = await RunAsync(false, "invitations", "create", "--email", "ada@example.org", "--share-mode", "view", "--sender", "7");
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Fact]
    public async Task Create_with_admin_share_mode_for_a_channel_is_a_usage_error()
    {
        var (exit, _, error) = await RunAsync(false, "invitations", "create", "--channel", "1", "--email", "ada@example.org", "--share-mode", "admin", "--sender", "7");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("organizations only", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_with_an_unknown_share_mode_is_a_usage_error()
    {
        var (exit, _, _) = await RunAsync(false, "invitations", "create", "--organization", "1", "--email", "ada@example.org", "--share-mode", "owner", "--sender", "7");
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Fact]
    public async Task Create_with_valid_arguments_but_no_connection_string_exits_with_the_connection_code()
    {
        var (exit, _, error) = await RunAsync(false, "invitations", "create", "--organization", "1", "--email", "ada@example.org", "--share-mode", "admin", "--sender", "7");
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
        Assert.Contains("DBMERGE_CONNECTION", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("accept", "--user")]
    [InlineData("decline", "--user")]
    [InlineData("revoke", "--actor")]
    public async Task Respond_verbs_require_the_invitation_and_the_user(string verb, string userOption)
    {
        var (missingUser, _, _) = await RunAsync(false, "invitations", verb, "--invitation", "5");
        Assert.Equal(ExitCodes.Usage, missingUser);
        var (missingInvitation, _, _) = await RunAsync(false, "invitations", verb, userOption, "5");
        Assert.Equal(ExitCodes.Usage, missingInvitation);
        var (complete, _, _) = await RunAsync(false, "invitations", verb, "--invitation", "5", userOption, "9");
        Assert.Equal(ExitCodes.ConnectionFailed, complete);
    }
}
