namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    private const string InvitationCreate = "api.Invitation_Create";
    private const string InvitationAccept = "api.Invitation_Accept";
    private const string InvitationDecline = "api.Invitation_Decline";
    private const string InvitationRevoke = "api.Invitation_Revoke";

    // One entry per number; Procedure names the first procedure that throws it (the README lists all of them).
    private static DbMergeError[] Invitations =>
    [
        new(51300, "InvitationNotFound", InvitationAccept, DbMergeErrorKind.NotFound,
            "The invitation does not exist (accept, decline, revoke)."),
        new(51301, "InvitationNotPending", InvitationAccept, DbMergeErrorKind.InvalidState,
            "The invitation is not pending: it was declined, revoked, or accepted/declined by another user (accept, decline, revoke)."),
        new(51302, "InvitationEmailMismatch", InvitationAccept, DbMergeErrorKind.Forbidden,
            "The user's e-mail does not match the invitation's (case-insensitive); only the invited user may accept or decline."),
        new(51303, "InvitationUserNotFoundOrInactive", InvitationAccept, DbMergeErrorKind.NotFound,
            "The accepting, declining or revoking user does not exist or is inactive."),
        new(51304, "InvitationUnknownShareMode", InvitationCreate, DbMergeErrorKind.InvalidArgument,
            "The share mode is not view, edit or admin (create; accept of a stored unknown mode)."),
        new(51305, "InvitationInapplicableShareMode", InvitationCreate, DbMergeErrorKind.InvalidArgument,
            "The share mode does not apply to the target: admin exists only for organizations (create, accept)."),
        new(51306, "InvitationDuplicatePending", InvitationCreate, DbMergeErrorKind.Conflict,
            "A pending invitation of this e-mail to this channel or organization already exists."),
        new(51307, "InvitationRevokeNotAllowed", InvitationRevoke, DbMergeErrorKind.Forbidden,
            "Only the sender, an admin of the target organization or an editor of the target channel may revoke the invitation."),
        new(51308, "InvitationTargetNotFound", InvitationCreate, DbMergeErrorKind.NotFound,
            "The channel or organization to invite to does not exist."),
        new(51309, "InvitationTargetInvalid", InvitationCreate, DbMergeErrorKind.InvalidArgument,
            "Exactly one of channel and organization is required (create); a stored invitation targets both or neither (accept)."),
        new(51310, "InvitationSenderNotFoundOrInactive", InvitationCreate, DbMergeErrorKind.NotFound,
            "The sender does not exist or is inactive."),
        new(51311, "InvitationEmailInvalid", InvitationCreate, DbMergeErrorKind.InvalidArgument,
            "The e-mail is missing, blank or has no '@'."),
        new(51312, "InvitationParameterMissing", InvitationAccept, DbMergeErrorKind.InvalidArgument,
            "A required parameter (invitation id, user id, sender id) is missing."),
        new(51313, "InvitationOpenTransaction", InvitationAccept, DbMergeErrorKind.InvalidState,
            "An invitation procedure was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF (create, accept, decline, revoke)."),
    ];
}
