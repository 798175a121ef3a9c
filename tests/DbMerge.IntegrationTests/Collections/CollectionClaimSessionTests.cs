using System.Data;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>api.Collection_ClaimSession against SQL Server (issue 13): the login claim of a session's anonymous collections.</summary>
public sealed class CollectionClaimSessionTests(SqlServerFixture fixture, ITestOutputHelper output) : CollectionTestBase(fixture, output)
{
    [Fact]
    public async Task A_session_claim_moves_exactly_that_sessions_collections_to_the_user_and_returns_them()
    {
        // Given the world: Ada's session holds four collections, another session one, accounts own theirs
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        // When Ada claims her session
        var result = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, "test", cancellationToken: Ct);

        // Then exactly the four session collections are hers, returned in id order, and nothing else changed
        await DumpClaimsAsync();
        var session = new[] { w["s.favourites"], w["s.reading"], w["s.poems"], w["s.poems.lower"] };
        Assert.Equal(session, result.Collections.Select(c => c.CollectionId).ToArray());
        Assert.Equal(4, result.ClaimedCount);
        Assert.NotNull(result.ClaimId);
        Assert.Equal(w.Ada, result.ClaimedByUserId);
        Assert.All(result.Collections, c => Assert.Null(c.FromUserId));
        var now = await CollectionsAsync(session);
        Assert.Equal(4, now.Count);
        Assert.All(now.Values, c => Assert.Equal((w.Ada, (string?)null), (c.Owner!.Value, c.Session)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE AnonymousSessionId = @S;", ("@S", CollectionWorld.AdaSession)));

        var after = await SnapshotAsync();
        var untouched = new[] { "other.other", "ada.reading", "ada.poems2", "old.reading", "old.poems", "older.poems", "older.letters", "merged.left", "carol.list", "bob.list" };
        foreach (var key in untouched)
        {
            var row = before.Single(r => r.StartsWith($"{w[key]} owner", StringComparison.Ordinal));
            Assert.Contains(row, after);
        }

        // And the claim is recorded with its four items, the session kept only as a hash
        var claim = Assert.Single(await RowsAsync("SELECT Kind, UserId, SessionIdHash, LegacyUserId, RequestedBy, CollectionCount, RenamedCount FROM dbmerge.CollectionClaim;"));
        Assert.Equal(("session", w.Ada, 4, 2, "test"), ((string)claim["Kind"]!, (int)claim["UserId"]!, (int)claim["CollectionCount"]!, (int)claim["RenamedCount"]!, (string)claim["RequestedBy"]!));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(CollectionWorld.AdaSession)), (byte[])claim["SessionIdHash"]!);
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaimItem WHERE ClaimId = @C AND ToUserId = @U AND FromUserId IS NULL;", ("@C", result.ClaimId), ("@U", w.Ada)));
    }

    [Fact]
    public async Task A_name_the_user_already_has_is_kept_twice_and_the_claimed_one_becomes_the_next_free_number()
    {
        // Given Ada with "Reading list" and "Poems (2)", her session with "Favourites", "Reading list", "Poems", "poems"
        var w = await GivenTheWorldAsync();

        // When she claims it
        var result = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);

        // Then "Favourites" and the first "Poems" keep their names; "Reading list" becomes "Reading list (2)"; "poems"
        // (equal to the kept "Poems", case-insensitively) skips "poems (2)" (Ada's "Poems (2)") and becomes "poems (3)"
        var byId = result.Collections.ToDictionary(c => c.CollectionId);
        Assert.Equal(("Favourites", false), (byId[w["s.favourites"]].Name, byId[w["s.favourites"]].Renamed));
        Assert.Equal(("Reading list (2)", "Reading list", true), (byId[w["s.reading"]].Name, byId[w["s.reading"]].OriginalName, byId[w["s.reading"]].Renamed));
        Assert.Equal(("Poems", false), (byId[w["s.poems"]].Name, byId[w["s.poems"]].Renamed));
        Assert.Equal(("poems (3)", "poems", true), (byId[w["s.poems.lower"]].Name, byId[w["s.poems.lower"]].OriginalName, byId[w["s.poems.lower"]].Renamed));
        Assert.Equal(2, result.RenamedCollections.Count);

        // And both of each colliding pair exist, with the names the result reported
        Assert.Equal(["Reading list", "Poems (2)", "Favourites", "Reading list (2)", "Poems", "poems (3)"], await NamesOfAsync(w.Ada));
    }

    [Fact]
    public async Task A_name_with_two_spaces_before_its_number_does_not_take_that_number_from_a_claimed_name()
    {
        // Given Ada owning "Diary" and "Diary  (2)" (two spaces: not equal to "Diary (2)", '=' pads only trailing
        // spaces), and a session holding "Diary"
        var w = await GivenTheWorldAsync();
        await ExecAsync("INSERT INTO app.Collection (Name, OwnerUserId) VALUES (N'Diary', @U), (N'Diary  (2)', @U);", ("@U", w.Ada));
        await ExecAsync("INSERT INTO app.Collection (Name, AnonymousSessionId) VALUES (N'Diary', 'diary-session');");

        // When she claims that session
        var result = await Client.ClaimSessionCollectionsAsync("diary-session", w.Ada, cancellationToken: Ct);

        // Then the claimed one is "Diary (2)": the smallest k whose "Diary (k)" she does not have
        var c = Assert.Single(result.Collections);
        Assert.Equal(("Diary (2)", "Diary", true), (c.Name, c.OriginalName, c.Renamed));
    }

    [Fact]
    public async Task A_long_colliding_name_is_cut_to_leave_room_for_its_number_and_never_exceeds_200_characters()
    {
        // Given Ada owning a 200-character name (ending in a surrogate pair at the cut) and her session holding the same name
        var w = await GivenTheWorldAsync();
        var name = new string('x', 195) + "\U0001F600" + "end"; // 195 + 2 code units + 3 = 200
        Assert.Equal(200, name.Length);
        await ExecAsync("INSERT INTO app.Collection (Name, OwnerUserId) VALUES (@N, @U);", ("@N", name), ("@U", w.Ada));
        var claimed = await ScalarAsync<int>("INSERT INTO app.Collection (Name, AnonymousSessionId) OUTPUT inserted.CollectionId VALUES (@N, 'long-name-session');", ("@N", name));

        // When she claims that session
        var result = await Client.ClaimSessionCollectionsAsync("long-name-session", w.Ada, cancellationToken: Ct);

        // Then the claimed one is cut before the surrogate pair (196 code units would split it) and ends in " (2)"
        var c = Assert.Single(result.Collections);
        Assert.Equal(claimed, c.CollectionId);
        Assert.True(c.Renamed);
        Assert.Equal(new string('x', 195) + " (2)", c.Name);
        Assert.True(c.Name.Length <= 200);
        Assert.Equal(c.Name, await ScalarAsync<string>("SELECT Name FROM app.Collection WHERE CollectionId = @C;", ("@C", claimed)));
    }

    [Fact]
    public async Task Claiming_a_session_again_claims_nothing_is_not_an_error_and_writes_no_audit_row()
    {
        // Given Ada already claimed her session
        var w = await GivenTheWorldAsync();
        var first = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);
        var before = await SnapshotAsync();

        // When she claims it again
        var second = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);

        // Then nothing is claimed, the result says she holds the collections, and nothing changed (no second claim row)
        Assert.Equal(4, first.ClaimedCount);
        Assert.Empty(second.Collections);
        Assert.Null(second.ClaimId);
        Assert.Equal(w.Ada, second.ClaimedByUserId);
        Assert.False(second.ClaimedByAnotherUser);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaim;"));
    }

    [Fact]
    public async Task A_session_without_collections_claims_nothing_and_names_nobody()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        var result = await Client.ClaimSessionCollectionsAsync("never-used-session", w.Ada, cancellationToken: Ct);

        Assert.Empty(result.Collections);
        Assert.Null(result.ClaimId);
        Assert.Null(result.ClaimedByUserId);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task After_another_user_claimed_the_session_a_claim_gets_nothing_and_says_who_has_them()
    {
        var w = await GivenTheWorldAsync();
        await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Bob, cancellationToken: Ct);

        var late = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);

        Assert.Empty(late.Collections);
        Assert.Equal(w.Bob, late.ClaimedByUserId);
        Assert.True(late.ClaimedByAnotherUser);
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @B AND CollectionId IN (@a, @b, @c, @d);",
            ("@B", w.Bob), ("@a", w["s.favourites"]), ("@b", w["s.reading"]), ("@c", w["s.poems"]), ("@d", w["s.poems.lower"])));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_users_claiming_one_session_at_once_exactly_one_gets_the_collections_and_the_other_is_told_so(bool readCommittedSnapshot)
    {
        // Given (with READ_COMMITTED_SNAPSHOT as given) the world, and a third connection holding the session's rows
        // exclusively, so that one claim queues on the rows and the other on the session's applock
        if (readCommittedSnapshot)
        {
            await UseOwnDatabaseAsync(); // changes a database option
            await ExecAsync($"ALTER DATABASE [{DatabaseName}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE;");
            SqlConnection.ClearAllPools(); // ROLLBACK IMMEDIATE ended the pooled sessions of this database
            Assert.True(await ScalarAsync<bool>("SELECT is_read_committed_snapshot_on FROM sys.databases WHERE database_id = DB_ID();"));
        }

        var w = await GivenTheWorldAsync();
        var session = new[] { w["s.favourites"], w["s.reading"], w["s.poems"], w["s.poems.lower"] };
        Task<Outcome<CollectionClaimResult>> adaClaim, bobClaim;
        await using (var holder = await HoldAsync(
                         $"UPDATE app.Collection SET UpdatedAt = UpdatedAt WHERE AnonymousSessionId = '{CollectionWorld.AdaSession}' AND AnonymousSessionId IS NOT NULL;"))
        {
            // When Ada and Bob claim it at once, and both are seen waiting for a lock
            adaClaim = Task.Run(() => TryAsync(() => Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct)), Ct);
            bobClaim = Task.Run(() => TryAsync(() => Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Bob, cancellationToken: Ct)), Ct);
            await WaitForLockWaitersAsync(2, "both claims waiting for the session's rows");
            Assert.NotEmpty(await LockWaitersAsync(blockedBy: holder.Session));
            Assert.False(adaClaim.IsCompleted || bobClaim.IsCompleted);

            // and the holder lets go (its transaction changed nothing)
        }

        var outcomes = await Task.WhenAll(adaClaim, bobClaim);

        // Then one got all four collections, the other none and no error, and its result names the winner
        await DumpClaimsAsync();
        Assert.All(outcomes, o => Assert.Null(o.Error));
        var winner = Assert.Single(outcomes, o => o.Result!.ClaimedCount == 4).Result!;
        var loser = Assert.Single(outcomes, o => o.Result!.ClaimedCount == 0).Result!;
        Assert.Equal(winner.UserId, loser.ClaimedByUserId);
        Assert.True(loser.ClaimedByAnotherUser);
        Assert.Null(loser.ClaimId);
        var now = await CollectionsAsync(session);
        Assert.Equal(4, now.Count);
        Assert.All(now.Values, c => Assert.Equal(winner.UserId, c.Owner));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaim;"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_direct_claims_of_one_session_serialize_on_its_applock_and_the_loser_gets_nothing_without_any_error_not_even_a_deadlock(bool readCommittedSnapshot)
    {
        // Given (with READ_COMMITTED_SNAPSHOT as given) the world, and a third connection holding the session's rows
        // exclusively, so that the first claim waits on the rows
        if (readCommittedSnapshot)
        {
            await UseOwnDatabaseAsync(); // changes a database option
            await ExecAsync($"ALTER DATABASE [{DatabaseName}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE;");
            SqlConnection.ClearAllPools();
            Assert.True(await ScalarAsync<bool>("SELECT is_read_committed_snapshot_on FROM sys.databases WHERE database_id = DB_ID();"));
        }

        var w = await GivenTheWorldAsync();
        Task<(int Rows, int? ClaimedBy)> ada, bob;
        await using (var holder = await HoldAsync(
                         $"UPDATE app.Collection SET UpdatedAt = UpdatedAt WHERE AnonymousSessionId = '{CollectionWorld.AdaSession}' AND AnonymousSessionId IS NOT NULL;"))
        {
            // When Ada and Bob call api.Collection_ClaimSession directly - no client, so no deadlock retry - at once
            ada = Task.Run(() => ClaimDirectlyAsync(CollectionWorld.AdaSession, w.Ada), Ct);
            bob = Task.Run(() => ClaimDirectlyAsync(CollectionWorld.AdaSession, w.Bob), Ct);

            // Then one waits for the held rows and the other for the session's applock (not for the rows: the two
            // never meet on row locks, where the waiter's U lock on the filtered index key could deadlock the winner)
            await WaitUntilAsync(
                async () => (await LockWaitersAsync(blockedBy: holder.Session)).Count == 1 && await ScalarAsync<int>(ApplockWaiters) == 1,
                TimeSpan.FromSeconds(30),
                "one claim waiting for the session's rows and the other for the session's applock");
            foreach (var (session, waitType, resource) in await LockWaitersAsync())
            {
                Output.WriteLine($"waiting: session {session} {waitType} {resource}");
            }

            Assert.False(ada.IsCompleted || bob.IsCompleted);
        }

        // And once the holder lets go, both calls succeed (a SqlException - 1205 included - fails the test here):
        // one got the four collections, the other none, and its @ClaimedByUserId names the winner
        var outcomes = await Task.WhenAll(ada, bob);
        await DumpClaimsAsync();
        var users = new[] { w.Ada, w.Bob };
        var winner = Assert.Single(Enumerable.Range(0, 2), i => outcomes[i].Rows == 4);
        var loser = 1 - winner;
        Assert.Equal((0, (int?)users[winner]), outcomes[loser]);
        Assert.Equal(users[winner], outcomes[winner].ClaimedBy);
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @U AND CollectionId IN (@a, @b, @c, @d);",
            ("@U", users[winner]), ("@a", w["s.favourites"]), ("@b", w["s.reading"]), ("@c", w["s.poems"]), ("@d", w["s.poems.lower"])));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaim;"));
    }

    [Fact]
    public async Task A_claim_of_6000_collections_moves_them_all_in_batches_without_escalating_to_a_table_lock()
    {
        // Given a session with 6000 collections (more than the 5000 locks that trigger escalation for one statement)
        var w = await GivenTheWorldAsync();
        await ExecAsync("""
            INSERT INTO app.Collection (Name, AnonymousSessionId)
            SELECT TOP (6000) CONCAT(N'c', ROW_NUMBER() OVER (ORDER BY (SELECT NULL))), 'big-session'
            FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b;
            """);
        var escalations = "SELECT ISNULL(SUM(s.index_lock_promotion_count), 0) FROM sys.dm_db_index_operational_stats(DB_ID(), OBJECT_ID(N'app.Collection'), NULL, NULL) AS s;";
        var before = await ScalarAsync<long>(escalations);

        // When Ada claims it
        var result = await Client.ClaimSessionCollectionsAsync("big-session", w.Ada, cancellationToken: Ct);

        // Then all 6000 are hers and app.Collection saw no lock escalation
        Assert.Equal(6000, result.ClaimedCount);
        Assert.Equal(6000, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaimItem WHERE ClaimId = @C;", ("@C", result.ClaimId)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE AnonymousSessionId = 'big-session';"));
        Assert.Equal(before, await ScalarAsync<long>(escalations));
    }

    [Fact]
    public async Task A_claim_waiting_longer_than_the_callers_lock_timeout_for_a_users_applock_is_refused_with_51564()
    {
        // Given a session holding the applock a user merge of Ada would hold
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();
        await using var holder = await OpenAsync();
        await using (var take = new SqlCommand(
                         "DECLARE @R int; EXEC @R = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @R;",
                         holder))
        {
            take.Parameters.AddWithValue("@Resource", $"DbMerge.User:{w.Ada}");
            Assert.True((int)(await take.ExecuteScalarAsync(Ct))! >= 0);
        }

        // When Ada claims her session with a 300 ms lock timeout
        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            "SET LOCK_TIMEOUT 300; EXEC api.Collection_ClaimSession @SessionId = @S, @UserId = @U;", ("@S", CollectionWorld.AdaSession), ("@U", w.Ada)));

        // Then it is refused with the lock-timeout number, naming the applock, and nothing changed
        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.CollectionLockTimeout, error.Number);
        Assert.Equal(DbMergeErrorKind.LockTimeout, ErrorRegistry.Get(error.Number).Kind);
        Assert.Contains($"DbMerge.User:{w.Ada}", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_claim_waiting_longer_than_the_callers_lock_timeout_for_the_sessions_applock_is_refused_with_51564()
    {
        // Given a session holding the applock another claim of Ada's session would hold: DbMerge.Session:<SHA-256 hex>
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();
        var resource = "DbMerge.Session:" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(CollectionWorld.AdaSession)));
        await using var holder = await OpenAsync();
        await using (var take = new SqlCommand(
                         "DECLARE @R int; EXEC @R = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @R;",
                         holder))
        {
            take.Parameters.AddWithValue("@Resource", resource);
            Assert.True((int)(await take.ExecuteScalarAsync(Ct))! >= 0);
        }

        // When Ada claims her session with a 300 ms lock timeout
        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            "SET LOCK_TIMEOUT 300; EXEC api.Collection_ClaimSession @SessionId = @S, @UserId = @U;", ("@S", CollectionWorld.AdaSession), ("@U", w.Ada)));

        // Then it is refused with the lock-timeout number, the message does not echo the session id, and nothing changed
        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.CollectionLockTimeout, error.Number);
        Assert.Contains("the session's applock", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(CollectionWorld.AdaSession, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_claim_waiting_longer_than_the_callers_lock_timeout_for_the_users_row_is_refused_with_51564_not_the_engines_1222()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();
        SqlException error;
        await using (await HoldAsync("UPDATE app.[User] SET UpdatedAt = UpdatedAt WHERE UserId = @U;", ("@U", w.Ada)))
        {
            error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
                "SET LOCK_TIMEOUT 300; EXEC api.Collection_ClaimSession @SessionId = @S, @UserId = @U;", ("@S", CollectionWorld.AdaSession), ("@U", w.Ada)));
        }

        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.CollectionLockTimeout, error.Number);
        Assert.Contains("engine error 1222", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("carol")]
    [InlineData("merged")]
    [InlineData("missing")]
    public async Task Only_an_active_user_may_claim_and_a_refusal_changes_nothing(string who)
    {
        var w = await GivenTheWorldAsync();
        var user = who switch { "carol" => w.Carol, "merged" => w.AdaMerged, _ => int.MaxValue };
        var before = await SnapshotAsync();

        await AssertRefusedAsync(ErrorRegistry.CollectionUserNotFoundOrInactive,
            () => Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, user, cancellationToken: Ct));

        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("abc ")]
    [InlineData("a b")]
    [InlineData("sessé")]
    [InlineData("q9\tz")]
    [InlineData("x-65")]
    public async Task A_blank_spaced_non_ASCII_or_over_long_session_id_is_refused_with_51551(string sessionId)
    {
        var w = await GivenTheWorldAsync();
        var id = sessionId == "x-65" ? new string('x', 65) : sessionId;
        var before = await SnapshotAsync();

        var error = await AssertRefusedAsync(ErrorRegistry.CollectionSessionIdInvalid, () => Client.ClaimSessionCollectionsAsync(id, w.Ada, cancellationToken: Ct));

        Assert.IsType<DbMergeInvalidArgumentException>(error);
        Assert.DoesNotContain(id.Trim().Length > 0 ? id.Trim() : "\u0000", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_session_id_of_64_characters_is_accepted()
    {
        var w = await GivenTheWorldAsync();
        var id = new string('y', 64);
        await ExecAsync("INSERT INTO app.Collection (Name, AnonymousSessionId) VALUES (N'Max', @S);", ("@S", id));

        var result = await Client.ClaimSessionCollectionsAsync(id, w.Ada, cancellationToken: Ct);

        Assert.Equal("Max", Assert.Single(result.Collections).Name);
    }

    [Fact]
    public async Task A_NULL_user_or_session_id_is_refused_before_any_work()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        var noUser = await Assert.ThrowsAsync<SqlException>(() => ExecAsync("EXEC api.Collection_ClaimSession @SessionId = N'abc', @UserId = NULL;"));
        var noSession = await Assert.ThrowsAsync<SqlException>(() => ExecAsync("EXEC api.Collection_ClaimSession @SessionId = NULL, @UserId = @U;", ("@U", w.Ada)));

        Assert.Equal(ErrorRegistry.CollectionParameterInvalid, noUser.Number);
        Assert.Equal(ErrorRegistry.CollectionSessionIdInvalid, noSession.Number);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_session_claim_cannot_be_undone()
    {
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);
        var before = await SnapshotAsync();

        await AssertRefusedAsync(ErrorRegistry.CollectionClaimNotUndoable, () => Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, cancellationToken: Ct));

        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task The_core_refuses_to_run_without_its_callers_transaction()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            "DECLARE @C bigint, @N int, @R int; EXEC dbmerge.Collection_ClaimCore @UserId = @U, @SessionId = @S, @LegacyUserId = NULL, @RequestedBy = N'test', @ClaimId = @C OUTPUT, @ClaimedCount = @N OUTPUT, @RenamedCount = @R OUTPUT;",
            ("@U", w.Ada), ("@S", CollectionWorld.AdaSession)));

        Assert.Equal(ErrorRegistry.CollectionCoreRequiresTransaction, error.Number);
        Assert.Equal(before, await SnapshotAsync());
    }

    /// <summary>Application locks of this database some session waits for (only claims take them in these tests).</summary>
    private const string ApplockWaiters =
        "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_database_id = DB_ID() AND resource_type = N'APPLICATION' AND request_status = N'WAIT';";

    /// <summary>api.Collection_ClaimSession on its own connection, without the client (which retries a deadlock victim): rows returned, @ClaimedByUserId.</summary>
    private async Task<(int Rows, int? ClaimedBy)> ClaimDirectlyAsync(string sessionId, int userId)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqlCommand("api.Collection_ClaimSession", connection) { CommandType = CommandType.StoredProcedure, CommandTimeout = 120 };
        command.Parameters.Add(new SqlParameter("@SessionId", SqlDbType.NVarChar, 4000) { Value = sessionId });
        command.Parameters.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = userId });
        var claimedBy = command.Parameters.Add(new SqlParameter("@ClaimedByUserId", SqlDbType.Int) { Direction = ParameterDirection.Output });
        var rows = 0;
        await using (var reader = await command.ExecuteReaderAsync(Ct))
        {
            while (await reader.ReadAsync(Ct))
            {
                rows++;
            }
        }

        return (rows, claimedBy.Value is int by ? by : null);
    }
}
