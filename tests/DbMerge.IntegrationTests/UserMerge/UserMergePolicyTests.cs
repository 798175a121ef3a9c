using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>api.User_Merge honours every policy of dbmerge.MergePolicy (DESIGN §5, issue 3).</summary>
public sealed class UserMergePolicyTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    /*
      Desk-check of the generated dbmerge.User_MergeCore on this data, statement by statement in the order of its
      header's "Bounds" list (T = target t@x.test, inserted first so T < S; S = source s@x.test; O = other o@x.test;
      P = an account merged into S earlier; @BatchSize 1000, so each batch loop runs once with rows and stops because
      its batch was not full):
        start        api.User_Merge → dbmerge.MergeRun_Start: run R (status running) committed before the merge
                     transaction; the session holds applock DbMerge.MergeRun:R.
        parameters   all given and in range; S ≠ T; R is a running merge of S into T.
        L1           sp_getapplock DbMerge.User:<T>, then DbMerge.User:<S> (lower id first): granted.
        L2           UPDATE app.User T, then S (PK_app_User): UpdatedAt := @Now; journal ChangeSeq 1, 2, action 'locked'.
        re-read      S exists, not merged; T active, not merged. Active holder of s@x.test other than S
                     (IX_app_User_Email, UPDLOCK, HOLDLOCK): none → the source's address is re-addressed.
        coverage     15 foreign keys to app.User, each with a policy; the 17 policies equal the generated @Handler rows;
                     the foreign keys to app.Enrollment (FinalQualification, Submission) are @Child rows → no problem.
        refuse       no refuse policy.
        1010 pre     FinalQualification on both enrollments of one course: (e1 q1, e2 none), (e5 none, e4 q2) → none.
        1010 batch   source rows e1 (co1: target e2), e3 (co2: none), e5 (co3: target e4): Conflicts 2.
                     Fences on FinalQualification and Submission; the check under key-range locks finds no pair.
                     FinalQualification of colliding rows: q1 (e1) → e2 (merged 1); Submission: s1, s2 (e1) → e2,
                     s3 (e5) → e4 (merged 3). DELETE e1, e5 (deleted 2). UPDATE e3 → T (moved 1). 1/4/2/2.
        1020 batch   DocumentAccess of S: a1 (D1, no target row), a2 (D2 editor; T a3 reader), a5 (D3 commenter; T a4
                     owner), a6 (D4 reader; T a7 reader): Conflicts 3. Raise a3 → editor (merged 1); a4 higher, a7
                     equal: kept. DELETE a2, a5, a6 (deleted 3). UPDATE a1 → T (moved 1). Team grant a8 has no user:
                     not in S's range of IX_app_DocumentAccess_UserId.
        1030 batch   DocumentInvitation addressed to s@x.test (the column's case-insensitive collation): i1 (D2 editor;
                     t@ i2 reader), i3 (D3, 'S@X.test'; none): Conflicts 1. Raise i2 → editor (merged 1); DELETE i1
                     (deleted 1); UPDATE i3 Email → t@x.test (moved 1).
        1040         IssuerUserId: i4 → T (moved 1).
        1050 dups    pending Invitation of s@x.test per (ChannelId, OrganizationId): ch2 holds v3 (view) and v4 (edit):
                     v3 deleted (deleted 1). t@x.test's own duplicates where s@ holds the resource: none.
        1050 batch   v1 (ch1 edit; t@ v2 view), v4 (ch2 edit; none), v7 (org1 admin; t@ v8 view), v9 (ch3 view; none):
                     Conflicts 2. Raise v2 → edit, v8 → admin (merged 2). DELETE v1, v7 (deleted 2). UPDATE v4, v9
                     Email → t@x.test (moved 2). v5 is accepted: not pending, not re-addressed. 2/2/3/2.
        1060         SenderUserId: v6, v9 → T (moved 2): v9 changes a second time; its two journal rows are in change
                     order (the first before-image has s@ and S, the second t@ and S).
        1070         InvitedUserId: v5 → T (moved 1).
        1080 batch   OrganizationMember org1: S admin, T viewer → raise T (merged 1), DELETE S's (deleted 1); Conflicts 1.
        1090 batch   ChannelMember ch1: S editor, T viewer → raise (merged 1), DELETE (deleted 1), Conflicts 1; ch2: S's
                     row → T (moved 1).
        1100 batch   LinkTrace (D2, S) collides with (D2, T) → DELETE (deleted 1, Conflicts 1); (D3, S) → T (moved 1).
        1110 batch   DocumentFavorite (D2, S) → deleted 1, Conflicts 1; (D1, S) → moved 1.
        1120 batch   ReactionUser (r1, S) collides with (r1, T) → deleted 1, Conflicts 1; (r2, S) → moved 1; (r1, O) untouched.
        1130..1160   Document d1, Thread th1, Comment c1, Collection col1 → T (moved 1 each).
        1170         User.MergedIntoUserId: P → T (moved 1).
        deactivate   S: IsActive 0, MergedIntoUserId T (merged 1 of User.MergedIntoUserId).
        residual     one READCOMMITTEDLOCK seek per foreign key column for S: nothing → no 51107.
        late e-mail  no DocumentInvitation and no pending Invitation addressed to s@x.test → no message.
        finish       summary JSON; MergeRun R := committed inside the transaction; COMMIT; dbmerge.MergeRun_Finish
                     releases the run's applock. Journal: 2 'locked' rows + 43 changes (RowsChanged), ChangeSeq 1..45.
    */
    [Fact]
    public async Task Merge_applies_every_policy_and_reports_what_it_did()
    {
        var s = Seed;
        var t = await s.UserAsync("t@x.test");
        var src = await s.UserAsync("s@x.test");
        var o = await s.UserAsync("o@x.test");
        var p = await s.UserAsync("p@x.test", active: false, mergedInto: src);
        var d1 = await s.DocumentAsync("0000001", src);
        var d2 = await s.DocumentAsync("0000002", o);
        var d3 = await s.DocumentAsync("0000003", t);
        var d4 = await s.DocumentAsync("0000004", o);
        var a1 = await s.AccessAsync(d1, src, "owner");
        await s.AccessAsync(d2, src, "editor");
        var a3 = await s.AccessAsync(d2, t, "reader");
        var a4 = await s.AccessAsync(d3, t, "owner");
        await s.AccessAsync(d3, src, "commenter");
        var a6 = await s.AccessAsync(d4, src, "reader");
        var a7 = await s.AccessAsync(d4, t, "reader");
        var a8 = await s.AccessAsync(d2, null, "reader", team: "crew");
        await s.LinkTraceAsync(d2, src);
        await s.LinkTraceAsync(d2, t);
        await s.LinkTraceAsync(d3, src);
        await s.FavoriteAsync(d2, src);
        await s.FavoriteAsync(d2, t);
        await s.FavoriteAsync(d1, src);
        var th1 = await s.ThreadAsync(d2, src);
        var c1 = await s.CommentAsync(th1, src);
        var c2 = await s.CommentAsync(th1, o);
        var r1 = await s.ReactionAsync(c1, "+1");
        var r2 = await s.ReactionAsync(c2, "heart");
        await s.ReactionUserAsync(r1, src);
        await s.ReactionUserAsync(r1, t);
        await s.ReactionUserAsync(r1, o);
        await s.ReactionUserAsync(r2, src);
        await s.DocumentInvitationAsync(d2, "s@x.test", "editor", o);
        var i2 = await s.DocumentInvitationAsync(d2, "t@x.test", "reader", o);
        var i3 = await s.DocumentInvitationAsync(d3, "S@X.test", "commenter", o);
        var i4 = await s.DocumentInvitationAsync(d1, "o@x.test", "reader", src);
        var ch1 = await s.ChannelAsync("one");
        var ch2 = await s.ChannelAsync("two");
        await s.ChannelMemberAsync(ch1, src, "editor");
        await s.ChannelMemberAsync(ch1, t, "viewer");
        await s.ChannelMemberAsync(ch2, src, "viewer");
        await s.InvitationAsync(ch1, "s@x.test", "edit", o);
        var v2 = await s.InvitationAsync(ch1, "t@x.test", "view", o);
        var v3 = await s.InvitationAsync(ch2, "s@x.test", "view", o);
        var v4 = await s.InvitationAsync(ch2, "s@x.test", "edit", o);
        var v5 = await s.InvitationAsync(ch2, "s@x.test", "view", o, invited: src, status: "accepted");
        var v6 = await s.InvitationAsync(ch1, "o@x.test", "view", src);
        var org1 = await s.OrganizationAsync("org");
        await s.OrganizationMemberAsync(org1, src, "admin");
        await s.OrganizationMemberAsync(org1, t, "viewer");
        var v7 = await s.OrganizationInvitationAsync(org1, "s@x.test", "admin", o);
        var v8 = await s.OrganizationInvitationAsync(org1, "t@x.test", "view", o);
        var ch3 = await s.ChannelAsync("three");
        var v9 = await s.InvitationAsync(ch3, "s@x.test", "view", src);
        var col1 = await s.CollectionAsync(src);
        var co1 = await s.CourseAsync("one");
        var co2 = await s.CourseAsync("two");
        var co3 = await s.CourseAsync("three");
        var e1 = await s.EnrollmentAsync(co1, src);
        var e2 = await s.EnrollmentAsync(co1, t);
        var e3 = await s.EnrollmentAsync(co2, src);
        var e4 = await s.EnrollmentAsync(co3, t);
        var e5 = await s.EnrollmentAsync(co3, src);
        var s1 = await s.SubmissionAsync(e1);
        var s2 = await s.SubmissionAsync(e1);
        var s3 = await s.SubmissionAsync(e5);
        var q1 = await s.FinalQualificationAsync(e1, "A");
        var q2 = await s.FinalQualificationAsync(e4, "B");

        var result = await MergeAsync(src, t);
        DumpSummary(result);
        Dump("DocumentAccess", await RowsAsync("SELECT DocumentAccessId, DocumentId, UserId, Team, Role FROM app.DocumentAccess ORDER BY DocumentAccessId;"));

        void Expect(string table, string column, int moved, int merged, int deleted, int conflicts)
        {
            var row = Row(result, table, column);
            Assert.Equal((moved, merged, deleted, conflicts), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
        }

        Expect("Enrollment", "UserId", 1, 4, 2, 2);
        Expect("DocumentAccess", "UserId", 1, 1, 3, 3);
        Expect("OrganizationMember", "UserId", 0, 1, 1, 1);
        Expect("ChannelMember", "UserId", 1, 1, 1, 1);
        Expect("LinkTrace", "UserId", 1, 0, 1, 1);
        Expect("DocumentFavorite", "UserId", 1, 0, 1, 1);
        Expect("ReactionUser", "UserId", 1, 0, 1, 1);
        Expect("DocumentInvitation", "Email", 1, 1, 1, 1);
        Expect("DocumentInvitation", "IssuerUserId", 1, 0, 0, 0);
        Expect("Invitation", "Email", 2, 2, 3, 2);
        Expect("Invitation", "SenderUserId", 2, 0, 0, 0);
        Expect("Invitation", "InvitedUserId", 1, 0, 0, 0);
        Expect("Document", "CreatorUserId", 1, 0, 0, 0);
        Expect("Thread", "CreatorUserId", 1, 0, 0, 0);
        Expect("Comment", "AuthorUserId", 1, 0, 0, 0);
        Expect("Collection", "OwnerUserId", 1, 0, 0, 0);
        Expect("User", "MergedIntoUserId", 1, 1, 0, 0);
        Assert.Equal(17, result.Tables.Count);
        Assert.Equal(43, result.RowsChanged);

        // keep-higher-role: source higher raises the target; target higher and equal keep the target; no collision moves.
        Assert.Equal("editor", await ScalarAsync<string>("SELECT Role FROM app.DocumentAccess WHERE DocumentAccessId = @Id;", ("@Id", a3)));
        Assert.Equal("owner", await ScalarAsync<string>("SELECT Role FROM app.DocumentAccess WHERE DocumentAccessId = @Id;", ("@Id", a4)));
        Assert.Equal("reader", await ScalarAsync<string>("SELECT Role FROM app.DocumentAccess WHERE DocumentAccessId = @Id;", ("@Id", a7)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentAccess WHERE DocumentAccessId = @Id;", ("@Id", a6)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT UserId FROM app.DocumentAccess WHERE DocumentAccessId = @Id;", ("@Id", a1)));
        Assert.Equal("crew", await ScalarAsync<string>("SELECT Team FROM app.DocumentAccess WHERE DocumentAccessId = @Id AND UserId IS NULL AND Role = 'reader';", ("@Id", a8)));
        Assert.Equal("admin", await ScalarAsync<string>("SELECT Role FROM app.OrganizationMember WHERE OrganizationId = @O AND UserId = @T;", ("@O", org1), ("@T", t)));
        Assert.Equal("editor", await ScalarAsync<string>("SELECT Role FROM app.ChannelMember WHERE ChannelId = @C AND UserId = @T;", ("@C", ch1), ("@T", t)));
        Assert.Equal("viewer", await ScalarAsync<string>("SELECT Role FROM app.ChannelMember WHERE ChannelId = @C AND UserId = @T;", ("@C", ch2), ("@T", t)));

        // dedupe keeps one row per key.
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.LinkTrace WHERE DocumentId = @D;", ("@D", d2)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentFavorite WHERE DocumentId = @D;", ("@D", d2)));
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM app.ReactionUser WHERE ReactionId = @R;", ("@R", r1)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT UserId FROM app.ReactionUser WHERE ReactionId = @R;", ("@R", r2)));

        // moves.
        Assert.Equal(t, await ScalarAsync<int>("SELECT CreatorUserId FROM app.Document WHERE DocumentId = @D;", ("@D", d1)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT CreatorUserId FROM app.Thread WHERE ThreadId = @T;", ("@T", th1)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT AuthorUserId FROM app.Comment WHERE CommentId = @C;", ("@C", c1)));
        Assert.Equal(o, await ScalarAsync<int>("SELECT AuthorUserId FROM app.Comment WHERE CommentId = @C;", ("@C", c2)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT OwnerUserId FROM app.Collection WHERE CollectionId = @C;", ("@C", col1)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT IssuerUserId FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", i4)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT SenderUserId FROM app.Invitation WHERE InvitationId = @I;", ("@I", v6)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT InvitedUserId FROM app.Invitation WHERE InvitationId = @I;", ("@I", v5)));

        // invitations re-addressed with keep-higher-role.
        Assert.Equal("editor", await ScalarAsync<string>("SELECT Role FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", i2)));
        Assert.Equal("t@x.test", await ScalarAsync<string>("SELECT Email FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", i3)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE Email = N's@x.test';"));
        Assert.Equal("edit", await ScalarAsync<string>("SELECT ShareMode FROM app.Invitation WHERE InvitationId = @I;", ("@I", v2)));
        Assert.Equal("t@x.test", await ScalarAsync<string>("SELECT Email FROM app.Invitation WHERE InvitationId = @I AND ShareMode = 'edit';", ("@I", v4)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE InvitationId = @I;", ("@I", v3)));
        Assert.Equal("s@x.test", await ScalarAsync<string>("SELECT Email FROM app.Invitation WHERE InvitationId = @I AND Status = 'accepted';", ("@I", v5)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE ChannelId = @C AND Status = 'pending' AND Email = N't@x.test';", ("@C", ch2)));
        Assert.Equal("admin", await ScalarAsync<string>("SELECT ShareMode FROM app.Invitation WHERE InvitationId = @I;", ("@I", v8)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE InvitationId = @I;", ("@I", v7)));

        // merge-children: submissions and the only final qualification follow; duplicate enrollments go.
        Assert.Equal(e2, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", s1)));
        Assert.Equal(e2, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", s2)));
        Assert.Equal(e4, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", s3)));
        Assert.Equal(e2, await ScalarAsync<int>("SELECT EnrollmentId FROM app.FinalQualification WHERE FinalQualificationId = @Q;", ("@Q", q1)));
        Assert.Equal(e4, await ScalarAsync<int>("SELECT EnrollmentId FROM app.FinalQualification WHERE FinalQualificationId = @Q;", ("@Q", q2)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Enrollment WHERE EnrollmentId IN (@A, @B);", ("@A", e1), ("@B", e5)));
        Assert.Equal(t, await ScalarAsync<int>("SELECT UserId FROM app.Enrollment WHERE EnrollmentId = @E;", ("@E", e3)));

        // the source ends inactive, merged into the target, e-mail kept; the earlier merge follows.
        var users = await RowsAsync("SELECT UserId, Email, IsActive, MergedIntoUserId FROM app.[User] ORDER BY UserId;");
        Dump("users", users);
        Assert.Equal((false, t, "s@x.test"), (users.Single(u => (int)u["UserId"]! == src)["IsActive"] is true, (int)users.Single(u => (int)u["UserId"]! == src)["MergedIntoUserId"]!, (string)users.Single(u => (int)u["UserId"]! == src)["Email"]!));
        Assert.Equal(t, (int)users.Single(u => (int)u["UserId"]! == p)["MergedIntoUserId"]!);

        // history and journal match what changed.
        var verification = await Client.VerifyMergeAsync(result.MergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("; ", verification.Problems));
        var run = await Client.GetMergeRunAsync(result.MergeRunId, Ct);
        Assert.Equal(("committed", src, t, "tests", "integration test"), (run.Run.Status, run.Run.SourceUserId, run.Run.TargetUserId, run.Run.RequestedBy, run.Run.Reason));
        Assert.Equal(result.Tables, run.Summary);
        Assert.Equal(result.RowsChanged, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange WHERE MergeRunId = @R AND Action <> 'locked';", ("@R", result.MergeRunId)));
        Assert.Equal(2, run.LockedRows);
        Assert.Equal(result.RowsChanged + 2, await ScalarAsync<int>("SELECT MAX(ChangeSeq) FROM dbmerge.MergeChange WHERE MergeRunId = @R;", ("@R", result.MergeRunId)));
        var image = await ScalarAsync<string>(
            "SELECT BeforeImage FROM dbmerge.MergeChange WHERE MergeRunId = @R AND SchemaName = N'app' AND TableName = N'DocumentAccess' AND Action = 'deleted' AND JSON_VALUE(RowKey, '$.DocumentAccessId') = @A;",
            ("@R", result.MergeRunId), ("@A", a6));
        Assert.Contains($"\"UserId\":{src}", image);
        Assert.Contains("\"Role\":\"reader\"", image);

        // a row changed twice (v9: re-addressed, then its sender moved) has both images, in change order.
        var twice = await RowsAsync(
            "SELECT ChangeSeq, JSON_VALUE(BeforeImage, '$.Email') AS BeforeEmail, JSON_VALUE(BeforeImage, '$.SenderUserId') AS BeforeSender, " +
            "JSON_VALUE(AfterImage, '$.Email') AS AfterEmail, JSON_VALUE(AfterImage, '$.SenderUserId') AS AfterSender " +
            "FROM dbmerge.MergeChange WHERE MergeRunId = @R AND TableName = N'Invitation' AND JSON_VALUE(RowKey, '$.InvitationId') = @V ORDER BY ChangeSeq;",
            ("@R", result.MergeRunId), ("@V", v9));
        Dump("v9 journal", twice);
        Assert.Equal(2, twice.Count);
        Assert.Equal(("s@x.test", $"{src}", "t@x.test", $"{src}"), ((string?)twice[0]["BeforeEmail"], (string?)twice[0]["BeforeSender"], (string?)twice[0]["AfterEmail"], (string?)twice[0]["AfterSender"]));
        Assert.Equal(("t@x.test", $"{src}", "t@x.test", $"{t}"), ((string?)twice[1]["BeforeEmail"], (string?)twice[1]["BeforeSender"], (string?)twice[1]["AfterEmail"], (string?)twice[1]["AfterSender"]));
    }

    [Theory]
    [InlineData("editor", "reader", "editor")]
    [InlineData("reader", "owner", "owner")]
    [InlineData("commenter", "commenter", "commenter")]
    public async Task Merge_keeps_the_higher_role_when_both_users_can_access_a_document(string sourceRole, string targetRole, string expected)
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001");
        await Seed.AccessAsync(d, src, sourceRole);
        await Seed.AccessAsync(d, t, targetRole);
        await Seed.AccessAsync(d, null, "reader", team: "crew");

        var result = await MergeAsync(src, t);

        var rows = await RowsAsync("SELECT DocumentAccessId, UserId, Team, Role FROM app.DocumentAccess ORDER BY DocumentAccessId;");
        Dump("accesses", rows);
        Assert.Equal(expected, await ScalarAsync<string>("SELECT Role FROM app.DocumentAccess WHERE DocumentId = @D AND UserId = @T;", ("@D", d), ("@T", t)));
        Assert.Equal(2, rows.Count);
        Assert.Contains(rows, r => (string?)r["Team"] == "crew" && r["UserId"] is null);
        var row = Row(result, "DocumentAccess", "UserId");
        Assert.Equal((0, sourceRole == expected && sourceRole != targetRole ? 1 : 0, 1, 1), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Theory]
    [InlineData("admin", "viewer", "editor", "viewer", "admin", "editor")]
    [InlineData("viewer", "admin", "viewer", "editor", "admin", "editor")]
    [InlineData("editor", "editor", "viewer", "viewer", "editor", "viewer")]
    public async Task Merge_keeps_the_higher_organization_and_channel_role_whichever_user_holds_it(
        string sourceOrganizationRole, string targetOrganizationRole, string sourceChannelRole, string targetChannelRole,
        string expectedOrganizationRole, string expectedChannelRole)
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var org = await Seed.OrganizationAsync("org");
        var channel = await Seed.ChannelAsync("channel");
        var lonely = await Seed.ChannelAsync("only the source");
        await Seed.OrganizationMemberAsync(org, src, sourceOrganizationRole);
        await Seed.OrganizationMemberAsync(org, t, targetOrganizationRole);
        await Seed.ChannelMemberAsync(channel, src, sourceChannelRole);
        await Seed.ChannelMemberAsync(channel, t, targetChannelRole);
        await Seed.ChannelMemberAsync(lonely, src, "editor");

        var result = await MergeAsync(src, t);

        Dump("organization members", await RowsAsync("SELECT OrganizationMemberId, OrganizationId, UserId, Role FROM app.OrganizationMember;"));
        Dump("channel members", await RowsAsync("SELECT ChannelMemberId, ChannelId, UserId, Role FROM app.ChannelMember;"));
        Assert.Equal(expectedOrganizationRole, await ScalarAsync<string>("SELECT Role FROM app.OrganizationMember WHERE OrganizationId = @O AND UserId = @T;", ("@O", org), ("@T", t)));
        Assert.Equal(expectedChannelRole, await ScalarAsync<string>("SELECT Role FROM app.ChannelMember WHERE ChannelId = @C AND UserId = @T;", ("@C", channel), ("@T", t)));
        Assert.Equal("editor", await ScalarAsync<string>("SELECT Role FROM app.ChannelMember WHERE ChannelId = @C AND UserId = @T;", ("@C", lonely), ("@T", t)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT (SELECT COUNT(*) FROM app.OrganizationMember WHERE UserId = @S) + (SELECT COUNT(*) FROM app.ChannelMember WHERE UserId = @S);", ("@S", src)));
        Assert.Equal((1, 1), (Row(result, "OrganizationMember", "UserId").Deleted, Row(result, "ChannelMember", "UserId").Moved));
    }

    [Fact]
    public async Task The_dry_run_changes_nothing_and_reports_the_same_summary_as_the_merge()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001", src);
        await Seed.AccessAsync(d, src, "owner");
        await Seed.AccessAsync(d, t, "reader");
        await Seed.FavoriteAsync(d, src);
        var course = await Seed.CourseAsync("c");
        var e = await Seed.EnrollmentAsync(course, src);
        await Seed.EnrollmentAsync(course, t);
        await Seed.SubmissionAsync(e);
        var before = await FingerprintAsync(includeHistory: true);

        var dry = await MergeAsync(src, t, dryRun: true);
        DumpSummary(dry);

        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));
        var run = await Client.GetMergeRunAsync(dry.MergeRunId, Ct);
        Assert.Equal(("dry-run", true), (run.Run.Status, run.Run.IsDryRun));
        Assert.Equal(dry.Tables, run.Summary);
        Assert.Empty(run.Journal);

        var merged = await MergeAsync(src, t);
        Assert.Equal(dry.Tables, merged.Tables);
        Assert.NotEqual(dry.MergeRunId, merged.MergeRunId);
    }

    [Fact]
    public async Task Chained_merges_leave_the_first_account_pointing_at_the_last()
    {
        var a = await Seed.UserAsync("a@x.test");
        var b = await Seed.UserAsync("b@x.test");
        var c = await Seed.UserAsync("c@x.test");

        await MergeAsync(a, b);
        var second = await MergeAsync(b, c);

        Dump("users", await RowsAsync("SELECT UserId, IsActive, MergedIntoUserId FROM app.[User] ORDER BY UserId;"));
        Assert.Equal(c, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @A;", ("@A", a)));
        Assert.Equal(c, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @B;", ("@B", b)));
        Assert.Equal((1, 1), (Row(second, "User", "MergedIntoUserId").Moved, Row(second, "User", "MergedIntoUserId").Merged));
    }

    [Fact]
    public async Task An_inactive_legacy_account_with_the_same_email_merges_without_touching_invitations()
    {
        var legacy = await Seed.UserAsync("ada@x.test", active: false);
        var t = await Seed.UserAsync("ADA@x.test");
        var d = await Seed.DocumentAsync("0000001");
        var invitation = await Seed.DocumentInvitationAsync(d, "ada@x.test", "editor", null);
        await Seed.CollectionAsync(legacy);

        var result = await MergeAsync(legacy, t);

        Assert.Equal((0, 0, 0), (Row(result, "DocumentInvitation", "Email").Moved, Row(result, "DocumentInvitation", "Email").Deleted, Row(result, "DocumentInvitation", "Email").Conflicts));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", invitation)));
        Assert.Equal(1, Row(result, "Collection", "OwnerUserId").Moved);
    }
}
