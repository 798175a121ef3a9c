using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Applocks on both users serialize merges that share a user; others run in parallel (a killed merge: UserMergeLockingTests).</summary>
public sealed class UserMergeConcurrencyTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Two_merges_of_one_source_waiting_together_serialize_and_the_second_is_refused_under_the_lock()
    {
        // Given a source with 200 collections and two targets; the source has the lowest id, so both merges lock it first
        var src = await Seed.UserAsync("s@x.test");
        var t1 = await Seed.UserAsync("t1@x.test");
        var t2 = await Seed.UserAsync("t2@x.test");
        Assert.True(src < t1 && src < t2);
        for (var i = 0; i < 200; i++)
        {
            await Seed.CollectionAsync(src, $"c{i}");
        }

        // When both merges start while the test holds the source's lock, and both are seen waiting for it — past
        // api.User_Merge's pre-check, which both passed while the source was still active — before it is released
        var outcomes = new List<Task<Outcome>>();
        await using (var holder = await HoldUserLockAsync(src))
        {
            outcomes.Add(Attempt(src, t1));
            outcomes.Add(Attempt(src, t2));
            await WaitUntilAsync(async () => await ApplockWaitersAsync() == 2, TimeSpan.FromSeconds(30), "both merges to wait for the source's applock");
        }

        var done = await Task.WhenAll(outcomes);

        // Then one merged, and the other was refused by the core's re-check under the lock (not by the pre-check)
        foreach (var o in done)
        {
            Output.WriteLine(o.Result is { } r ? $"committed run {r.MergeRunId}" : $"error {o.Error!.ErrorNumber}: {o.Error.Message}");
        }

        var winner = Assert.Single(done, o => o.Result is not null);
        var loser = Assert.Single(done, o => o.Error is not null);
        Assert.Equal(ErrorRegistry.MergeSourceAlreadyMerged, loser.Error!.ErrorNumber);
        Assert.StartsWith("dbmerge.User_MergeCore:", loser.Error.Message, StringComparison.Ordinal);
        Assert.Equal(200, Row(winner.Result!, "Collection", "OwnerUserId").Moved);
        var into = await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @S;", ("@S", src));
        Assert.Contains(into, new[] { t1, t2 });
        Assert.Equal(200, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @T;", ("@T", into)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId <> @T;", ("@T", into)));
    }

    [Fact]
    public async Task Two_merges_into_one_target_started_together_both_succeed_one_after_the_other()
    {
        var t = await Seed.UserAsync("t@x.test");
        var a = await Seed.UserAsync("a@x.test");
        var b = await Seed.UserAsync("b@x.test");
        var d = await Seed.DocumentAsync("0000001");
        await Seed.AccessAsync(d, a, "editor");
        await Seed.AccessAsync(d, b, "owner");

        var outcomes = await Task.WhenAll(Attempt(a, t), Attempt(b, t));

        Assert.All(outcomes, o => Assert.Null(o.Error));
        Assert.Equal("owner", await ScalarAsync<string>("SELECT Role FROM app.DocumentAccess WHERE DocumentId = @D AND UserId = @T;", ("@D", d), ("@T", t)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentAccess WHERE DocumentId = @D;", ("@D", d)));
    }

    [Fact]
    public async Task Ten_merges_of_disjoint_pairs_in_parallel_all_succeed()
    {
        var pairs = new List<(int Source, int Target)>();
        for (var i = 0; i < 10; i++)
        {
            var t = await Seed.UserAsync($"t{i}@x.test");
            var s = await Seed.UserAsync($"s{i}@x.test");
            var d = await Seed.DocumentAsync($"{i:D7}", s);
            await Seed.AccessAsync(d, s, "owner");
            await Seed.LinkTraceAsync(d, s);
            await Seed.LinkTraceAsync(d, t);
            pairs.Add((s, t));
        }

        var outcomes = await Task.WhenAll(pairs.Select(p => Attempt(p.Source, p.Target)));

        foreach (var o in outcomes.Where(o => o.Error is not null))
        {
            Output.WriteLine($"error {o.Error!.ErrorNumber}: {o.Error.Message}");
        }

        Assert.All(outcomes, o => Assert.NotNull(o.Result));
        Assert.Equal(10, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE Status = 'committed';"));
        Assert.Equal(10, await ScalarAsync<int>("SELECT COUNT(*) FROM app.[User] WHERE MergedIntoUserId IS NOT NULL;"));
    }

    [Fact]
    public async Task A_merge_waiting_longer_than_its_lock_timeout_is_refused_with_the_lock_timeout_number()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await using var holder = await HoldUserLockAsync(t);

        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => MergeAsync(src, t, lockTimeout: TimeSpan.FromMilliseconds(300)));

        Assert.Equal(ErrorRegistry.MergeLockTimeout, error.ErrorNumber);
        Assert.IsType<DbMergeLockTimeoutException>(error);
        Assert.Contains($"DbMerge.User:{t}", error.Message);
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    private sealed record Outcome(UserMergeResult? Result, DbMergeException? Error);

    private async Task<Outcome> Attempt(int source, int target)
    {
        try
        {
            return new Outcome(await MergeAsync(source, target, lockTimeout: TimeSpan.FromSeconds(30)), null);
        }
        catch (DbMergeException ex)
        {
            return new Outcome(null, ex);
        }
    }

    /// <summary>Requests waiting for an applock (sp_getapplock) in this test's database.</summary>
    private Task<int> ApplockWaitersAsync() =>
        ScalarAsync<int>("SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND request_status = N'WAIT' AND resource_database_id = DB_ID();");

    /// <summary>Holds the applock a merge takes on <paramref name="userId"/> (session-owned) until disposed.</summary>
    private async Task<LockHolder> HoldUserLockAsync(int userId)
    {
        var connection = await OpenAsync();
        var resource = $"DbMerge.User:{userId}";
        await using var command = new SqlCommand(
            "DECLARE @R int; EXEC @R = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @R;",
            connection);
        command.Parameters.AddWithValue("@Resource", resource);
        Assert.True((int)(await command.ExecuteScalarAsync(Ct))! >= 0);
        return new LockHolder(connection, resource);
    }

    private sealed class LockHolder(SqlConnection connection, string resource) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using (var release = new SqlCommand("EXEC sys.sp_releaseapplock @Resource = @Resource, @LockOwner = N'Session';", connection))
            {
                release.Parameters.AddWithValue("@Resource", resource);
                await release.ExecuteNonQueryAsync(CancellationToken.None);
            }

            await connection.DisposeAsync();
        }
    }
}
