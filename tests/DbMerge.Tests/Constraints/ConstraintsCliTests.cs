using DbMerge.Deployment.ConstraintValidation;
using DbMerge.Runner.Cli;
using DbMerge.Tests.Invitations;
using Xunit;

namespace DbMerge.Tests.Constraints;

public sealed class ConstraintsCliTests
{
    [Fact]
    public async Task Trust_without_yes_and_without_a_terminal_is_not_confirmed_before_any_connection_is_attempted()
    {
        // No connection string is configured: had the verb tried to connect first, it would exit 3.
        var (exit, output, error) = await InvitationsCliTests.RunAsync(false, "constraints", "trust", "--constraint", "app.CK_app_Invitation_ExactlyOneTarget");
        Assert.Equal(ExitCodes.NotConfirmed, exit);
        Assert.Contains("schema-modification", error, StringComparison.Ordinal);
        Assert.Contains("--yes", error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, output);
    }

    [Fact]
    public async Task Trust_with_yes_goes_on_to_connect()
    {
        var (exit, _, _) = await InvitationsCliTests.RunAsync(false, "constraints", "trust", "--constraint", "CK_app_Invitation_ExactlyOneTarget", "--yes");
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
    }

    [Fact]
    public async Task Trust_requires_a_constraint_name()
    {
        var (exit, _, _) = await InvitationsCliTests.RunAsync(false, "constraints", "trust", "--yes");
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("600001")]
    public async Task Trust_rejects_a_lock_timeout_out_of_range(string milliseconds)
    {
        var (exit, _, _) = await InvitationsCliTests.RunAsync(false, "constraints", "trust", "--constraint", "x", "--yes", "--lock-timeout", milliseconds);
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Theory]
    [InlineData("--batch-size", "0")]
    [InlineData("--batch-size", "100001")]
    [InlineData("--max-seconds", "0")]
    public async Task Validate_rejects_limits_out_of_range(string option, string value)
    {
        var (exit, _, _) = await InvitationsCliTests.RunAsync(false, "constraints", "validate", option, value);
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Fact]
    public async Task Validate_and_list_need_a_connection()
    {
        Assert.Equal(ExitCodes.ConnectionFailed, (await InvitationsCliTests.RunAsync(false, "constraints", "validate", "--restart", "--json")).Exit);
        Assert.Equal(ExitCodes.ConnectionFailed, (await InvitationsCliTests.RunAsync(false, "constraints", "list")).Exit);
    }

    [Fact]
    public async Task Violations_needs_a_constraint_and_a_positive_top()
    {
        Assert.Equal(ExitCodes.Usage, (await InvitationsCliTests.RunAsync(false, "constraints", "violations")).Exit);
        Assert.Equal(ExitCodes.Usage, (await InvitationsCliTests.RunAsync(false, "constraints", "violations", "--constraint", "x", "--top", "0")).Exit);
        Assert.Equal(ExitCodes.ConnectionFailed, (await InvitationsCliTests.RunAsync(false, "constraints", "violations", "--constraint", "x")).Exit);
    }

    [Theory]
    [InlineData("app.CK_x", "app", "CK_x")]
    [InlineData("CK_x", null, "CK_x")]
    [InlineData("[app].[CK.with.dots]", "app", "CK.with.dots")]
    [InlineData(" [my]]schema].FK_y ", "my]schema", "FK_y")]
    public void Constraint_names_parse_with_and_without_schema(string text, string? schema, string name)
    {
        var parsed = ConstraintName.Parse(text);
        Assert.Equal(schema, parsed.Schema);
        Assert.Equal(name, parsed.Name);
    }

    [Fact]
    public void Untrusted_constraint_states_describe_themselves_in_one_line()
    {
        UntrustedConstraint State(ConstraintValidationState state, long? lastKey, long rows, long violations, bool disabled = false) =>
            new("app", "Invitation", "CK_app_Invitation_ExactlyOneTarget", "CHECK", disabled, state, lastKey, rows, violations, 100_000, null, null);

        Assert.Equal("never run", State(ConstraintValidationState.NeverRun, null, 0, 0).Describe());
        Assert.Equal("in progress at key 41000 (41000/100000 rows, 3 violation(s) so far)",
            State(ConstraintValidationState.InProgress, 41_000, 41_000, 3).Describe());
        Assert.Equal("done with 0 violation(s)", State(ConstraintValidationState.Done, 100_000, 100_000, 0).Describe());
        Assert.Contains("DISABLED", State(ConstraintValidationState.Done, 1, 1, 0, disabled: true).Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_progress_writes_a_first_line_at_once_then_throttles_and_always_writes_the_final_line()
    {
        var writer = new StringWriter();
        var reporter = new PlainProgressReporter(writer, TimeSpan.FromHours(1));
        await reporter.RunAsync(scope =>
        {
            var task = scope.AddTask("app.CK_x", 100_000);
            task.Update(5_000, 100_000, "0 violation(s)");
            task.Update(10_000, 100_000, "1 violation(s)");
            task.Complete("done, 100000 rows checked, 1 violation(s)");
            return Task.FromResult(0);
        });
        var lines = writer.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["app.CK_x: 5,000/100,000 (5%) 0 violation(s)", "app.CK_x: done, 100000 rows checked, 1 violation(s)"], lines);
    }

    [Fact]
    public void A_progress_reporter_for_string_writers_is_plain()
    {
        var context = new CliContext(new StringWriter(), new StringWriter(), isInteractive: true);
        Assert.IsType<PlainProgressReporter>(ProgressReporter.Create(context));
    }
}
