using System.Text.Json;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>
/// `dbmerge demo` shows the reconciliation path too (issue 12's acceptance): a two-row CSV imported, both sides of each
/// request confirmed with the drained tokens, both requests processed and verified — and no token printed.
/// </summary>
public sealed class DemoReconciliationTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    [Fact]
    public async Task The_demo_imports_confirms_and_processes_two_reconciliation_requests_and_verifies_them()
    {
        // Given the test server (the demo creates and drops its own scratch database there)
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, isInteractive: false, environment: _ => null);

        // When the demo runs
        var exit = await DbMergeCli.InvokeAsync(["demo", "--connection", Fixture.MasterConnectionString, "--json"], context, TestContext.Current.CancellationToken);
        Output.WriteLine(stderr.ToString());
        Output.WriteLine(stdout.ToString());

        // Then the merge part and the reconciliation part are verified
        Assert.Equal(ExitCodes.Success, exit);
        using var json = JsonDocument.Parse(stdout.ToString());
        var reconciliation = json.RootElement.GetProperty("reconciliation");
        Assert.True(reconciliation.GetProperty("verified").GetBoolean());
        Assert.Equal((2, 4, 4, 2, 0, 4), (
            reconciliation.GetProperty("created").GetInt32(), reconciliation.GetProperty("confirmationsDrained").GetInt32(),
            reconciliation.GetProperty("sidesConfirmed").GetInt32(), reconciliation.GetProperty("done").GetInt32(),
            reconciliation.GetProperty("failed").GetInt32(), reconciliation.GetProperty("doneEventsDrained").GetInt32()));
        Assert.All(reconciliation.GetProperty("requests").EnumerateArray().ToList(), r => Assert.True(r.GetProperty("verified").GetBoolean()));
        Assert.Equal(2, reconciliation.GetProperty("requests").GetArrayLength());

        // And nothing it printed looks like a token
        Assert.DoesNotMatch("(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])", stdout.ToString() + stderr.ToString());
    }
}
