using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Applocks on both users serialize merges that share a user; others run in parallel; a kill leaves nothing.</summary>
public sealed class UserMergeConcurrencyTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Two_merges_of_one_source_started_together_serialize_and_the_second_is_refused_cleanly()
    {
        var src = await Seed.UserAsync("s@x.test");
        var t1 = await Seed.UserAsync("t1@x.test");
        var t2 = await Seed.UserAsync("t2@x.test");
        for (var i = 0; i < 200; i++)
        {
            await Seed.CollectionAsync(src, $"c{i}");
        }

        var outcomes = await Task.WhenAll(Attempt(src, t1), Attempt(src, t2));

        foreach (var o in outcomes)
        {
            Output.WriteLine(o.Result is { } r ? $"committed run {r.MergeRunId}" : $"error {o.Error!.ErrorNumber}: {o.Error.Message}");
        }

        var winner = Assert.Single(outcomes, o => o.Result is not null);
        var loser = Assert.Single(outcomes, o => o.Error is not null);
        Assert.Equal(ErrorRegistry.MergeSourceAlreadyMerged, loser.Error!.ErrorNumber);
        Assert.Equal(200, Row(winner.Result!, "Collection", "OwnerUserId").Moved);
        var into = await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @S;", ("@S", src));
        Assert.Equal(200, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @T;", ("@T", into)));
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
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    [Fact]
    public async Task A_merge_killed_while_it_waits_leaves_nothing_changed_and_no_lock_held()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001", src);
        await Seed.AccessAsync(d, src, "owner");
        var before = await FingerprintAsync(includeHistory: true);

        // The merge takes the lower id's lock first (src or t), then blocks on the higher one, which the test holds.
        var blocked = Math.Max(src, t);
        var holder = await HoldUserLockAsync(blocked);
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(5));

        await using var master = new SqlConnection(Fixture.MasterConnectionString);
        await master.OpenAsync(Ct);
        int? session = null;
        for (var attempt = 0; attempt < 100 && session is null; attempt++)
        {
            await using var find = new SqlCommand(
                "SELECT TOP (1) l.request_session_id FROM sys.dm_tran_locks AS l WHERE l.resource_type = N'APPLICATION' " +
                "AND l.request_status = N'WAIT' AND l.resource_database_id = DB_ID(@Db);", master);
            find.Parameters.AddWithValue("@Db", new SqlConnectionStringBuilder(ConnectionString).InitialCatalog);
            session = await find.ExecuteScalarAsync(Ct) as int?;
            if (session is null)
            {
                await Task.Delay(100, Ct);
            }
        }

        Assert.NotNull(session);
        Output.WriteLine($"killing session {session}");
        await using (var kill = new SqlCommand($"KILL {session.Value};", master))
        {
            await kill.ExecuteNonQueryAsync(Ct);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => merge);
        await holder.DisposeAsync();
        SqlConnection.ClearAllPools();

        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));
        await using var locks = new SqlCommand(
            "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND resource_database_id = DB_ID(@Db);", master);
        locks.Parameters.AddWithValue("@Db", new SqlConnectionStringBuilder(ConnectionString).InitialCatalog);
        Assert.Equal(0, (int)(await locks.ExecuteScalarAsync(Ct))!);
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
