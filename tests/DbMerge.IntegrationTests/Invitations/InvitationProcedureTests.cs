using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.Invitations;

/// <summary>api.Invitation_Create / _Accept / _Decline / _Revoke against SQL Server (issue 5).</summary>
public sealed class InvitationProcedureTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<InvitationWorld> GivenTheWorldAsync() =>
        await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);

    private Task<InvitationCreated> InviteAsync(InvitationWorld w, InvitationTarget target, string shareMode, string email = InvitationWorld.AdaEmail) =>
        Client.CreateInvitationAsync(target, email, shareMode, w.Dave, cancellationToken: Ct);

    private async Task<T> AssertRefusedAsync<T>(int number, Func<Task<T>> call)
        where T : notnull
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(async () => await call());
        Output.WriteLine($"refused as expected: {error.ErrorNumber} {error.Message}");
        Assert.Equal(number, error.ErrorNumber);
        Assert.True(ErrorRegistry.TryGet(number, out _));
        return default!;
    }

    private async Task DumpMembershipAsync(InvitationWorld w)
    {
        Dump("invitations", await RowsAsync("SELECT InvitationId, ChannelId, OrganizationId, Email, ShareMode, Status, InvitedUserId, RespondedAt FROM app.Invitation ORDER BY InvitationId;"));
        Dump("organization members", await RowsAsync("SELECT OrganizationId, UserId, Role FROM app.OrganizationMember WHERE OrganizationId = @o ORDER BY UserId;", ("@o", w.Organization)));
        Dump("channel members", await RowsAsync("SELECT ChannelId, UserId, Role FROM app.ChannelMember WHERE ChannelId = @c ORDER BY UserId;", ("@c", w.Channel)));
    }

    [Theory]
    [InlineData("organization", "view", "viewer")]
    [InlineData("organization", "edit", "editor")]
    [InlineData("organization", "admin", "admin")]
    [InlineData("channel", "view", "viewer")]
    [InlineData("channel", "edit", "editor")]
    public async Task Accept_maps_each_share_mode_to_its_member_role(string targetKind, string shareMode, string expectedRole)
    {
        // Given an invitation of Ada to the target with the share mode
        var w = await GivenTheWorldAsync();
        var target = targetKind == "channel" ? InvitationTarget.Channel(w.Channel) : InvitationTarget.Organization(w.Organization);
        var invitation = await InviteAsync(w, target, shareMode, "ADA@Example.org");

        // When Ada accepts (her e-mail differs only in case)
        var accepted = await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);

        // Then she is a member with the mapped role, created once, and the invitation is accepted by her
        await DumpMembershipAsync(w);
        Assert.Equal(expectedRole, accepted.Role);
        Assert.Equal(targetKind, accepted.TargetKind);
        Assert.True(accepted.MembershipCreated);
        Assert.False(accepted.RoleUpgraded);
        Assert.False(accepted.AlreadyAccepted);
        var table = targetKind == "channel" ? "app.ChannelMember WHERE ChannelId" : "app.OrganizationMember WHERE OrganizationId";
        Assert.Equal(expectedRole, await ScalarAsync<string>($"SELECT Role FROM {table} = @t AND UserId = @u;", ("@t", accepted.TargetId), ("@u", w.Ada)));
        var row = Assert.Single(await RowsAsync("SELECT Status, InvitedUserId, RespondedAt FROM app.Invitation WHERE InvitationId = @i;", ("@i", invitation.InvitationId)));
        Assert.Equal("accepted", row["Status"]);
        Assert.Equal(w.Ada, row["InvitedUserId"]);
        Assert.NotNull(row["RespondedAt"]);
    }

    [Fact]
    public async Task Accept_never_downgrades_a_higher_existing_role_and_never_inserts_a_second_row()
    {
        // Given Ada already admin of the organization, invited again with view
        var w = await GivenTheWorldAsync();
        await ExecAsync("INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@o, @u, 'admin');", ("@o", w.Organization), ("@u", w.Ada));
        var invitation = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "view");

        // When she accepts
        var accepted = await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);

        // Then she stays admin, with one membership row, and the invitation is accepted
        await DumpMembershipAsync(w);
        Assert.Equal("admin", accepted.Role);
        Assert.False(accepted.MembershipCreated);
        Assert.False(accepted.RoleUpgraded);
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.OrganizationMember WHERE OrganizationId = @o AND UserId = @u;", ("@o", w.Organization), ("@u", w.Ada)));
        Assert.Equal("admin", await ScalarAsync<string>("SELECT Role FROM app.OrganizationMember WHERE OrganizationId = @o AND UserId = @u;", ("@o", w.Organization), ("@u", w.Ada)));
        Assert.Equal("accepted", await ScalarAsync<string>("SELECT Status FROM app.Invitation WHERE InvitationId = @i;", ("@i", invitation.InvitationId)));
    }

    [Fact]
    public async Task Accept_upgrades_a_lower_existing_role_in_place()
    {
        var w = await GivenTheWorldAsync();
        await ExecAsync("INSERT INTO app.ChannelMember (ChannelId, UserId, Role) VALUES (@c, @u, 'viewer');", ("@c", w.Channel), ("@u", w.Ada));
        var invitation = await InviteAsync(w, InvitationTarget.Channel(w.Channel), "edit");

        var accepted = await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);

        await DumpMembershipAsync(w);
        Assert.Equal("editor", accepted.Role);
        Assert.True(accepted.RoleUpgraded);
        Assert.False(accepted.MembershipCreated);
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.ChannelMember WHERE ChannelId = @c AND UserId = @u;", ("@c", w.Channel), ("@u", w.Ada)));
    }

    [Fact]
    public async Task Accepting_twice_is_a_no_op_that_returns_the_same_result()
    {
        var w = await GivenTheWorldAsync();
        var invitation = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "edit");
        var first = await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);
        var respondedAt = await ScalarAsync<DateTime>("SELECT RespondedAt FROM app.Invitation WHERE InvitationId = @i;", ("@i", invitation.InvitationId));

        var second = await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);

        await DumpMembershipAsync(w);
        Assert.True(second.AlreadyAccepted);
        Assert.False(second.MembershipCreated);
        Assert.False(second.RoleUpgraded);
        Assert.Equal(first with { MembershipCreated = false, AlreadyAccepted = true }, second);
        Assert.Equal(respondedAt, await ScalarAsync<DateTime>("SELECT RespondedAt FROM app.Invitation WHERE InvitationId = @i;", ("@i", invitation.InvitationId)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.OrganizationMember WHERE OrganizationId = @o AND UserId = @u;", ("@o", w.Organization), ("@u", w.Ada)));
    }

    [Fact]
    public async Task Ten_parallel_accepts_of_one_invitation_leave_one_membership_row_and_one_accepted_invitation()
    {
        var w = await GivenTheWorldAsync();
        var invitation = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "admin");

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            Task.Run(() => Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct), Ct)));

        await DumpMembershipAsync(w);
        Assert.Single(results, r => !r.AlreadyAccepted && r.MembershipCreated);
        Assert.Equal(9, results.Count(r => r.AlreadyAccepted));
        Assert.All(results, r => Assert.Equal("admin", r.Role));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.OrganizationMember WHERE OrganizationId = @o AND UserId = @u;", ("@o", w.Organization), ("@u", w.Ada)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE InvitationId = @i AND Status = 'accepted' AND InvitedUserId = @u;", ("@i", invitation.InvitationId), ("@u", w.Ada)));
    }

    [Fact]
    public async Task Accept_rejects_every_bad_input_with_its_number()
    {
        var w = await GivenTheWorldAsync();
        var org = InvitationTarget.Organization(w.Organization);
        var pending = await InviteAsync(w, org, "view");

        await AssertRefusedAsync(51300, () => Client.AcceptInvitationAsync(int.MaxValue, w.Ada, cancellationToken: Ct));
        await AssertRefusedAsync(51302, () => Client.AcceptInvitationAsync(pending.InvitationId, w.Bob, cancellationToken: Ct));
        await AssertRefusedAsync(51303, () => Client.AcceptInvitationAsync(pending.InvitationId, w.Carol, cancellationToken: Ct));
        await AssertRefusedAsync(51303, () => Client.AcceptInvitationAsync(pending.InvitationId, int.MaxValue, cancellationToken: Ct));

        var declined = await InviteAsync(w, InvitationTarget.Channel(w.Channel), "view");
        await Client.DeclineInvitationAsync(declined.InvitationId, w.Ada, cancellationToken: Ct);
        await AssertRefusedAsync(51301, () => Client.AcceptInvitationAsync(declined.InvitationId, w.Ada, cancellationToken: Ct));

        await Client.RevokeInvitationAsync(pending.InvitationId, w.Dave, cancellationToken: Ct);
        await AssertRefusedAsync(51301, () => Client.AcceptInvitationAsync(pending.InvitationId, w.Ada, cancellationToken: Ct));

        // Stored rows the current constraints forbid (written before they existed): unknown mode, admin on a channel, two targets.
        var unknownMode = await PlantAsync("CK_app_Invitation_ShareMode_ForTarget",
            $"INSERT INTO app.Invitation (OrganizationId, Email, ShareMode, SenderUserId) OUTPUT inserted.InvitationId VALUES ({w.Organization}, N'{InvitationWorld.AdaEmail}', 'owner', {w.Dave});");
        await AssertRefusedAsync(51304, () => Client.AcceptInvitationAsync(unknownMode, w.Ada, cancellationToken: Ct));
        var adminOnChannel = await PlantAsync("CK_app_Invitation_ShareMode_ForTarget",
            $"INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId) OUTPUT inserted.InvitationId VALUES ({w.Channel}, N'{InvitationWorld.AdaEmail}', 'admin', {w.Dave});");
        await AssertRefusedAsync(51305, () => Client.AcceptInvitationAsync(adminOnChannel, w.Ada, cancellationToken: Ct));
        var bothTargets = await PlantAsync("CK_app_Invitation_ExactlyOneTarget",
            $"INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode, SenderUserId) OUTPUT inserted.InvitationId VALUES ({w.Channel}, {w.Organization}, N'{InvitationWorld.AdaEmail}', 'view', {w.Dave});");
        await AssertRefusedAsync(51309, () => Client.AcceptInvitationAsync(bothTargets, w.Ada, cancellationToken: Ct));

        await DumpMembershipAsync(w);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.OrganizationMember WHERE UserId = @u;", ("@u", w.Ada)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.ChannelMember WHERE UserId = @u;", ("@u", w.Ada)));
    }

    [Fact]
    public async Task An_invitation_accepted_by_one_user_cannot_be_accepted_by_another_with_the_same_email()
    {
        var w = await GivenTheWorldAsync();
        var invitation = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "view");
        await Client.AcceptInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);
        await ExecAsync("UPDATE app.[User] SET IsActive = 0 WHERE UserId = @u;", ("@u", w.Ada));
        var newAda = await ScalarAsync<int>("INSERT INTO app.[User] (Email) OUTPUT inserted.UserId VALUES (N'Ada@Example.org');");

        await AssertRefusedAsync(51301, () => Client.AcceptInvitationAsync(invitation.InvitationId, newAda, cancellationToken: Ct));
    }

    [Fact]
    public async Task Create_rejects_every_bad_input_with_its_number()
    {
        var w = await GivenTheWorldAsync();
        var org = InvitationTarget.Organization(w.Organization);
        await AssertRefusedAsync(51305, () => InviteAsync(w, InvitationTarget.Channel(w.Channel), "admin"));
        await AssertRefusedAsync(51304, () => InviteAsync(w, org, "owner"));
        await AssertRefusedAsync(51308, () => InviteAsync(w, InvitationTarget.Organization(int.MaxValue), "view"));
        await AssertRefusedAsync(51308, () => InviteAsync(w, InvitationTarget.Channel(int.MaxValue), "view"));
        await AssertRefusedAsync(51311, () => InviteAsync(w, org, "view", "   "));
        await AssertRefusedAsync(51311, () => InviteAsync(w, org, "view", "no-at-sign"));
        await AssertRefusedAsync(51310, () => Client.CreateInvitationAsync(org, InvitationWorld.AdaEmail, "view", w.Carol, cancellationToken: Ct));
        await AssertRefusedAsync(51310, () => Client.CreateInvitationAsync(org, InvitationWorld.AdaEmail, "view", int.MaxValue, cancellationToken: Ct));

        // Both and neither target, straight through the procedure (the client's InvitationTarget cannot express them).
        foreach (var (channel, organization) in new (object?, object?)[] { (w.Channel, w.Organization), (null, null) })
        {
            var error = await Assert.ThrowsAsync<Microsoft.Data.SqlClient.SqlException>(() => ExecAsync(
                "EXEC api.Invitation_Create @ChannelId = @c, @OrganizationId = @o, @Email = N'ada@example.org', @ShareMode = 'view', @SenderUserId = @s;",
                ("@c", channel), ("@o", organization), ("@s", w.Dave)));
            Assert.Equal(51309, error.Number);
        }

        var missingSender = await Assert.ThrowsAsync<Microsoft.Data.SqlClient.SqlException>(() => ExecAsync(
            "EXEC api.Invitation_Create @OrganizationId = @o, @Email = N'ada@example.org', @ShareMode = 'view', @SenderUserId = NULL;", ("@o", w.Organization)));
        Assert.Equal(51312, missingSender.Number);

        Dump("invitations", await RowsAsync("SELECT InvitationId, Email, ShareMode, Status FROM app.Invitation;"));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation;"));
    }

    [Fact]
    public async Task A_second_pending_invitation_of_the_same_email_to_the_same_target_is_refused_even_when_racing()
    {
        var w = await GivenTheWorldAsync();
        var org = InvitationTarget.Organization(w.Organization);

        // Ten concurrent creates of the same e-mail (in different cases) to the same organization.
        var attempts = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => Task.Run(async () =>
        {
            try
            {
                await Client.CreateInvitationAsync(org, i % 2 == 0 ? "ada@example.org" : "ADA@EXAMPLE.ORG", "view", w.Dave, cancellationToken: Ct);
                return 0;
            }
            catch (DbMergeException ex)
            {
                return ex.ErrorNumber;
            }
        }, Ct)));

        Dump("invitations", await RowsAsync("SELECT InvitationId, OrganizationId, Email, Status FROM app.Invitation;"));
        Assert.Equal(1, attempts.Count(a => a == 0));
        Assert.All(attempts.Where(a => a != 0), a => Assert.Equal(51306, a));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation WHERE Status = 'pending';"));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'invitation.created';"));

        // The same e-mail may be invited to another target, and again once the first is no longer pending.
        await InviteAsync(w, InvitationTarget.Channel(w.Channel), "edit");
        var pendingId = await ScalarAsync<int>("SELECT InvitationId FROM app.Invitation WHERE OrganizationId = @o;", ("@o", w.Organization));
        await Client.DeclineInvitationAsync(pendingId, w.Ada, cancellationToken: Ct);
        var again = await InviteAsync(w, org, "edit");
        Assert.Equal("pending", again.Status);
    }

    [Fact]
    public async Task Decline_is_for_the_invited_user_only_and_repeating_it_changes_nothing()
    {
        var w = await GivenTheWorldAsync();
        var invitation = await InviteAsync(w, InvitationTarget.Channel(w.Channel), "view");

        await AssertRefusedAsync(51302, () => Client.DeclineInvitationAsync(invitation.InvitationId, w.Bob, cancellationToken: Ct));
        await AssertRefusedAsync(51303, () => Client.DeclineInvitationAsync(invitation.InvitationId, w.Carol, cancellationToken: Ct));
        await AssertRefusedAsync(51300, () => Client.DeclineInvitationAsync(int.MaxValue, w.Ada, cancellationToken: Ct));
        var first = await Client.DeclineInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);
        var second = await Client.DeclineInvitationAsync(invitation.InvitationId, w.Ada, cancellationToken: Ct);

        Dump("invitations", await RowsAsync("SELECT InvitationId, Status, InvitedUserId, RespondedAt FROM app.Invitation;"));
        Assert.True(first.Changed);
        Assert.Equal("declined", first.Status);
        Assert.False(second.Changed);
        Assert.Equal(first.RespondedAt, second.RespondedAt);
        await AssertRefusedAsync(51301, () => Client.RevokeInvitationAsync(invitation.InvitationId, w.Dave, cancellationToken: Ct));
    }

    [Fact]
    public async Task Revoke_is_allowed_to_the_sender_an_organization_admin_and_a_channel_editor_only()
    {
        var w = await GivenTheWorldAsync();
        var byOutsider = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "view");
        await AssertRefusedAsync(51307, () => Client.RevokeInvitationAsync(byOutsider.InvitationId, w.Bob, cancellationToken: Ct));
        await AssertRefusedAsync(51303, () => Client.RevokeInvitationAsync(byOutsider.InvitationId, w.Carol, cancellationToken: Ct));

        var bySender = await Client.RevokeInvitationAsync(byOutsider.InvitationId, w.Dave, cancellationToken: Ct);
        Assert.True(bySender.Changed);
        Assert.False((await Client.RevokeInvitationAsync(byOutsider.InvitationId, w.Dave, cancellationToken: Ct)).Changed);

        var toOrganization = await InviteAsync(w, InvitationTarget.Organization(w.Organization), "edit");
        Assert.Equal("revoked", (await Client.RevokeInvitationAsync(toOrganization.InvitationId, w.Erin, cancellationToken: Ct)).Status);
        var toChannel = await InviteAsync(w, InvitationTarget.Channel(w.Channel), "edit");
        Assert.Equal("revoked", (await Client.RevokeInvitationAsync(toChannel.InvitationId, w.Erin, cancellationToken: Ct)).Status);

        var accepted = await InviteAsync(w, InvitationTarget.Channel(w.Channel), "view");
        await Client.AcceptInvitationAsync(accepted.InvitationId, w.Ada, cancellationToken: Ct);
        await AssertRefusedAsync(51301, () => Client.RevokeInvitationAsync(accepted.InvitationId, w.Dave, cancellationToken: Ct));

        Dump("invitations", await RowsAsync("SELECT InvitationId, Status, SenderUserId, RespondedAt FROM app.Invitation;"));
        await AssertRefusedAsync(51301, () => Client.AcceptInvitationAsync(toOrganization.InvitationId, w.Ada, cancellationToken: Ct));
    }

    private async Task<int> PlantAsync(string constraint, string insertWithOutput)
    {
        var id = 0;
        await InvitationSql.PlantBypassingAsync(async sql =>
        {
            if (sql.Contains("OUTPUT", StringComparison.Ordinal))
            {
                id = await ScalarAsync<int>(sql);
                return 1;
            }

            return await ExecAsync(sql);
        }, constraint, insertWithOutput);
        return id;
    }
}
