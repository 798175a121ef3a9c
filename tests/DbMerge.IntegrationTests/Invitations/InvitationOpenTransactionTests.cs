using DbMerge.Client;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.Invitations;

/// <summary>
/// The four invitation procedures own their transaction: inside a caller's, or under IMPLICIT_TRANSACTIONS ON, they
/// refuse with 51313 and leave the caller's session alone.
/// </summary>
public sealed class InvitationOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('invitation ', InvitationId, ' ', ChannelId, ' ', OrganizationId, ' ', Email, ' ', ShareMode, ' ', Status, ' ', InvitedUserId, ' ', " +
        "CONVERT(varchar(30), RespondedAt, 126)) AS R FROM app.Invitation " +
        "UNION ALL SELECT CONCAT('org member ', OrganizationId, ' ', UserId, ' ', Role) FROM app.OrganizationMember " +
        "UNION ALL SELECT CONCAT('channel member ', ChannelId, ' ', UserId, ' ', Role) FROM app.ChannelMember " +
        "UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType) FROM dbmerge.Outbox ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures =>
        Cases("api.Invitation_Create", "api.Invitation_Accept", "api.Invitation_Decline", "api.Invitation_Revoke");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task An_invitation_procedure_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51313_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given the invitation world and a pending invitation of Ada (sent by Dave) to the organization, and a call
        // that would succeed outside a transaction
        var w = await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        var invitation = await Client.CreateInvitationAsync(InvitationTarget.Organization(w.Organization), InvitationWorld.AdaEmail, "view", w.Dave, cancellationToken: Ct);
        var (call, parameters) = procedure switch
        {
            "api.Invitation_Create" => (
                "EXEC api.Invitation_Create @ChannelId = @Channel, @OrganizationId = NULL, @Email = N'bob@example.org', @ShareMode = 'edit', @SenderUserId = @Sender;",
                new (string, object?)[] { ("@Channel", w.Channel), ("@Sender", w.Dave) }),
            "api.Invitation_Accept" => (
                "EXEC api.Invitation_Accept @InvitationId = @Invitation, @UserId = @User;",
                new (string, object?)[] { ("@Invitation", invitation.InvitationId), ("@User", w.Ada) }),
            "api.Invitation_Decline" => (
                "EXEC api.Invitation_Decline @InvitationId = @Invitation, @UserId = @User;",
                new (string, object?)[] { ("@Invitation", invitation.InvitationId), ("@User", w.Ada) }),
            "api.Invitation_Revoke" => (
                "EXEC api.Invitation_Revoke @InvitationId = @Invitation, @ActorUserId = @Actor;",
                new (string, object?)[] { ("@Invitation", invitation.InvitationId), ("@Actor", w.Dave) }),
            _ => throw new ArgumentOutOfRangeException(nameof(procedure), procedure, "not an invitation procedure"),
        };

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, 51313, procedure, call, Snapshot, parameters);
    }
}
