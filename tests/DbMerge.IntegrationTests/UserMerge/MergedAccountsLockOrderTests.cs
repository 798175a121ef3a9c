using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// (review 14, lock order) api.Invitation_Create and api.Invitation_Revoke lock, ascending UserId, the sender's row and
/// those of every account holding the invitation's address (UPDLOCK, HOLDLOCK through the clustered key, nested loops
/// over a table variable) — often the merge's source S and a legacy account M merged into it, sharing its address. The
/// merge used to take S and T exclusively in L2 and M only at its last step (app.User.MergedIntoUserId): a create holding
/// M and waiting for S deadlocked with it. Now the merge (and the unmerge) U-locks {M, S, T} ascending in L2 before
/// anything else. Each test holds M exactly as Invitation_Create does, starts the merge (unmerge) on another connection,
/// and sees it wait for M's key before it holds any X lock on S or T — so the create's next lock, S's row, is granted.
/// </summary>
public sealed class MergedAccountsLockOrderTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    /// <summary>Invitation_Create's L2 lock (api.Invitation_Create step 2) of the given users; no result set.</summary>
    private const string CreateLikeLock = """
        DECLARE @LockUser TABLE (UserId int NOT NULL PRIMARY KEY);
        DECLARE @LockedUsers int;
        INSERT INTO @LockUser (UserId) VALUES (@U);
        SELECT @LockedUsers = COUNT(*)
        FROM @LockUser AS lu
        JOIN app.[User] AS u WITH (UPDLOCK, HOLDLOCK, ROWLOCK)
          ON u.UserId = lu.UserId
        OPTION (FORCE ORDER, LOOP JOIN);
        """;

    [Fact]
    public async Task A_merge_waits_for_a_legacy_account_of_its_source_held_as_Invitation_Create_holds_it_before_taking_any_exclusive_lock_on_the_source_or_target()
    {
        // Given a legacy account M merged into the source S (the same address; M < S < T, as in the cycle) and the target T
        var (legacy, src, t) = await SeedLegacyAsync();

        // and a transaction that has locked M as Invitation_Create locks an address's accounts (it would lock S next)
        await using var creator = await HoldAsync(CreateLikeLock, ("@U", legacy));

        // When the merge S → T starts on another connection
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, waitType, _) = await WaitForOneBlockedAsync(creator, "the merge to wait for the legacy account's row");

        // Then it waits for M's key of PK_app_User (a U request) and holds no X lock on S or T, nor any lock of an L3 table
        var locks = await UserKeyLocksAsync(session);
        Dump($"app.User key locks of merge session {session}", locks);
        Assert.Equal("LCK_M_U", waitType);
        var m = await KeyOfAsync(legacy);
        Assert.Contains(locks, l => (string)l["Resource"]! == m && (string)l["Status"]! == "WAIT");
        var s = await KeyOfAsync(src);
        var tk = await KeyOfAsync(t);
        Assert.DoesNotContain(locks, l => ((string)l["Resource"]! == s || (string)l["Resource"]! == tk) && (string)l["Mode"]! == "X");
        Assert.Equal(0, await OtherAppTableLocksAsync(session));

        // and the create side can go on to lock S (its next user row, ascending): granted at once
        Assert.Equal(1, await LockOnHolderAsync(creator, src));

        // When the create side commits its work (here: rolls back), the merge proceeds and commits
        await creator.DisposeAsync();
        var result = await merge;
        DumpSummary(result);
        Assert.Equal("committed", (await Client.GetMergeRunAsync(result.MergeRunId, Ct)).Run.Status);
        Assert.Equal(1, Row(result, "User", "MergedIntoUserId").Moved);
        Assert.Equal(t, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @M;", ("@M", legacy)));
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
    }

    [Fact]
    public async Task An_unmerge_waits_for_an_account_its_run_re_pointed_held_as_Invitation_Create_holds_it_before_taking_any_exclusive_lock_on_the_source_or_target()
    {
        // Given a committed merge S → T that re-pointed the legacy account M (merged into S before) to T
        var (legacy, src, t) = await SeedLegacyAsync();
        var merged = await MergeAsync(src, t);
        Assert.Equal(1, Row(merged, "User", "MergedIntoUserId").Moved);

        // and a transaction that has locked M as Invitation_Create does
        await using var creator = await HoldAsync(CreateLikeLock, ("@U", legacy));

        // When its undo starts on another connection
        var undo = UnmergeAsync(merged.MergeRunId, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, waitType, _) = await WaitForOneBlockedAsync(creator, "the unmerge to wait for the re-pointed account's row");

        // Then it waits for M's key (a U request) and holds no X lock on S or T, nor any lock of an L3 table
        var locks = await UserKeyLocksAsync(session);
        Dump($"app.User key locks of unmerge session {session}", locks);
        Assert.Equal("LCK_M_U", waitType);
        var m = await KeyOfAsync(legacy);
        Assert.Contains(locks, l => (string)l["Resource"]! == m && (string)l["Status"]! == "WAIT");
        var s = await KeyOfAsync(src);
        var tk = await KeyOfAsync(t);
        Assert.DoesNotContain(locks, l => ((string)l["Resource"]! == s || (string)l["Resource"]! == tk) && (string)l["Mode"]! == "X");
        Assert.Equal(0, await OtherAppTableLocksAsync(session));

        // and the create side can lock S next
        Assert.Equal(1, await LockOnHolderAsync(creator, src));

        // When the create side ends, the unmerge commits: M points at S again
        await creator.DisposeAsync();
        var result = await undo;
        DumpUnmerge(result);
        Assert.Equal(src, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @M;", ("@M", legacy)));
        Assert.True(await ScalarAsync<bool>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>M (inactive, merged into S, S's address), then S, then T: ascending ids M &lt; S &lt; T.</summary>
    private async Task<(int Legacy, int Source, int Target)> SeedLegacyAsync()
    {
        var legacy = await Seed.UserAsync("s@x.test", active: false);
        var src = await Seed.UserAsync("s@x.test");
        var t = await Seed.UserAsync("t@x.test");
        Assert.Equal(1, await ExecAsync("UPDATE app.[User] SET MergedIntoUserId = @S WHERE UserId = @M;", ("@S", src), ("@M", legacy)));
        Assert.True(legacy < src && src < t, $"ids {legacy}, {src}, {t} must ascend");
        return (legacy, src, t);
    }

    /// <summary>The lock resource of a user's clustered key, as sys.dm_tran_locks names it.</summary>
    private async Task<string> KeyOfAsync(int userId) =>
        (await ScalarAsync<string>("SELECT %%lockres%% FROM app.[User] WITH (NOLOCK, INDEX (PK_app_User)) WHERE UserId = @U;", ("@U", userId)))!.Trim();

    /// <summary>The session's key locks (granted and waiting) on PK_app_User in this database.</summary>
    private Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> UserKeyLocksAsync(int session) =>
        RowsAsync("""
            SELECT l.request_mode AS Mode, l.request_status AS Status, RTRIM(l.resource_description) AS Resource
            FROM sys.dm_tran_locks AS l
            JOIN sys.partitions AS p ON p.hobt_id = l.resource_associated_entity_id
            WHERE l.request_session_id = @Session AND l.resource_database_id = DB_ID() AND l.resource_type = N'KEY'
              AND p.object_id = OBJECT_ID(N'app.[User]') AND p.index_id = 1
            ORDER BY l.resource_description;
            """, ("@Session", session));

    /// <summary>The session's locks on any application table but app.User (objects, or their rows and pages).</summary>
    private Task<int> OtherAppTableLocksAsync(int session) =>
        ScalarAsync<int>("""
            SELECT COUNT(*)
            FROM sys.dm_tran_locks AS l
            LEFT JOIN sys.partitions AS p ON l.resource_type IN (N'KEY', N'PAGE', N'RID', N'HOBT') AND p.hobt_id = l.resource_associated_entity_id
            WHERE l.request_session_id = @Session AND l.resource_database_id = DB_ID()
              AND OBJECT_SCHEMA_NAME(IIF(l.resource_type = N'OBJECT', CONVERT(int, l.resource_associated_entity_id), p.object_id)) = N'app'
              AND IIF(l.resource_type = N'OBJECT', CONVERT(int, l.resource_associated_entity_id), p.object_id) <> OBJECT_ID(N'app.[User]');
            """, ("@Session", session));

    /// <summary>In the holder's transaction, Invitation_Create's lock of one more user's row, within 5 s (1222 otherwise).</summary>
    private static async Task<int> LockOnHolderAsync(Blocker holder, int userId)
    {
        await using var command = new SqlCommand("SET LOCK_TIMEOUT 5000; " + CreateLikeLock + " SELECT @LockedUsers;", holder.Connection, holder.Transaction);
        command.Parameters.AddWithValue("@U", userId);
        return Convert.ToInt32(await command.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
    }
}
