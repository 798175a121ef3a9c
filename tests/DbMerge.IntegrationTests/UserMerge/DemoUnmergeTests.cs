using System.Text.Json;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>`dbmerge demo` ends by undoing its merge and showing both accounts restored (issue 14's acceptance).</summary>
public sealed class DemoUnmergeTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    [Fact]
    public async Task The_demo_ends_by_undoing_its_merge_and_both_accounts_are_as_they_were_before_it()
    {
        // Given the test server (the demo creates and drops its own scratch database there)
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, isInteractive: false, environment: _ => null);

        // When the demo runs
        var exit = await DbMergeCli.InvokeAsync(["demo", "--connection", Fixture.MasterConnectionString, "--json"], context, TestContext.Current.CancellationToken);
        Output.WriteLine(stderr.ToString());
        Output.WriteLine(stdout.ToString());

        // Then the undo verified, row by row, and both accounts are exactly as before the merge (the source active, not merged)
        Assert.Equal(ExitCodes.Success, exit);
        using var json = JsonDocument.Parse(stdout.ToString());
        var root = json.RootElement;
        Assert.True(root.GetProperty("unmergeVerification").GetProperty("verified").GetBoolean());
        Assert.True(root.GetProperty("unmergeVerification").GetProperty("rowsCompared").GetInt32() > 10);
        Assert.True(root.GetProperty("accountsRestored").GetBoolean());
        var source = root.GetProperty("sourceAfterUndo");
        Assert.True(source.GetProperty("isActive").GetBoolean());
        Assert.Equal(JsonValueKind.Null, source.GetProperty("mergedIntoUserId").ValueKind);
        Assert.Equal(root.GetProperty("source").GetRawText(), source.GetRawText());
        Assert.Equal(root.GetProperty("target").GetRawText(), root.GetProperty("targetAfterUndo").GetRawText());
        Assert.Equal(root.GetProperty("merge").GetProperty("mergeRunId").GetInt64(), root.GetProperty("unmerge").GetProperty("mergeRunId").GetInt64());
    }
}
