using DbMerge.Client;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// VerifyUnmergeAsync's comparison (UnmergeJournalComparison, pure): every row the undone run journaled, followed through
/// its changes, must be its first change's before-image now; keys the run left rows at that held none before must be free.
/// Each check is proven able to fail.
/// </summary>
public sealed class UnmergeVerificationTests
{
    private static readonly DateTime At = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private static MergeJournalChange Change(int seq, string table, string operation, string rowKey, string? before, string? after, string? rowNow, string? beforeKeyRowNow) =>
        new(seq, "app", table, operation, operation == "delete" ? "deleted" : "moved", "app", table, "UserId", rowKey, before, after, At, true, rowNow, beforeKeyRowNow);

    private static IReadOnlyList<string> Compare(params MergeJournalChange[] changes)
    {
        var comparison = new UnmergeJournalComparison(17);
        foreach (var change in changes)
        {
            comparison.Add(change);
        }

        return comparison.Problems();
    }

    [Fact]
    public void Rows_back_to_their_before_images_verify_including_a_row_changed_twice_and_a_deleted_row_inserted_again()
    {
        const string before = """{"InvitationId":5,"Email":"s@x.test","SenderUserId":3}""";
        const string middle = """{"InvitationId":5,"Email":"t@x.test","SenderUserId":3}""";
        const string last = """{"InvitationId":5,"Email":"t@x.test","SenderUserId":7}""";
        const string access = """{"DocumentAccessId":9,"UserId":3,"Role":"editor"}""";

        var problems = Compare(
            Change(1, "Invitation", "update", """{"InvitationId":5}""", before, middle, before, before),
            Change(2, "Invitation", "update", """{"InvitationId":5}""", middle, last, before, before),
            Change(3, "DocumentAccess", "delete", """{"DocumentAccessId":9}""", access, null, access, access));

        Assert.Empty(problems);
    }

    [Fact]
    public void A_column_that_differs_from_the_before_image_of_the_rows_first_change_is_named()
    {
        const string before = """{"InvitationId":5,"Email":"s@x.test","SenderUserId":3}""";
        const string last = """{"InvitationId":5,"Email":"t@x.test","SenderUserId":7}""";
        const string now = """{"InvitationId":5,"Email":"S@x.test","SenderUserId":3}""";

        var problem = Assert.Single(Compare(
            Change(1, "Invitation", "update", """{"InvitationId":5}""", before, last, now, now),
            Change(2, "Invitation", "update", """{"InvitationId":5}""", last, last, now, now)));

        Assert.Contains("app.Invitation InvitationId=5", problem, StringComparison.Ordinal);
        Assert.Contains("Email is s:S@x.test, was s:s@x.test", problem, StringComparison.Ordinal); // case counts: byte for byte
        Assert.Contains("its first change in run 17: 1", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_the_run_deleted_that_is_still_missing_is_reported()
    {
        const string access = """{"DocumentAccessId":9,"UserId":3,"Role":"editor"}""";

        var problem = Assert.Single(Compare(Change(1, "DocumentAccess", "delete", """{"DocumentAccessId":9}""", access, null, null, null)));

        Assert.Contains("the row does not exist", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_a_primary_key_change_moved_a_row_to_must_be_free_again_and_the_row_back_at_its_old_key()
    {
        const string before = """{"ReactionId":4,"UserId":3,"CreatedAt":"2026-01-01T00:00:00"}""";
        const string after = """{"ReactionId":4,"UserId":7,"CreatedAt":"2026-01-01T00:00:00"}""";

        // undone: nothing at (4, 7), the row back at (4, 3)
        Assert.Empty(Compare(Change(1, "ReactionUser", "update", """{"ReactionId":4,"UserId":7}""", before, after, null, before)));

        // not undone: the row still at (4, 7) and nothing at (4, 3)
        var problems = Compare(Change(1, "ReactionUser", "update", """{"ReactionId":4,"UserId":7}""", before, after, after, null));
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("ReactionId=4,UserId=3: the row does not exist", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ReactionId=4,UserId=7: the run left a row at this key", StringComparison.Ordinal));
    }

    [Fact]
    public void A_row_the_run_inserted_must_be_gone_and_a_table_without_a_reader_is_reported()
    {
        const string row = """{"Id":1,"UserId":7}""";
        Assert.Empty(Compare(Change(1, "Planted", "insert", """{"Id":1}""", null, row, null, null)));
        Assert.Single(Compare(Change(1, "Planted", "insert", """{"Id":1}""", null, row, row, null)));

        var unknown = Change(1, "Gone", "update", """{"Id":1}""", row, row, row, row) with { Known = false };
        Assert.Contains("cannot read this table", Assert.Single(Compare(unknown)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unmerge_report_parses_from_its_summary_json_and_a_merge_summary_is_not_one()
    {
        var report = DbMergeClient.ParseUnmergeReport(
            """{"Tables":[{"ApplyOrder":0,"SchemaName":"app","TableName":"User","ColumnName":"UpdatedAt","Policy":"locked","Moved":0,"Merged":0,"Deleted":0,"Locked":2}],"ConflictCount":3,"Conflicts":[{"SchemaName":"app","TableName":"Comment","RowKey":"{\"CommentId\":5}","Problem":"changed since the merge"}]}""");

        Assert.NotNull(report);
        Assert.Equal(2, Assert.Single(report.Tables).Locked);
        Assert.Equal(3, report.ConflictCount);
        Assert.Equal("{\"CommentId\":5}", Assert.Single(report.Conflicts).RowKey);
        Assert.Null(DbMergeClient.ParseUnmergeReport("""[{"ApplyOrder":10}]"""));
        Assert.Null(DbMergeClient.ParseUnmergeReport(null));
    }
}
