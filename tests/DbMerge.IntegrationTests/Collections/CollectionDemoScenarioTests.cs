using DbMerge.Client;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>The demo's session claim at "login" (scenario.DemoMerge, dbmerge demo) against SQL Server.</summary>
public sealed class CollectionDemoScenarioTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task After_the_demo_merge_the_login_claims_the_sessions_two_collections_renaming_the_reading_list_the_merge_brought()
    {
        // Given the demo scenario in a scratch database, merged as the demo merges it
        await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
        {
            ServerConnectionString = Fixture.MasterConnectionString,
            Layout = Fixture.Layout,
            Prefix = "DbMergeTestDemoClaim",
            Log = Output.WriteLine,
        }, Ct);
        var seed = await scratch.RunScenarioAsync("DemoMerge", Ct);
        var (source, target, session) = (seed.Get<int>("SourceUserId"), seed.Get<int>("TargetUserId"), seed.Get<string>("SessionId"));
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });
        await client.MergeUsersAsync(source, target, "demo claim test", null, dryRun: false, Ct);

        // When Ada logs in twice
        var login = await client.ClaimSessionCollectionsAsync(session, target, "login", cancellationToken: Ct);
        var repeated = await client.ClaimSessionCollectionsAsync(session, target, "login again", cancellationToken: Ct);

        // Then the first login claimed "Favourites" and "Reading list (2)" (the merge had brought her a "Reading list"),
        // and the second nothing
        Assert.Equal([("Favourites", false), ("Reading list (2)", true)], login.Collections.Select(c => (c.Name, c.Renamed)).ToArray());
        Assert.Empty(repeated.Collections);
        Assert.Equal(target, repeated.ClaimedByUserId);
    }

    [Fact]
    public async Task The_demo_verb_includes_the_session_claim_at_login_and_exits_0()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, isInteractive: false, environment: _ => null);

        var exit = await DbMergeCli.InvokeAsync(["demo", "--connection", Fixture.MasterConnectionString], context, Ct);

        Output.WriteLine(stdout.ToString());
        Output.WriteLine(stderr.ToString());
        Assert.Equal(ExitCodes.Success, exit);
        Assert.Contains("claims the anonymous collections of her browser session", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("Reading list (2)  (renamed", stdout.ToString(), StringComparison.Ordinal);
        Assert.Contains("A repeated login claims nothing", stdout.ToString(), StringComparison.Ordinal);
    }
}
