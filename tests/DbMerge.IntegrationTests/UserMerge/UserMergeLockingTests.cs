using System.Diagnostics;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The merge beside a busy application (issue 9): bounded statements never escalate to a table lock; other users'
/// rows stay writable; the users' row locks make racing writes wait; a lock wait ends in 51108 / 51115 within its
/// bound; a killed merge leaves nothing and an abandoned run. Each test stops the merge at a row lock the test holds
/// in a later table (app.Collection, ApplyOrder 1160), so it inspects the merge mid-way, deterministically.
/// </summary>
public sealed class UserMergeLockingTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    private const int Rows = 20_000;

    public static TheoryData<string> LargeTables => ["Comment", "DocumentAccess", "LinkTrace"];

    [Theory]
    [MemberData(nameof(LargeTables))]
    public async Task A_merge_of_20000_rows_in_one_table_holds_no_table_lock_and_another_users_row_there_stays_writable(string table)
    {
        // Given a source with 20,000 rows in the table (a tenth colliding with the target where the policy collides),
        // another user's row in the same table, and a collection of the source the test keeps locked
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var o = await Seed.UserAsync("o@x.test");
        var (othersRow, update) = await SeedLargeAsync(table, src, t, o);
        var collection = await Seed.CollectionAsync(src);
        var promotionsBefore = await LockPromotionsAsync(table);

        // When the merge has done that table and waits for the collection's row lock
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the merge to reach app.Collection");

        // Then, seen from this session: the merge holds row (KEY) locks on the table, at least one per row, and no
        // table-level lock beyond intent (no S, U, X, SIX on the OBJECT, none on a HOBT), and no escalation happened
        var locks = await RowsAsync("""
            SELECT l.resource_type AS ResourceType, l.request_mode AS Mode, COUNT_BIG(*) AS Locks
            FROM sys.dm_tran_locks AS l
            WHERE l.request_session_id = @Session AND l.resource_database_id = DB_ID()
              AND (   (l.resource_type = N'OBJECT' AND l.resource_associated_entity_id = OBJECT_ID(@Table))
                   OR (l.resource_type IN (N'HOBT', N'KEY', N'PAGE', N'RID')
                       AND l.resource_associated_entity_id IN (SELECT p.hobt_id FROM sys.partitions AS p WHERE p.object_id = OBJECT_ID(@Table))))
            GROUP BY l.resource_type, l.request_mode
            ORDER BY l.resource_type, l.request_mode;
            """, ("@Session", session), ("@Table", $"app.{table}"));
        Dump($"locks of merge session {session} on app.{table}", locks);
        Assert.DoesNotContain(locks, l => (string)l["ResourceType"]! is "OBJECT" or "HOBT" && (string)l["Mode"]! is not ("IS" or "IX"));
        Assert.True(locks.Where(l => (string)l["ResourceType"]! == "KEY").Sum(l => (long)l["Locks"]!) >= Rows * 9 / 10, "the merge should hold a key lock per changed row");
        Assert.Equal(promotionsBefore, await LockPromotionsAsync(table));

        // and another user's row in that table is updatable at once (a table lock would make this wait until commit)
        var clock = Stopwatch.StartNew();
        Assert.Equal(1, await ExecAsync("SET LOCK_TIMEOUT 2000; " + update, ("@Id", othersRow), ("@O", o)));
        Output.WriteLine($"another user's row of app.{table} updated in {clock.ElapsedMilliseconds} ms while the merge held {locks.Sum(l => (long)l["Locks"]!)} locks there");

        // and the run shows as running, known by its session's applock
        var running = Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct));
        Assert.Equal("running", running.Status);
        Output.WriteLine($"run {running.MergeRunId}: {running.StatusDetail}");

        // When the application transaction ends, the merge finishes
        await blocker.DisposeAsync();
        var result = await merge;
        DumpSummary(result);
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
        Assert.True(result.Tables.Single(r => r.TableName == table).RowsChanged >= Rows);
    }

    [Fact]
    public async Task A_racing_insert_for_the_source_waits_for_the_merge_then_is_a_late_reference_that_the_sweep_re_points()
    {
        // Given a merge stopped at app.Collection (it holds both users' row locks since L2)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var thread = await Seed.ThreadAsync(await Seed.DocumentAsync("0000001"), null);
        await Seed.CommentAsync(thread, src);
        var collection = await Seed.CollectionAsync(src);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the merge to reach app.Collection");

        // When the application inserts a comment by the source and one by the target: each validates its foreign
        // key with a shared lock on the user's row, so both wait for the merge
        var bySource = ExecAsync("INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@T, @U, N'late');", ("@T", thread), ("@U", src));
        var byTarget = ExecAsync("INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@T, @U, N'by the target');", ("@T", thread), ("@U", t));
        await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: session)).Count == 2, TimeSpan.FromSeconds(30), "both inserts to wait for the merge");
        Assert.False(bySource.IsCompleted || byTarget.IsCompleted);

        // and the merge commits
        await blocker.DisposeAsync();
        var result = await merge;
        await Task.WhenAll(bySource, byTarget);

        // Then the source's comment is a late reference, counted by dbmerge status and re-pointed by the sweep
        var late = await Client.GetLateReferencesAsync(Ct);
        Assert.Equal((1, 1), late.Where(l => l.TableName == "Comment").Select(l => ((int)l.MergedAwayUsers, (int)l.ReferencingRows)).Single());
        Assert.Equal(1, late.Sum(l => l.ReferencingRows));
        Assert.Equal(new LateReferenceUser(src, t), Assert.Single(await Client.ListLateReferenceUsersAsync(100, Ct)));
        Assert.Contains((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Problems, p => p.Contains("app.Comment.AuthorUserId", StringComparison.Ordinal));

        var swept = await Client.SweepUserAsync(src, "tests", dryRun: false, Ct);
        Assert.Equal(1, Row(swept, "Comment", "AuthorUserId").Moved);
        Assert.Equal(1, swept.RowsChanged);
        Assert.Equal(0, (await Client.GetLateReferencesAsync(Ct)).Sum(l => l.ReferencingRows));
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Comment WHERE AuthorUserId = @T;", ("@T", t)));
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);

        // and sweeping again changes nothing (idempotent); both sweeps are in the history as sweeps
        Assert.Equal(0, (await Client.SweepUserAsync(src, "tests", dryRun: false, Ct)).RowsChanged);
        var runs = await Client.ListMergeRunsAsync(src, 10, Ct);
        Assert.Equal(["sweep", "sweep", "merge"], runs.Select(r => r.Kind));
        Assert.All(runs, r => Assert.Equal("committed", r.Status));
    }

    [Fact]
    public async Task A_racing_accept_by_the_source_waits_for_the_merge_and_then_fails_because_the_source_is_merged_away()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var channel = await Seed.ChannelAsync("c");
        var collection = await Seed.CollectionAsync(src);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the merge to reach app.Collection");

        // The invitation arrives during the merge (no foreign key to the user: nothing makes this insert wait) …
        var invitation = await Seed.InvitationAsync(channel, "s@x.test", "view", null);
        // … and the source accepts it: the accept locks the user row first (L2), so it waits for the merge
        var accept = Client.AcceptInvitationAsync(invitation, src, cancellationToken: Ct);
        await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: session)).Count == 1, TimeSpan.FromSeconds(30), "the accept to wait for the merge");

        await blocker.DisposeAsync();
        var result = await merge;

        // Then the accept failed (the source is inactive now), never half-done; the invitation arrived after its
        // section, so it is a late reference, and the sweep re-addresses it to the target, who can accept it
        var refused = await Assert.ThrowsAnyAsync<DbMergeException>(() => accept);
        Assert.Equal(51303, refused.ErrorNumber);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.ChannelMember;"));
        Assert.Equal(1, (await Client.GetLateReferencesAsync(Ct)).Single(l => l.TableName == "Invitation" && l.ColumnName == "Email").ReferencingRows);
        Assert.Equal(1, Row(await Client.SweepUserAsync(src, "tests", dryRun: false, Ct), "Invitation", "Email").Moved);
        Assert.Equal("t@x.test", await ScalarAsync<string>("SELECT Email FROM app.Invitation WHERE InvitationId = @I;", ("@I", invitation)));
        await Client.AcceptInvitationAsync(invitation, t, cancellationToken: Ct);
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
    }

    [Fact]
    public async Task A_pending_invitation_for_the_sources_address_inserted_during_the_merge_does_not_fail_it_and_is_swept()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var channel = await Seed.ChannelAsync("c");
        var d = await Seed.DocumentAsync("0000001");
        await Seed.InvitationAsync(channel, "s@x.test", "view", null);
        var collection = await Seed.CollectionAsync(src);
        var messages = new List<string>();
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = ConnectionString, InfoMessage = m => { lock (messages) { messages.Add(m); } } });
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var merge = client.MergeUsersAsync(src, t, "integration test", "tests", false, Ct, TimeSpan.FromMinutes(2));
        await WaitForOneBlockedAsync(blocker, "the merge to reach app.Collection");

        // When the application writes e-mail-addressed rows for the source after their sections ran (no wait)
        var late = await Seed.InvitationAsync(channel, "S@x.test", "edit", null);
        var lateDocument = await Seed.DocumentInvitationAsync(d, "s@x.test", "reader", null);
        Assert.False(merge.IsCompleted);
        await blocker.DisposeAsync();
        var result = await merge;

        // Then the merge committed (no 51107), said so, and the late rows are swept to the target's address
        Assert.Contains(messages, m => m.Contains("arrived during the merge", StringComparison.Ordinal));
        Assert.Equal("committed", (await Client.GetMergeRunAsync(result.MergeRunId, Ct)).Run.Status);
        var counts = await Client.GetLateReferencesAsync(Ct);
        Assert.Equal(2, counts.Where(l => l.ColumnName == "Email").Sum(l => l.ReferencingRows));
        var swept = await Client.SweepUserAsync(src, "tests", dryRun: false, Ct);
        DumpSummary(swept);
        Assert.Equal("t@x.test", await ScalarAsync<string>("SELECT Email FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", lateDocument)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE ChannelId = @C AND Status = 'pending';", ("@C", channel)));
        Assert.Equal("edit", await ScalarAsync<string>("SELECT ShareMode FROM app.Invitation WHERE ChannelId = @C AND Status = 'pending';", ("@C", channel)));
        Assert.Equal(0, (await Client.GetLateReferencesAsync(Ct)).Sum(l => l.ReferencingRows));
        Output.WriteLine($"late invitation {late} swept");
    }

    [Theory]
    [InlineData("row", 1_000)]
    [InlineData("user", 1_000)]
    public async Task A_lock_wait_longer_than_the_lock_timeout_ends_in_51108_within_the_bound_and_a_failed_run_with_its_summary_so_far(string blockedAt, int lockTimeoutMs)
    {
        // Given a source whose access is re-pointed early, and an application transaction holding either a row the
        // merge reaches late (its collection) or the source's user row (L2)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001");
        await Seed.AccessAsync(d, src, "owner");
        var collection = await Seed.CollectionAsync(src);
        var before = await FingerprintAsync(includeHistory: true);
        await using var blocker = blockedAt == "row"
            ? await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection))
            : await HoldAsync("UPDATE app.[User] SET DisplayName = N'edited' WHERE UserId = @S;", ("@S", src));

        // When the merge waits for it with a lock timeout of 1 s
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => MergeAsync(src, t, lockTimeout: TimeSpan.FromMilliseconds(lockTimeoutMs)));
        clock.Stop();

        // Then it ends in 51108, naming the step, within the lock timeout plus a stated margin (setup and the steps
        // before the wait on a shared CI runner: 10 s), and changed nothing
        Output.WriteLine($"{error.ErrorNumber} after {clock.ElapsedMilliseconds} ms: {error.Message}");
        Assert.Equal(ErrorRegistry.MergeLockTimeout, error.ErrorNumber);
        Assert.IsType<DbMergeLockTimeoutException>(error);
        Assert.InRange(clock.ElapsedMilliseconds, lockTimeoutMs, lockTimeoutMs + 10_000);
        // (review 14) the source's row is first requested by L2's U-lock of both users and the accounts merged into the
        // source (UPDLOCK through PK_app_User), before the UPDATE of the two rows: that step is the one that waits
        Assert.Contains(blockedAt == "row" ? "1160 app.Collection.OwnerUserId (move)" : "at step L2 U-locks on both users and the accounts merged into the source", error.Message);
        await blocker.DisposeAsync();
        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));

        // and the run is failed with its error and, when it got that far, the summary so far
        var run = Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct));
        Assert.Equal(("failed", ErrorRegistry.MergeLockTimeout), (run.Status, run.ErrorNumber));
        var detail = await Client.GetMergeRunAsync(run.MergeRunId, Ct);
        if (blockedAt == "row")
        {
            Assert.Equal(1, Assert.Single(detail.Summary!, s => s.TableName == "DocumentAccess").Moved);
        }
    }

    [Fact]
    public async Task A_lock_timeout_is_recorded_as_51108_with_its_summary_even_while_a_reader_holds_a_lock_on_the_runs_row()
    {
        // Given a merge that re-points an access early and then waits for a collection row the test holds
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.AccessAsync(await Seed.DocumentAsync("0000001"), src, "owner");
        var collection = await Seed.CollectionAsync(src);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var lockTimeout = TimeSpan.FromSeconds(5);
        var merge = MergeAsync(src, t, lockTimeout: lockTimeout);

        // and a reader holding a shared lock on the run's history row (committed at the start, outside the merge)
        await WaitUntilAsync(async () => await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE SourceUserId = @S AND Status = 'running';", ("@S", src)) == 1,
            TimeSpan.FromSeconds(30), "the run's row");
        var runId = await LastRunIdAsync();
        await using var reader = await HoldAsync("DECLARE @X varchar(10); SELECT @X = Status FROM dbmerge.MergeRun WITH (REPEATABLEREAD) WHERE MergeRunId = @R;", ("@R", runId));
        Assert.False(merge.IsCompleted, "the merge ended before the reader held the run's row: the test needs a longer lock timeout");

        // When the merge's lock wait times out, its CATCH records the failure: that UPDATE waits for the reader — with
        // the caller's lock timeout (none), no longer the run's last 5 s, after which it used to fail with 1222
        var (waiter, _, _) = await WaitForOneBlockedAsync(reader, "the merge's failure logging to wait for the reader", TimeSpan.FromSeconds(30));
        await WaitUntilAsync(async () => await ScalarAsync<int>("SELECT ISNULL(MAX(wait_time), 0) FROM sys.dm_exec_requests WHERE session_id = @W;", ("@W", waiter))
                                         > lockTimeout.TotalMilliseconds + 1000,
            TimeSpan.FromSeconds(30), "the logging's wait to outlast the run's lock timeout");
        await reader.DisposeAsync();

        // Then the caller gets 51108, and the run is failed with 51108 and its summary so far
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => merge);
        Assert.Equal(ErrorRegistry.MergeLockTimeout, error.ErrorNumber);
        await blocker.DisposeAsync();
        var detail = await Client.GetMergeRunAsync(runId, Ct);
        Assert.Equal(("failed", ErrorRegistry.MergeLockTimeout), (detail.Run.Status, detail.Run.ErrorNumber));
        Assert.Equal(1, Assert.Single(detail.Summary!, s => s.TableName == "DocumentAccess").Moved);
    }

    [Fact]
    public async Task A_merge_that_uses_up_its_time_budget_while_waiting_ends_in_51115_within_the_budget()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var collection = await Seed.CollectionAsync(src);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() =>
            MergeAsync(src, t, lockTimeout: TimeSpan.FromSeconds(60), maxDuration: TimeSpan.FromSeconds(2)));
        clock.Stop();

        Output.WriteLine($"{error.ErrorNumber} after {clock.ElapsedMilliseconds} ms: {error.Message}");
        Assert.Equal(ErrorRegistry.MergeTimeBudgetExceeded, error.ErrorNumber);
        Assert.InRange(clock.ElapsedMilliseconds, 1_000, 2_000 + 10_000);
        Assert.Equal("failed", Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct)).Status);
    }

    [Fact]
    public async Task A_merge_killed_after_it_changed_a_table_leaves_nothing_changed_no_lock_and_an_abandoned_run()
    {
        // Given a source with a document access (merged early) and a collection (merged late), the collection's row
        // locked by an open application transaction
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001", src);
        var access = await Seed.AccessAsync(d, src, "owner");
        var collection = await Seed.CollectionAsync(src);
        var before = await FingerprintAsync(includeHistory: true);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));

        // When the merge runs into that lock — having already re-pointed the access — and its session is killed
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(5));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the merge to wait for the collection row lock");
        Assert.Equal(t, await ScalarAsync<int>("SELECT UserId FROM app.DocumentAccess WITH (NOLOCK) WHERE DocumentAccessId = @A;", ("@A", access))); // dirty on purpose: it changed a table
        var runId = await LastRunIdAsync();
        Assert.Equal("running", (await Client.GetMergeRunAsync(runId, Ct)).Run.Status);
        await KillAsync(session);

        var killed = await Assert.ThrowsAnyAsync<Exception>(() => merge);
        Output.WriteLine($"the merge's client saw: {killed.GetType().Name}: {killed.Message.Split('\n')[0]}");
        await blocker.DisposeAsync();
        SqlConnection.ClearAllPools();

        // Then every table is as before, no lock is left in the database, the source is still active
        await WaitUntilAsync(async () => await LocksHeldInDatabaseAsync() == 0, TimeSpan.FromSeconds(30), "the killed merge's locks to be released");
        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));
        Assert.Equal(src, await ScalarAsync<int>("SELECT UserId FROM app.DocumentAccess WHERE DocumentAccessId = @A;", ("@A", access)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));

        // and the run is shown as abandoned, saying how that is known (its session no longer holds the run's applock)
        var run = Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct));
        Output.WriteLine($"run {run.MergeRunId}: {run.Status} — {run.StatusDetail}");
        Assert.Equal((runId, "abandoned", (int?)null), (run.MergeRunId, run.Status, run.ErrorNumber));
        Assert.Contains($"DbMerge.MergeRun:{runId}", run.StatusDetail);
        Assert.Equal("abandoned", (await Client.GetMergeRunAsync(runId, Ct)).Run.Status);

        // and a new merge of the same users works
        var again = await MergeAsync(src, t);
        Assert.True((await Client.VerifyMergeAsync(again.MergeRunId, Ct)).Verified);
    }

    /// <summary>Seeds 20,000 rows of the source in <paramref name="table"/> and one of <paramref name="other"/>; returns that row's key and an UPDATE of it (@Id, @O).</summary>
    private async Task<(int OthersRow, string Update)> SeedLargeAsync(string table, int source, int target, int other)
    {
        switch (table)
        {
            case "Comment":
            {
                var thread = await Seed.ThreadAsync(await Seed.DocumentAsync("0000001"), other);
                await ExecAsync("""
                    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body)
                    SELECT TOP (@Rows) @Thread, @S, N'bulk' FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b;
                    """, ("@Rows", Rows), ("@Thread", thread), ("@S", source));
                return (await Seed.CommentAsync(thread, other, "other's"), "UPDATE app.Comment SET Body = N'edited by its author' WHERE CommentId = @Id AND AuthorUserId = @O;");
            }

            case "DocumentAccess":
            case "LinkTrace":
            {
                var documents = await DocumentsAsync(Rows, firstStep: 1);
                var insert = table == "DocumentAccess"
                    ? "INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT d.DocumentId, @U, @Role FROM app.Document AS d WHERE d.DocumentId BETWEEN @First AND @Last AND (@Every = 1 OR d.DocumentId % @Every = 0);"
                    : "INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT d.DocumentId, @U FROM app.Document AS d WHERE d.DocumentId BETWEEN @First AND @Last AND (@Every = 1 OR d.DocumentId % @Every = 0);";
                await ExecAsync(insert, ("@U", source), ("@Role", "editor"), ("@First", documents[0]), ("@Last", documents[^1]), ("@Every", 1));
                await ExecAsync(insert, ("@U", target), ("@Role", "reader"), ("@First", documents[0]), ("@Last", documents[^1]), ("@Every", 10));
                var others = (await DocumentsAsync(1, firstStep: Rows + 1))[0];
                return table == "DocumentAccess"
                    ? (await Seed.AccessAsync(others, other, "reader"), "UPDATE app.DocumentAccess SET Role = 'editor' WHERE DocumentAccessId = @Id AND UserId = @O;")
                    : (await Seed.LinkTraceAsync(others, other), "UPDATE app.LinkTrace SET CreatedAt = SYSUTCDATETIME() WHERE LinkTraceId = @Id AND UserId = @O;");
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(table), table, null);
        }
    }

    /// <summary>Lock escalations (index_lock_promotion_count) on the table's indexes since the server started.</summary>
    private Task<long> LockPromotionsAsync(string table) =>
        ScalarAsync<long>("SELECT ISNULL(SUM(s.index_lock_promotion_count), 0) FROM sys.dm_db_index_operational_stats(DB_ID(), OBJECT_ID(@T), NULL, NULL) AS s;",
            ("@T", $"app.{table}"));
}
