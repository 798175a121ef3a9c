using System.Data;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>Share modes of an invitation (<c>app.Invitation.ShareMode</c>).</summary>
public static class InvitationShareModes
{
    public const string View = "view";
    public const string Edit = "edit";

    /// <summary>Organizations only.</summary>
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } = [View, Edit, Admin];
}

/// <summary>What to invite to: exactly one of a channel or an organization.</summary>
public sealed record InvitationTarget
{
    private InvitationTarget(int? channelId, int? organizationId)
    {
        ChannelId = channelId;
        OrganizationId = organizationId;
    }

    public int? ChannelId { get; }

    public int? OrganizationId { get; }

    public static InvitationTarget Channel(int channelId) => new(channelId, null);

    public static InvitationTarget Organization(int organizationId) => new(null, organizationId);
}

/// <summary>Result of <c>api.Invitation_Create</c>.</summary>
public sealed record InvitationCreated(
    int InvitationId,
    string TargetKind,
    int TargetId,
    string Email,
    string ShareMode,
    int? SenderUserId,
    string Status,
    DateTime CreatedAt);

/// <summary>Result of <c>api.Invitation_Accept</c>.</summary>
/// <param name="Role">The member role after the call (the higher of the existing and the invited role);
/// null only for a repeated accept whose membership was removed since.</param>
public sealed record InvitationAccepted(
    int InvitationId,
    string TargetKind,
    int TargetId,
    int UserId,
    string? Role,
    bool MembershipCreated,
    bool RoleUpgraded,
    bool AlreadyAccepted);

/// <summary>Result of <c>api.Invitation_Decline</c> and <c>api.Invitation_Revoke</c>.</summary>
/// <param name="Changed">False when the call was a repeat (already declined by this user / already revoked).</param>
public sealed record InvitationResponded(int InvitationId, string Status, DateTime? RespondedAt, bool Changed);

public sealed partial class DbMergeClient
{
    public const string InvitationCreateProcedure = "api.Invitation_Create";
    public const string InvitationAcceptProcedure = "api.Invitation_Accept";
    public const string InvitationDeclineProcedure = "api.Invitation_Decline";
    public const string InvitationRevokeProcedure = "api.Invitation_Revoke";

    /// <summary>
    /// Invites <paramref name="email"/> to a channel or an organization. Throws <c>DbMergeException</c> subclasses
    /// for 51304–51313 (see the error registry; 51313: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON), e.g. <c>DbMergeConflictException</c> (51306) for a duplicate pending invitation.
    /// A deadlock victim (1205) is run again, up to <see cref="InvitationDeadlockAttempts"/> attempts.
    /// </summary>
    public Task<InvitationCreated> CreateInvitationAsync(
        InvitationTarget target,
        string email,
        string shareMode,
        int senderUserId,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        return RetryDeadlockVictimAsync(() => ExecuteProcedureAsync(
            InvitationCreateProcedure,
            p =>
            {
                p.Add(new SqlParameter("@ChannelId", SqlDbType.Int) { Value = (object?)target.ChannelId ?? DBNull.Value });
                p.Add(new SqlParameter("@OrganizationId", SqlDbType.Int) { Value = (object?)target.OrganizationId ?? DBNull.Value });
                p.Add(new SqlParameter("@Email", SqlDbType.NVarChar, 254) { Value = (object?)email ?? DBNull.Value });
                p.Add(new SqlParameter("@ShareMode", SqlDbType.VarChar, 10) { Value = (object?)shareMode ?? DBNull.Value });
                p.Add(new SqlParameter("@SenderUserId", SqlDbType.Int) { Value = senderUserId });
            },
            async (reader, _, ct) =>
            {
                await ReadInvitationRowAsync(reader, InvitationCreateProcedure, ct).ConfigureAwait(false);
                return new InvitationCreated(
                    reader.Get<int>("InvitationId"),
                    reader.Get<string>("TargetKind"),
                    reader.Get<int>("TargetId"),
                    reader.Get<string>("Email"),
                    reader.Get<string>("ShareMode"),
                    reader.GetNullable<int>("SenderUserId"),
                    reader.Get<string>("Status"),
                    reader.Get<DateTime>("CreatedAt"));
            },
            timeout,
            cancellationToken), InvitationDeadlockAttempts, cancellationToken);
    }

    /// <summary>
    /// The invited user accepts. Idempotent for the same user (<see cref="InvitationAccepted.AlreadyAccepted"/>);
    /// never downgrades an existing higher role. Errors 51300–51305, 51309, 51312, 51313. A deadlock victim (1205) is
    /// run again, up to <see cref="InvitationDeadlockAttempts"/> attempts.
    /// </summary>
    public Task<InvitationAccepted> AcceptInvitationAsync(
        int invitationId,
        int userId,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        RetryDeadlockVictimAsync(() => ExecuteProcedureAsync(
            InvitationAcceptProcedure,
            p =>
            {
                p.Add(new SqlParameter("@InvitationId", SqlDbType.Int) { Value = invitationId });
                p.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = userId });
            },
            async (reader, _, ct) =>
            {
                await ReadInvitationRowAsync(reader, InvitationAcceptProcedure, ct).ConfigureAwait(false);
                return new InvitationAccepted(
                    reader.Get<int>("InvitationId"),
                    reader.Get<string>("TargetKind"),
                    reader.Get<int>("TargetId"),
                    reader.Get<int>("UserId"),
                    reader.GetNullableString("Role"),
                    reader.Get<bool>("MembershipCreated"),
                    reader.Get<bool>("RoleUpgraded"),
                    reader.Get<bool>("AlreadyAccepted"));
            },
            timeout,
            cancellationToken), InvitationDeadlockAttempts, cancellationToken);

    /// <summary>
    /// The invited user declines. Errors 51300–51303, 51312, 51313. A deadlock victim (1205) is run again, up to
    /// <see cref="InvitationDeadlockAttempts"/> attempts.
    /// </summary>
    public Task<InvitationResponded> DeclineInvitationAsync(
        int invitationId,
        int userId,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        RespondAsync(InvitationDeclineProcedure, invitationId, "@UserId", userId, timeout, cancellationToken);

    /// <summary>
    /// The sender, an organization admin or a channel editor revokes. Errors 51300, 51301, 51303, 51307, 51312, 51313.
    /// A deadlock victim (1205) is run again, up to <see cref="InvitationDeadlockAttempts"/> attempts.
    /// </summary>
    public Task<InvitationResponded> RevokeInvitationAsync(
        int invitationId,
        int actorUserId,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        RespondAsync(InvitationRevokeProcedure, invitationId, "@ActorUserId", actorUserId, timeout, cancellationToken);

    private Task<InvitationResponded> RespondAsync(
        string procedure, int invitationId, string userParameter, int userId, TimeSpan? timeout, CancellationToken cancellationToken) =>
        RetryDeadlockVictimAsync(() => ExecuteProcedureAsync(
            procedure,
            p =>
            {
                p.Add(new SqlParameter("@InvitationId", SqlDbType.Int) { Value = invitationId });
                p.Add(new SqlParameter(userParameter, SqlDbType.Int) { Value = userId });
            },
            async (reader, _, ct) =>
            {
                await ReadInvitationRowAsync(reader, procedure, ct).ConfigureAwait(false);
                return new InvitationResponded(
                    reader.Get<int>("InvitationId"),
                    reader.Get<string>("Status"),
                    reader.GetNullable<DateTime>("RespondedAt"),
                    reader.Get<bool>("Changed"));
            },
            timeout,
            cancellationToken), InvitationDeadlockAttempts, cancellationToken);

    /// <summary>
    /// How often the invitation calls (<see cref="CreateInvitationAsync"/>, <see cref="AcceptInvitationAsync"/>,
    /// <see cref="DeclineInvitationAsync"/>, <see cref="RevokeInvitationAsync"/>) run a call chosen as deadlock victim
    /// (1205) before giving up: defence in depth (the merge locks an address's accounts in the calls' order, README "Lock
    /// order"); should an invitation call still meet a user merge in a cycle, it is the victim (DEADLOCK_PRIORITY LOW),
    /// rolled back completely.
    /// </summary>
    public const int InvitationDeadlockAttempts = 3;

    /// <summary>Advances to the single documented result row; a missing row is a contract break.</summary>
    private static async Task ReadInvitationRowAsync(SqlDataReader reader, string procedure, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"{procedure} returned no result row; its contract promises exactly one.");
        }
    }
}
