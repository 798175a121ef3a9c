using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// Undo a merge (issue 14, api.User_Unmerge): a committed merge is undone from its journal so that every app table holds
/// exactly its rows from before the merge (full row images compared, not checksums); the undo refuses, changing nothing,
/// when a later change would be overwritten; the unmerge is a run of its own and the merge shows as undone.
/// <para>
/// The worked example behind the data (SeedEveryPolicyAsync, desk-checked statement by statement against the generated
/// dbmerge.User_UnmergeCore). Source s, target t. Enrollments: s in course 1 (e1, with a final qualification and two
/// submissions), t in course 1 (e2, a submission), s in course 3 (e5, a submission), t in course 3 (e4, a final
/// qualification). The merge (batches of 2) journals, in change order: 1–2 the lock of t and s; then per batch FQ(e1)→e2,
/// Sub(e1)×2→e2, Enr e1 deleted, Enr e3 moved; Sub(e5)→e4, Enr e5 deleted; … ; last, s deactivated. The journal pass puts
/// every row once into @Row with its last change (s: the deactivation; e1: its delete). The checks lock them table by
/// table in L3 order (Enrollment, FinalQualification, Submission, …, app.User last) and find each as that change left it.
/// The restore, newest first, undoes s's deactivation together with the move of p (merged into s earlier: one run, one
/// policy), …, re-inserts e5 (IDENTITY_INSERT) before moving its submission back (the foreign key holds at every
/// statement), moves e3 back, re-inserts e1, moves its submissions and its final qualification back (e1 holds none by
/// then: UQ_app_FinalQualification_EnrollmentId holds), and last restores both users' UpdatedAt (the run of changes 2..1).
/// A document access both held (s editor, t commenter) was raised and deleted: the re-insert of s's row comes before the
/// restore of t's role, each in its own statement (delete, then update runs).
/// </para>
/// </summary>
public sealed class UnmergeTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Undoing_a_merge_of_every_policy_restores_every_app_table_to_its_row_images_from_before_the_merge()
    {
        // Given data for every policy (collisions both ways, children, duplicates, a row changed twice, an account merged
        // into the source earlier, another user's rows), and the images of every app table before the merge
        var (src, t) = await SeedEveryPolicyAsync();
        var before = await FullImagesAsync();
        Assert.True(before.Sum(b => b.Value.Count) > 50);

        // When the merge commits (batches of 2: every loop runs several times), changing many rows
        var merge = await MergeAsync(src, t, batchSize: 2);
        DumpSummary(merge);
        var merged = await FullImagesAsync();
        Assert.True(merge.RowsChanged > 30);
        Assert.Contains(before, b => !b.Value.SequenceEqual(merged[b.Key]));

        // and it is undone (batches of 2: runs of one merge statement split across batches)
        var undo = await UnmergeAsync(merge.MergeRunId, batchSize: 2);
        DumpUnmerge(undo);

        // Then every app table holds exactly its rows from before the merge
        AssertSameImages(before, await FullImagesAsync());

        // and the report is the merge's summary, undone: per policy the same moved / merged / deleted, and the lock of both users
        foreach (var row in merge.Tables)
        {
            var undone = Assert.Single(undo.Tables, u => u.SchemaName == row.SchemaName && u.TableName == row.TableName && u.ColumnName == row.ColumnName && u.Policy == row.Policy);
            Assert.Equal((row.Moved, row.Merged, row.Deleted), (undone.Moved, undone.Merged, undone.Deleted));
        }

        var locked = Assert.Single(undo.Tables, u => u.Policy == "locked");
        Assert.Equal((0, "app", "User", 2), (locked.ApplyOrder, locked.SchemaName, locked.TableName, locked.Locked));
        Assert.Equal(merge.Tables.Count + 1, undo.Tables.Count);

        // and the source is active again, not merged, and the account merged into it earlier points at it again
        var source = Assert.Single(await Client.FindUsersAsync(src, null, Ct));
        Assert.True(source.IsActive);
        Assert.Null(source.MergedIntoUserId);
        Assert.Equal(src, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE Email = N'p@x.test';"));

        // and the history: the unmerge is a committed run of its own, pointing at the merge, which shows as undone
        var runs = await Client.ListMergeRunsAsync(src, 10, Ct);
        var unmergeRun = Assert.Single(runs, r => r.MergeRunId == undo.UnmergeRunId);
        Assert.Equal(("unmerge", "committed", (long?)merge.MergeRunId, src, t), (unmergeRun.Kind, unmergeRun.Status, unmergeRun.UndoesMergeRunId, unmergeRun.SourceUserId, unmergeRun.TargetUserId));
        var mergeRun = Assert.Single(runs, r => r.MergeRunId == merge.MergeRunId);
        Assert.Equal(("undone", (long?)undo.UnmergeRunId), (mergeRun.Status, mergeRun.UndoneByMergeRunId));
        Output.WriteLine(mergeRun.StatusDetail ?? "(no status detail)");

        // and the unmerge journaled its own changes: both users locked, rows restored and re-inserted
        var actions = await RowsAsync("SELECT Action, COUNT(*) AS N FROM dbmerge.MergeChange WHERE MergeRunId = @R GROUP BY Action ORDER BY Action;", ("@R", undo.UnmergeRunId));
        Dump("the unmerge's journal", actions);
        Assert.Equal(["locked", "reinserted", "restored"], actions.Select(a => (string)a["Action"]!));
        Assert.Equal(2, actions.Single(a => (string)a["Action"]! == "locked")["N"]);
        var detail = await Client.GetMergeRunAsync(undo.UnmergeRunId, Ct);
        Assert.Equal(undo.Tables, detail.Unmerge!.Tables.Select(x => x).ToList());
        Assert.Equal(0, detail.Unmerge.ConflictCount);

        // and the independent verification agrees, row by row
        var verification = await Client.VerifyUnmergeAsync(undo.UnmergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("\n", verification.Problems));
        Assert.True(verification.RowsCompared > 30);
    }

    [Fact]
    public async Task A_dry_run_reports_exactly_what_the_undo_then_does_and_changes_nothing()
    {
        var (src, t) = await SeedEveryPolicyAsync();
        var before = await FullImagesAsync();
        var merge = await MergeAsync(src, t);
        var merged = await FullImagesAsync();
        var journal = await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange;");

        // When the undo is dry-run
        var dry = await UnmergeAsync(merge.MergeRunId, dryRun: true);
        DumpUnmerge(dry);

        // Then nothing changed: the tables are as the merge left them, no journal row was added, the merge is not undone
        AssertSameImages(merged, await FullImagesAsync());
        Assert.Equal(journal, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange;"));
        var runs = await Client.ListMergeRunsAsync(src, 10, Ct);
        Assert.Equal("dry-run", runs.Single(r => r.MergeRunId == dry.UnmergeRunId).Status);
        Assert.Equal("committed", runs.Single(r => r.MergeRunId == merge.MergeRunId).Status);
        Assert.True(dry.ChangesUndone > 30);

        // and the real undo reports exactly the same, and restores the tables
        var undo = await UnmergeAsync(merge.MergeRunId);
        Assert.Equal(dry.Tables, undo.Tables);
        AssertSameImages(before, await FullImagesAsync());
    }

    [Fact]
    public async Task Undoing_twice_is_refused_with_51144_and_changes_nothing()
    {
        var (src, t) = await SeedEveryPolicyAsync();
        var merge = await MergeAsync(src, t);
        var undo = await UnmergeAsync(merge.MergeRunId);
        var restored = await FullImagesAsync();
        var history = await FingerprintAsync(includeHistory: true);

        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeAlreadyUndone, merge.MergeRunId);
        Assert.Contains($"already undone by unmerge run {undo.UnmergeRunId}", error.Message);
        await UnmergeFailsAsync(ErrorRegistry.UnmergeAlreadyUndone, merge.MergeRunId, dryRun: true);

        AssertSameImages(restored, await FullImagesAsync());
        AssertSameFingerprint(history, await FingerprintAsync(includeHistory: true));
        var refused = (await Client.ListMergeRunsAsync(src, 10, Ct)).Where(r => r.Kind == "unmerge" && r.Status == "refused").ToList();
        Assert.Equal(2, refused.Count);
        Assert.All(refused, r => Assert.Equal(ErrorRegistry.UnmergeAlreadyUndone, r.ErrorNumber));
    }

    [Fact]
    public async Task A_row_edited_after_the_merge_refuses_the_undo_with_51148_naming_it_and_the_count_and_changes_nothing()
    {
        // Given a committed merge, and then the application editing two rows the merge changed
        var (src, t) = await SeedEveryPolicyAsync();
        var merge = await MergeAsync(src, t);
        var comment = await ScalarAsync<int>("SELECT MIN(CommentId) FROM app.Comment WHERE AuthorUserId = @T;", ("@T", t));
        await ExecAsync("UPDATE app.Comment SET Body = N'edited after the merge' WHERE CommentId = @C;", ("@C", comment));
        var collection = await ScalarAsync<int>("SELECT MIN(CollectionId) FROM app.Collection WHERE OwnerUserId = @T;", ("@T", t));
        await ExecAsync("DELETE FROM app.Collection WHERE CollectionId = @C;", ("@C", collection));
        var edited = await FullImagesAsync();
        var journal = await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange;");

        // When the merge is undone
        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeRowsChanged, merge.MergeRunId);

        // Then it is refused, naming the rows and the count, and nothing changed
        Assert.Contains("2 row(s)", error.Message);
        Assert.Contains($"app.Collection {{\"CollectionId\":{collection}}}: deleted since the merge", error.Message);
        Assert.Contains($"app.Comment {{\"CommentId\":{comment}}}: changed since the merge", error.Message);
        AssertSameImages(edited, await FullImagesAsync());
        Assert.Equal(journal, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange;"));

        // and the refused unmerge keeps the rows in its report; the merge is still committed, not undone
        var unmergeId = await LastRunIdAsync();
        var detail = await Client.GetMergeRunAsync(unmergeId, Ct);
        Assert.Equal(("unmerge", "refused", ErrorRegistry.UnmergeRowsChanged), (detail.Run.Kind, detail.Run.Status, detail.Run.ErrorNumber ?? 0));
        Assert.Equal(2, detail.Unmerge!.ConflictCount);
        Assert.Contains(detail.Unmerge.Conflicts, c => c.TableName == "Comment" && c.RowKey == $"{{\"CommentId\":{comment}}}");
        Assert.Equal("committed", (await Client.GetMergeRunAsync(merge.MergeRunId, Ct)).Run.Status);
    }

    [Fact]
    public async Task The_undo_is_refused_with_51147_when_a_new_active_account_holds_the_sources_email()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);
        var merge = await MergeAsync(src, t);
        // (the source is inactive now: another active account may take its address, in any case)
        var newcomer = await Seed.UserAsync("S@X.test");
        var before = await FullImagesAsync();

        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeSourceEmailTaken, merge.MergeRunId);

        Assert.Contains($"held by active user {newcomer}", error.Message);
        AssertSameImages(before, await FullImagesAsync());
    }

    [Fact]
    public async Task Chained_merges_are_undone_newest_first_and_the_wrong_order_is_refused_with_51146()
    {
        // Given three accounts with overlapping rows, merged a into b, then b into c
        var a = await Seed.UserAsync("a@x.test");
        var b = await Seed.UserAsync("b@x.test");
        var c = await Seed.UserAsync("c@x.test");
        var documents = await DocumentsAsync(3, firstStep: 1);
        foreach (var (user, role) in new[] { (a, "owner"), (b, "reader"), (c, "editor") })
        {
            await Seed.AccessAsync(documents[0], user, role);
            await Seed.FavoriteAsync(documents[1], user);
            await Seed.CollectionAsync(user);
        }

        await Seed.AccessAsync(documents[2], a, "commenter");
        var before = await FullImagesAsync();
        var first = await MergeAsync(a, b);
        var afterFirst = await FullImagesAsync();
        var second = await MergeAsync(b, c);

        // When the first merge is undone before the second, then it is refused, naming the later run
        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeLaterRun, first.MergeRunId);
        Assert.Contains($"merge run {second.MergeRunId}", error.Message);
        Assert.Contains($"undo run {second.MergeRunId} first", error.Message);

        // When they are undone newest first, then each undo restores the state before its merge
        await UnmergeAsync(second.MergeRunId);
        AssertSameImages(afterFirst, await FullImagesAsync());
        await UnmergeAsync(first.MergeRunId);
        AssertSameImages(before, await FullImagesAsync());
    }

    [Fact]
    public async Task A_sweep_after_the_merge_is_undone_first_then_the_merge_and_the_late_reference_is_the_sources_again()
    {
        // Given a merge, then a late reference of the source swept to the target
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var thread = await Seed.ThreadAsync(await Seed.DocumentAsync("0000001"), t);
        await Seed.CommentAsync(thread, src, "before the merge");
        var before = await FullImagesAsync();
        var merge = await MergeAsync(src, t);
        var late = await Seed.CommentAsync(thread, src, "written after the merge");
        var sweep = await Client.SweepUserAsync(src, "tests", dryRun: false, Ct);
        Assert.Equal(1, Row(sweep, "Comment", "AuthorUserId").Moved);

        // When the merge is undone first, then the sweep is named (it committed later and involves both users)
        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeLaterRun, merge.MergeRunId);
        Assert.Contains($"sweep run {sweep.MergeRunId}", error.Message);

        // When the sweep is undone, then the merge: the late comment is the source's again, everything else as before
        await UnmergeAsync(sweep.MergeRunId);
        Assert.Equal(src, await ScalarAsync<int>("SELECT AuthorUserId FROM app.Comment WHERE CommentId = @C;", ("@C", late)));
        await UnmergeAsync(merge.MergeRunId);
        Assert.Equal(src, await ScalarAsync<int>("SELECT AuthorUserId FROM app.Comment WHERE CommentId = @C;", ("@C", late)));
        await ExecAsync("DELETE FROM app.Comment WHERE CommentId = @C;", ("@C", late)); // the one row written since
        AssertSameImages(before, await FullImagesAsync());
    }

    [Fact]
    public async Task A_row_written_since_the_merge_in_the_way_of_a_restored_key_refuses_the_undo_with_51149_and_changes_nothing()
    {
        // Given a favourite the merge moved to the target, and a late favourite of the same document by the source
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var document = await Seed.DocumentAsync("0000001");
        await Seed.FavoriteAsync(document, src);
        var merge = await MergeAsync(src, t);
        await Seed.FavoriteAsync(document, src); // a late reference: (document, source) is free after the merge
        var before = await FullImagesAsync();

        // When the merge is undone, then moving the favourite back to (document, source) meets the late one
        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeRestoreConflict, merge.MergeRunId);

        Assert.Contains("UQ_app_DocumentFavorite_DocumentId_UserId", error.Message);
        Assert.Contains("restore app.DocumentFavorite", error.Message);
        AssertSameImages(before, await FullImagesAsync());
        Assert.Equal("committed", (await Client.GetMergeRunAsync(merge.MergeRunId, Ct)).Run.Status);
    }

    [Fact]
    public async Task Only_a_committed_merge_or_sweep_can_be_undone()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var inactive = await Seed.UserAsync("i@x.test", active: false);
        await Seed.CollectionAsync(src);

        // a dry run, a refused merge (the target is inactive) and an unmerge changed nothing that could be undone
        var dry = await MergeAsync(src, t, dryRun: true);
        await UnmergeFailsAsync(ErrorRegistry.UnmergeRunNotUndoable, dry.MergeRunId);
        await MergeFailsAsync(ErrorRegistry.MergeTargetNotActive, src, inactive);
        var refusedMerge = await LastRunIdAsync();
        await UnmergeFailsAsync(ErrorRegistry.UnmergeRunNotUndoable, refusedMerge);
        var merge = await MergeAsync(src, t);
        var undo = await UnmergeAsync(merge.MergeRunId);
        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeRunNotUndoable, undo.UnmergeRunId);
        Assert.Contains("is a unmerge", error.Message);

        // and an unknown run is not found
        await UnmergeFailsAsync(ErrorRegistry.UnmergeRunNotFound, 987654321);
    }

    [Fact]
    public async Task A_merge_journaled_before_journal_v2_is_refused_with_51145()
    {
        // Given a committed merge run of the kind written before migration 0040: before-images in dbmerge.MergeJournal only
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test", active: false, mergedInto: t);
        var runId = await ScalarAsync<long>("""
            DECLARE @Id bigint = NEXT VALUE FOR dbmerge.MergeRunSequence;
            INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, FinishedAt, SummaryJson)
            VALUES (@Id, @S, @T, N'tests', N'an old merge', 0, 'committed', SYSUTCDATETIME(), SYSUTCDATETIME(), N'[]');
            INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
            VALUES (@Id, N'app', N'User', N'MergedIntoUserId', N'app.User', 'merged', CONCAT(N'{"UserId":', @S, N'}'), N'{}');
            SELECT @Id;
            """, ("@S", src), ("@T", t));

        var error = await UnmergeFailsAsync(ErrorRegistry.UnmergeJournalPredatesV2, runId);

        Assert.Contains("dbmerge.MergeJournal: 1 row(s)", error.Message);
    }

    [Fact]
    public async Task An_edit_of_a_restored_row_after_the_undo_fails_the_independent_verification_naming_the_row()
    {
        var (src, t) = await SeedEveryPolicyAsync();
        var merge = await MergeAsync(src, t);
        var undo = await UnmergeAsync(merge.MergeRunId);
        Assert.True((await Client.VerifyUnmergeAsync(undo.UnmergeRunId, Ct)).Verified);

        // When a restored row changes afterwards, the verification (independent of the procedure) sees it
        var access = await ScalarAsync<int>("SELECT MIN(DocumentAccessId) FROM app.DocumentAccess WHERE UserId = @S;", ("@S", src));
        await ExecAsync("UPDATE app.DocumentAccess SET Role = 'owner' WHERE DocumentAccessId = @A;", ("@A", access));
        var verification = await Client.VerifyUnmergeAsync(undo.UnmergeRunId, Ct);

        Assert.False(verification.Verified);
        var problem = Assert.Single(verification.Problems);
        Assert.Contains($"app.DocumentAccess DocumentAccessId={access}", problem);
        Assert.Contains("Role is s:owner", problem);
    }

    [Fact]
    public async Task Undo_is_an_operators_step_the_application_role_is_refused_with_51156_and_an_operator_may_dry_run()
    {
        // (database users of its own: the class database's principals are shared)
        await UseOwnDatabaseAsync();
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);
        var merge = await MergeAsync(src, t);
        await ExecAsync("""
            CREATE USER UnmergeTestApp WITHOUT LOGIN; ALTER ROLE DbMergeApp ADD MEMBER UnmergeTestApp;
            CREATE USER UnmergeTestOperator WITHOUT LOGIN; ALTER ROLE DbMergeOperator ADD MEMBER UnmergeTestOperator;
            """);
        const string call = """
            EXECUTE AS USER = @Who;
            BEGIN TRY
                DECLARE @Id bigint;
                EXEC api.User_Unmerge @MergeRunId = @Run, @Reason = N'role test', @RequestedBy = NULL, @DryRun = 1, @UnmergeRunId = @Id OUTPUT;
                REVERT;
            END TRY
            BEGIN CATCH
                REVERT;
                THROW;
            END CATCH;
            """;

        var refused = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(call, ("@Who", "UnmergeTestApp"), ("@Run", merge.MergeRunId)));
        Output.WriteLine($"{refused.Number}: {refused.Message}");
        Assert.Equal(ErrorRegistry.UnmergeForbidden, refused.Number);

        await ExecAsync(call, ("@Who", "UnmergeTestOperator"), ("@Run", merge.MergeRunId));
        var runs = await Client.ListMergeRunsAsync(src, 10, Ct);
        Assert.Contains(runs, r => r.Kind == "unmerge" && r.Status == "refused" && r.ErrorNumber == ErrorRegistry.UnmergeForbidden);
        Assert.Contains(runs, r => r.Kind == "unmerge" && r.Status == "dry-run");
        Assert.Equal("committed", runs.Single(r => r.MergeRunId == merge.MergeRunId).Status);

        // the journal's row images are an operator's to read too: the application role is refused, an operator reads them
        const string journal = """
            EXECUTE AS USER = @Who;
            BEGIN TRY
                EXEC api.MergeRun_Journal @MergeRunId = @Run, @AfterChangeSeq = 0, @Top = 1000;
                REVERT;
            END TRY
            BEGIN CATCH
                REVERT;
                THROW;
            END CATCH;
            """;
        var journalRefused = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(journal, ("@Who", "UnmergeTestApp"), ("@Run", merge.MergeRunId)));
        Output.WriteLine($"{journalRefused.Number}: {journalRefused.Message}");
        Assert.Equal(ErrorRegistry.UnmergeForbidden, journalRefused.Number);
        var page = await RowsAsync(journal, ("@Who", "UnmergeTestOperator"), ("@Run", merge.MergeRunId));
        Assert.Contains(page, r => (string)r["TableName"]! == "Collection");
    }
}
