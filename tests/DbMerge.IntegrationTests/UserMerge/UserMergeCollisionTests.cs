using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// Every collision policy meets its collisions both ways and equal (issue 9): the higher rank wins whoever held it, the
/// target's own duplicates are reduced the same way, and Conflicts counts exactly the source rows whose resource the
/// target already held. (keep-higher-role of DocumentAccess, OrganizationMember and ChannelMember: UserMergePolicyTests.)
/// </summary>
public sealed class UserMergeCollisionTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Theory]
    [InlineData("editor", "reader", "editor")]
    [InlineData("reader", "owner", "owner")]
    [InlineData("commenter", "commenter", "commenter")]
    public async Task A_document_invitation_to_both_addresses_keeps_the_higher_role_whoever_held_it(string sourceRole, string targetRole, string expected)
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001");
        var alone = await Seed.DocumentAsync("0000002");
        await Seed.DocumentInvitationAsync(d, "s@x.test", sourceRole, null);
        var targets = await Seed.DocumentInvitationAsync(d, "t@x.test", targetRole, null);
        var moved = await Seed.DocumentInvitationAsync(alone, "S@x.TEST", "reader", null);

        var result = await MergeAsync(src, t);

        Dump("document invitations", await RowsAsync("SELECT DocumentInvitationId, DocumentId, Email, Role FROM app.DocumentInvitation ORDER BY DocumentInvitationId;"));
        Assert.Equal(expected, await ScalarAsync<string>("SELECT Role FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", targets)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE DocumentId = @D;", ("@D", d)));
        Assert.Equal("t@x.test", await ScalarAsync<string>("SELECT Email FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", moved)));
        var row = Row(result, "DocumentInvitation", "Email");
        Assert.Equal((1, expected != targetRole ? 1 : 0, 1, 1), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Theory]
    [InlineData("edit", "view", "edit")]
    [InlineData("view", "edit", "edit")]
    [InlineData("view", "view", "view")]
    public async Task A_pending_channel_invitation_to_both_addresses_keeps_the_higher_share_mode_whoever_held_it(string sourceMode, string targetMode, string expected)
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var channel = await Seed.ChannelAsync("c");
        await Seed.InvitationAsync(channel, "s@x.test", sourceMode, null);
        var targets = await Seed.InvitationAsync(channel, "t@x.test", targetMode, null);

        var result = await MergeAsync(src, t);

        Dump("invitations", await RowsAsync("SELECT InvitationId, ChannelId, Email, ShareMode, Status FROM app.Invitation ORDER BY InvitationId;"));
        var remaining = await RowsAsync("SELECT InvitationId, Email, ShareMode FROM app.Invitation WHERE ChannelId = @C AND Status = 'pending';", ("@C", channel));
        var kept = Assert.Single(remaining);
        Assert.Equal((targets, "t@x.test", expected), ((int)kept["InvitationId"]!, (string)kept["Email"]!, (string)kept["ShareMode"]!));
        var row = Row(result, "Invitation", "Email");
        Assert.Equal((0, expected != targetMode ? 1 : 0, 1, 1), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Fact]
    public async Task The_targets_own_duplicate_invitations_are_reduced_to_the_highest_share_mode_and_only_source_rows_count_as_conflicts()
    {
        // Given, for one organization, two pending invitations to the target's address (view, edit) and two to the
        // source's (view, admin); and for a channel only the target's duplicates (the source has no invitation there)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var org = await Seed.OrganizationAsync("o");
        var channel = await Seed.ChannelAsync("c");
        await Seed.OrganizationInvitationAsync(org, "t@x.test", "view", null);
        var targetEdit = await Seed.OrganizationInvitationAsync(org, "t@x.test", "edit", null);
        await Seed.OrganizationInvitationAsync(org, "s@x.test", "view", null);
        await Seed.OrganizationInvitationAsync(org, "s@x.test", "admin", null);
        await Seed.InvitationAsync(channel, "t@x.test", "view", null);
        await Seed.InvitationAsync(channel, "t@x.test", "edit", null);

        var result = await MergeAsync(src, t);

        // Then the organization has one pending invitation: the target's row, raised to admin; the channel's target
        // duplicates are not the merge's business (the source holds nothing there) and stay
        Dump("invitations", await RowsAsync("SELECT InvitationId, OrganizationId, ChannelId, Email, ShareMode FROM app.Invitation ORDER BY InvitationId;"));
        var kept = Assert.Single(await RowsAsync("SELECT InvitationId, Email, ShareMode FROM app.Invitation WHERE OrganizationId = @O;", ("@O", org)));
        Assert.Equal((targetEdit, "t@x.test", "admin"), ((int)kept["InvitationId"]!, (string)kept["Email"]!, (string)kept["ShareMode"]!));
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE ChannelId = @C;", ("@C", channel)));

        // Deleted: the source's view duplicate, the target's view duplicate, the colliding source admin row (3);
        // Conflicts: the one source row whose resource the target held when its batch ran (1); Merged: the raise (1)
        var row = Row(result, "Invitation", "Email");
        Assert.Equal((0, 1, 3, 1), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Fact]
    public async Task Dedupe_moves_rows_only_the_source_holds_deletes_the_sources_duplicates_and_leaves_the_targets_own()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var sourceOnly = await Seed.DocumentAsync("0000001");
        var both = await Seed.DocumentAsync("0000002");
        var targetOnly = await Seed.DocumentAsync("0000003");
        var thread = await Seed.ThreadAsync(both, null);
        var comment = await Seed.CommentAsync(thread, null);
        var rSource = await Seed.ReactionAsync(comment, "+1");
        var rBoth = await Seed.ReactionAsync(comment, "heart");
        var rTarget = await Seed.ReactionAsync(comment, "eyes");
        foreach (var (document, users) in new[] { (sourceOnly, new[] { src }), (both, new[] { src, t }), (targetOnly, new[] { t }) })
        {
            foreach (var user in users)
            {
                await Seed.LinkTraceAsync(document, user);
                await Seed.FavoriteAsync(document, user);
            }
        }

        await Seed.ReactionUserAsync(rSource, src);
        await Seed.ReactionUserAsync(rBoth, src);
        await Seed.ReactionUserAsync(rBoth, t);
        await Seed.ReactionUserAsync(rTarget, t);

        var result = await MergeAsync(src, t);

        foreach (var (table, key) in new[] { ("LinkTrace", "DocumentId"), ("DocumentFavorite", "DocumentId"), ("ReactionUser", "ReactionId") })
        {
            var rows = await RowsAsync($"SELECT {key} AS K, UserId FROM app.{table} ORDER BY {key};");
            Dump(table, rows);
            Assert.All(rows, r => Assert.Equal(t, (int)r["UserId"]!));
            Assert.Equal(3, rows.Count);
            Assert.Equal(3, rows.Select(r => (int)r["K"]!).Distinct().Count());
            var summary = Row(result, table, "UserId");
            Assert.Equal((1, 0, 1, 1), (summary.Moved, summary.Merged, summary.Deleted, summary.Conflicts));
        }
    }

    [Fact]
    public async Task Merge_children_moves_children_to_the_targets_row_whichever_side_holds_them_and_keeps_the_only_final_qualification()
    {
        // Given four courses: the source enrolled alone (c1); both enrolled, both with submissions (c2); both enrolled,
        // only the target qualified (c3); both enrolled, only the source qualified (c4)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var (c1, c2, c3, c4) = (await Seed.CourseAsync("1"), await Seed.CourseAsync("2"), await Seed.CourseAsync("3"), await Seed.CourseAsync("4"));
        var alone = await Seed.EnrollmentAsync(c1, src);
        var aloneSubmission = await Seed.SubmissionAsync(alone);
        var s2 = await Seed.EnrollmentAsync(c2, src);
        var t2 = await Seed.EnrollmentAsync(c2, t);
        var s2Submission = await Seed.SubmissionAsync(s2);
        var t2Submission = await Seed.SubmissionAsync(t2);
        var s3 = await Seed.EnrollmentAsync(c3, src);
        var t3 = await Seed.EnrollmentAsync(c3, t);
        var t3Final = await Seed.FinalQualificationAsync(t3, "B");
        var s4 = await Seed.EnrollmentAsync(c4, src);
        var t4 = await Seed.EnrollmentAsync(c4, t);
        var s4Final = await Seed.FinalQualificationAsync(s4, "A");

        var result = await MergeAsync(src, t);

        Dump("enrollments", await RowsAsync("SELECT EnrollmentId, CourseId, UserId FROM app.Enrollment ORDER BY EnrollmentId;"));
        Assert.Equal(t, await ScalarAsync<int>("SELECT UserId FROM app.Enrollment WHERE EnrollmentId = @E;", ("@E", alone)));
        Assert.Equal(alone, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", aloneSubmission)));
        Assert.Equal(t2, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", s2Submission)));
        Assert.Equal(t2, await ScalarAsync<int>("SELECT EnrollmentId FROM app.Submission WHERE SubmissionId = @S;", ("@S", t2Submission)));
        Assert.Equal(t3, await ScalarAsync<int>("SELECT EnrollmentId FROM app.FinalQualification WHERE FinalQualificationId = @F;", ("@F", t3Final)));
        Assert.Equal(t4, await ScalarAsync<int>("SELECT EnrollmentId FROM app.FinalQualification WHERE FinalQualificationId = @F;", ("@F", s4Final)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Enrollment WHERE EnrollmentId IN (@A, @B, @C);", ("@A", s2), ("@B", s3), ("@C", s4)));
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Enrollment WHERE UserId = @T;", ("@T", t)));

        // moved: the lone enrollment; merged: one submission and one final qualification re-pointed; deleted and
        // conflicts: the three colliding source enrollments
        var row = Row(result, "Enrollment", "UserId");
        Assert.Equal((1, 2, 3, 3), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Fact]
    public async Task A_move_policy_moves_only_the_sources_rows()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var o = await Seed.UserAsync("o@x.test");
        var mine = await Seed.CollectionAsync(src);
        var theirs = await Seed.CollectionAsync(o);
        var targets = await Seed.CollectionAsync(t);

        var result = await MergeAsync(src, t);

        var owners = await RowsAsync("SELECT CollectionId, OwnerUserId FROM app.Collection ORDER BY CollectionId;");
        Dump("collections", owners);
        Assert.Equal([(mine, t), (theirs, o), (targets, t)], owners.Select(r => ((int)r["CollectionId"]!, (int)r["OwnerUserId"]!)));
        var row = Row(result, "Collection", "OwnerUserId");
        Assert.Equal((1, 0, 0, 0), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
    }

    [Fact]
    public async Task Small_batches_give_the_same_result_and_summary_as_one_batch()
    {
        // Given 25 accesses, traces and collections of the source, every fifth access colliding with the target
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var documents = await DocumentsAsync(25, firstStep: 1);
        foreach (var (document, i) in documents.Select((d, i) => (d, i)))
        {
            await Seed.AccessAsync(document, src, i % 2 == 0 ? "editor" : "reader");
            if (i % 5 == 0)
            {
                await Seed.AccessAsync(document, t, "commenter");
            }

            await Seed.LinkTraceAsync(document, src);
            await Seed.CollectionAsync(src, $"c{i}");
        }

        // When the dry run uses batches of 1000 and the merge batches of 3 (every loop runs several times)
        var dry = await MergeAsync(src, t, dryRun: true);
        var merged = await MergeAsync(src, t, batchSize: 3);

        // Then both report the same, and every row moved
        Assert.Equal(dry.Tables, merged.Tables);
        Assert.Equal((20, 5), (Row(merged, "DocumentAccess", "UserId").Moved, Row(merged, "DocumentAccess", "UserId").Conflicts));
        Assert.Equal(25, Row(merged, "LinkTrace", "UserId").Moved);
        Assert.Equal(25, Row(merged, "Collection", "OwnerUserId").Moved);
        Assert.True((await Client.VerifyMergeAsync(merged.MergeRunId, Ct)).Verified);
    }
}
