namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    public const int CollectionParameterInvalid = 51550;
    public const int CollectionSessionIdInvalid = 51551;
    public const int CollectionUserNotFoundOrInactive = 51552;
    public const int CollectionLegacyAccountNotFound = 51553;
    public const int CollectionNotLegacyAccount = 51554;
    public const int CollectionTooManyLegacyAccounts = 51555;
    public const int CollectionOpenTransaction = 51556;
    public const int CollectionClaimNotFound = 51557;
    public const int CollectionClaimNotUndoable = 51558;
    public const int CollectionClaimChangedSince = 51559;
    public const int CollectionClaimAccountChanged = 51560;
    public const int CollectionUndoNotOperator = 51561;
    public const int CollectionCoreRequiresTransaction = 51562;
    public const int CollectionInvariantViolated = 51563;
    public const int CollectionLockTimeout = 51564;

    private const string CollectionClaimSession = "api.Collection_ClaimSession";
    private const string CollectionClaimCore = "dbmerge.Collection_ClaimCore";
    private const string CollectionUndoClaim = "api.Collection_UndoClaim";

    // Collections own 51550–51599 (51500–51549 is reconciliation's). One entry per number; Procedure names the
    // first procedure that throws it (the README lists all of them).
    private static DbMergeError[] Collections =>
    [
        new(CollectionParameterInvalid, "CollectionParameterInvalid", CollectionClaimSession, DbMergeErrorKind.InvalidArgument,
            "A parameter of a collection procedure is missing or out of range (user id, legacy account id, claim id, @DryRun, @Top 1..100000, at most one filter)."),
        new(CollectionSessionIdInvalid, "CollectionSessionIdInvalid", CollectionClaimSession, DbMergeErrorKind.InvalidArgument,
            "The session id is missing, blank, longer than 64 characters, or has a character outside printable ASCII ('!' to '~', no spaces)."),
        new(CollectionUserNotFoundOrInactive, "CollectionUserNotFoundOrInactive", CollectionClaimCore, DbMergeErrorKind.NotFound,
            "The claiming user does not exist, is inactive or was merged away (checked under the user's row lock); only an active user may claim or list legacy collections."),
        new(CollectionLegacyAccountNotFound, "CollectionLegacyAccountNotFound", CollectionClaimCore, DbMergeErrorKind.NotFound,
            "The legacy account to claim from does not exist."),
        new(CollectionNotLegacyAccount, "CollectionNotLegacyAccount", CollectionClaimCore, DbMergeErrorKind.InvalidState,
            "The account is not a legacy account of the user: it is the user itself, has another e-mail, is active, or was merged (the message names it and why); nothing changed."),
        new(CollectionTooManyLegacyAccounts, "CollectionTooManyLegacyAccounts", CollectionClaimCore, DbMergeErrorKind.InvalidState,
            "More than 1000 legacy accounts share the user's e-mail; claim them one at a time (@LegacyUserId, --from)."),
        new(CollectionOpenTransaction, "CollectionOpenTransaction", CollectionClaimSession, DbMergeErrorKind.InvalidState,
            "A collection procedure that owns its transaction was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it refused without touching the caller's transaction (claim-session, claim-legacy, undo-claim)."),
        new(CollectionClaimNotFound, "CollectionClaimNotFound", CollectionUndoClaim, DbMergeErrorKind.NotFound,
            "No collection claim has that id."),
        new(CollectionClaimNotUndoable, "CollectionClaimNotUndoable", CollectionUndoClaim, DbMergeErrorKind.InvalidState,
            "The claim is a session claim; only legacy claims can be undone (the session id is not kept)."),
        new(CollectionClaimChangedSince, "CollectionClaimChangedSince", CollectionUndoClaim, DbMergeErrorKind.Conflict,
            "A collection of the claim changed since the claim (deleted, moved to another owner, renamed or updated); the undo refused and nothing changed (the message names the first and the count)."),
        new(CollectionClaimAccountChanged, "CollectionClaimAccountChanged", CollectionUndoClaim, DbMergeErrorKind.InvalidState,
            "An account the claim took collections from no longer exists or was merged since; the undo refused and nothing changed."),
        new(CollectionUndoNotOperator, "CollectionUndoNotOperator", CollectionUndoClaim, DbMergeErrorKind.Forbidden,
            "Undoing a claim requires membership of DbMergeOperator (or db_owner)."),
        new(CollectionCoreRequiresTransaction, "CollectionCoreRequiresTransaction", CollectionClaimCore, DbMergeErrorKind.InvalidState,
            "dbmerge.Collection_ClaimCore was called without an open transaction; it requires its caller's (api.Collection_ClaimSession, api.Collection_ClaimLegacy)."),
        new(CollectionInvariantViolated, "CollectionInvariantViolated", CollectionClaimCore, DbMergeErrorKind.InvariantViolated,
            "A post-condition failed (a locked collection did not move or restore, the renaming did not converge, or the claim row did not update); the transaction was rolled back."),
        new(CollectionLockTimeout, "CollectionLockTimeout", CollectionClaimCore, DbMergeErrorKind.LockTimeout,
            "A lock was not granted within the caller's LOCK_TIMEOUT: a user's applock (DbMerge.User:<id>, held by a user merge or another claim), a session's (DbMerge.Session:<hash>, held by another claim of that session) or a row lock (engine error 1222, re-thrown); nothing changed, retry (claim-session, claim-legacy, undo-claim)."),
    ];
}
