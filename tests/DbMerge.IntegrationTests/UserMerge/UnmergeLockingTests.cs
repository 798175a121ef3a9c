using System.Diagnostics;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The undo beside a busy application, within the merge's bounds (issue 14): a 100,000-row merge is undone in statements of
/// at most @BatchSize rows — no table lock seen from another session in sys.dm_tran_locks, no lock escalation, another
/// user's row in the same table updatable meanwhile, a writer on other users' rows never waiting longer than the DESIGN
/// target plus the CI margin. The undo is stopped mid-way, deterministically, at the foreign-key check of a row it
/// re-inserts (a link trace the merge deleted, on a document the test holds): the comments are restored by then.
/// </summary>
[Collection(WriterLatencyCollection.Name)]
public sealed class UnmergeLockingTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    private const int Rows = 100_000;

    [Fact]
    public async Task Undoing_a_100000_row_merge_holds_no_table_lock_keeps_another_users_row_writable_and_never_blocks_a_writer_long()
    {
        // Given a source with 100,000 comments, another user's comment, and a link trace on another user's document that
        // the merge deletes (the target traced the same document)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var o = await Seed.UserAsync("o@x.test");
        var thread = await Seed.ThreadAsync(await Seed.DocumentAsync("0000001"), o);
        await ExecAsync("""
            INSERT INTO app.Comment (ThreadId, AuthorUserId, Body)
            SELECT TOP (@Rows) @Thread, @S, N'bulk' FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b;
            """, ("@Rows", Rows), ("@Thread", thread), ("@S", src));
        var othersComment = await Seed.CommentAsync(thread, o, "other's");
        var traced = await Seed.DocumentAsync("0000002", o);
        await Seed.LinkTraceAsync(traced, src);
        await Seed.LinkTraceAsync(traced, t);
        var merge = await MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        Assert.Equal(Rows, Row(merge, "Comment", "AuthorUserId").Moved);
        Assert.Equal(1, Row(merge, "LinkTrace", "UserId").Deleted);
        var promotionsBefore = await LockPromotionsAsync();

        // and an application writer updating another user's comment in a loop
        await using var writer = await WriterProbe.StartAsync(ConnectionString, async (connection, i) =>
        {
            await using var update = new SqlCommand("UPDATE app.Comment SET Body = CONCAT(N'edit ', @I) WHERE CommentId = @C;", connection);
            update.Parameters.AddWithValue("@I", i);
            update.Parameters.AddWithValue("@C", othersComment);
            await update.ExecuteNonQueryAsync(CancellationToken.None);
        });

        // When the undo has restored the comments and waits at the re-insert of the trace, whose foreign key reads the
        // document the application holds
        await using var blocker = await HoldAsync("UPDATE app.Document SET Title = Title + N' (edited)' WHERE DocumentId = @D;", ("@D", traced));
        var undo = UnmergeAsync(merge.MergeRunId, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the undo to re-insert the deleted app.LinkTrace row", TimeSpan.FromMinutes(5));

        // Then, seen from this session: the undo holds a key lock per restored comment and no table-level lock beyond
        // intent on app.Comment, and no escalation happened
        var locks = await RowsAsync("""
            SELECT l.resource_type AS ResourceType, l.request_mode AS Mode, COUNT_BIG(*) AS Locks
            FROM sys.dm_tran_locks AS l
            WHERE l.request_session_id = @Session AND l.resource_database_id = DB_ID()
              AND (   (l.resource_type = N'OBJECT' AND l.resource_associated_entity_id = OBJECT_ID(N'app.Comment'))
                   OR (l.resource_type IN (N'HOBT', N'KEY', N'PAGE', N'RID')
                       AND l.resource_associated_entity_id IN (SELECT p.hobt_id FROM sys.partitions AS p WHERE p.object_id = OBJECT_ID(N'app.Comment'))))
            GROUP BY l.resource_type, l.request_mode
            ORDER BY l.resource_type, l.request_mode;
            """, ("@Session", session));
        Dump($"locks of undo session {session} on app.Comment", locks);
        Assert.DoesNotContain(locks, l => (string)l["ResourceType"]! is "OBJECT" or "HOBT" && (string)l["Mode"]! is not ("IS" or "IU" or "IX"));
        Assert.True(locks.Where(l => (string)l["ResourceType"]! == "KEY" && (string)l["Mode"]! == "X").Sum(l => (long)l["Locks"]!) >= Rows,
            "the undo should hold an exclusive key lock per restored comment");
        Assert.Equal(promotionsBefore, await LockPromotionsAsync());
        Assert.Equal(Rows, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Comment WITH (NOLOCK) WHERE AuthorUserId = @S;", ("@S", src)));

        // and another user's comment is updatable at once (a table lock would make this wait until commit)
        var clock = Stopwatch.StartNew();
        Assert.Equal(1, await ExecAsync("SET LOCK_TIMEOUT 2000; UPDATE app.Comment SET Body = N'edited by its author' WHERE CommentId = @C AND AuthorUserId = @O;",
            ("@C", othersComment), ("@O", o)));
        Output.WriteLine($"another user's comment updated in {clock.ElapsedMilliseconds} ms while the undo held {locks.Sum(l => (long)l["Locks"]!)} locks on app.Comment");

        // and the unmerge shows as running
        var running = (await Client.ListMergeRunsAsync(src, 10, Ct)).First(r => r.Kind == "unmerge");
        Assert.Equal("running", running.Status);

        // When the application transaction ends, the undo finishes, verified row by row
        await blocker.DisposeAsync();
        var result = await undo;
        var stats = await writer.StopAsync();
        DumpUnmerge(result);
        Assert.Equal(Rows, result.Tables.Single(r => r.TableName == "Comment").Moved);
        Assert.Equal(Rows, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Comment WHERE AuthorUserId = @S;", ("@S", src)));
        var verification = await Client.VerifyUnmergeAsync(result.UnmergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("\n", verification.Problems));
        stats.AssertNeverBlockedLongerThan(WriterProbe.DmlBoundMs, Output, minimumWrites: 10);
    }

    private Task<long> LockPromotionsAsync() =>
        ScalarAsync<long>("SELECT ISNULL(SUM(s.index_lock_promotion_count), 0) FROM sys.dm_db_index_operational_stats(DB_ID(), OBJECT_ID(N'app.Comment'), NULL, NULL) AS s;");
}
