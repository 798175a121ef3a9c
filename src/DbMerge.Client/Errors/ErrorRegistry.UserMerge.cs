namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    public const int MergeSourceNotFound = 51100;
    public const int MergeTargetNotFound = 51101;
    public const int MergeSameUser = 51102;
    public const int MergeTargetNotActive = 51103;
    public const int MergeSourceAlreadyMerged = 51104;
    public const int MergeUnhandledReference = 51105;
    public const int MergeRefusedCollision = 51106;
    public const int MergeResidualReferences = 51107;
    public const int MergeLockTimeout = 51108;
    public const int MergeOpenTransaction = 51109;
    public const int MergeInvalidArgument = 51110;
    public const int MergeCoreRequiresTransaction = 51111;
    public const int MergeRunNotFound = 51112;
    public const int UserReferencesUserNotFound = 51113;

    private static DbMergeError[] UserMerge =>
    [
        new(MergeSourceNotFound, "MergeSourceNotFound", "api.User_Merge", DbMergeErrorKind.NotFound,
            "The source user of a merge does not exist."),
        new(MergeTargetNotFound, "MergeTargetNotFound", "api.User_Merge", DbMergeErrorKind.NotFound,
            "The target user of a merge does not exist."),
        new(MergeSameUser, "MergeSameUser", "api.User_Merge", DbMergeErrorKind.InvalidArgument,
            "Source and target of a merge are the same user."),
        new(MergeTargetNotActive, "MergeTargetNotActive", "api.User_Merge", DbMergeErrorKind.InvalidState,
            "The target user is inactive or already merged away; merge into an active user."),
        new(MergeSourceAlreadyMerged, "MergeSourceAlreadyMerged", "api.User_Merge", DbMergeErrorKind.InvalidState,
            "The source user is already merged into another user."),
        new(MergeUnhandledReference, "MergeUnhandledReference", "dbmerge.User_MergeCore", DbMergeErrorKind.InvariantViolated,
            "A foreign key to app.User has no row in dbmerge.MergePolicy (or a policy has no handler); the merge refused to start, nothing changed."),
        new(MergeRefusedCollision, "MergeRefusedCollision", "dbmerge.User_MergeCore", DbMergeErrorKind.Conflict,
            "Both users' enrollments in one course hold a final qualification; the whole merge was refused, nothing changed."),
        new(MergeResidualReferences, "MergeResidualReferences", "dbmerge.User_MergeCore", DbMergeErrorKind.InvariantViolated,
            "Rows still referenced the source user before commit; the merge was rolled back (the message names table, column and count)."),
        new(MergeLockTimeout, "MergeLockTimeout", "dbmerge.User_MergeCore", DbMergeErrorKind.LockTimeout,
            "A user is locked by another merge and the lock was not granted within the lock timeout; nothing changed, retry."),
        new(MergeOpenTransaction, "MergeOpenTransaction", "api.User_Merge", DbMergeErrorKind.InvalidState,
            "api.User_Merge was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF."),
        new(MergeInvalidArgument, "MergeInvalidArgument", "api.User_Merge", DbMergeErrorKind.InvalidArgument,
            "A parameter of a user-merge procedure is missing or out of range (ids, @Reason 1-400 characters, @LockTimeoutMs 0-3600000, @Top, @UserId/@Email)."),
        new(MergeCoreRequiresTransaction, "MergeCoreRequiresTransaction", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "dbmerge.User_MergeCore was called without an open transaction; it requires its caller's."),
        new(MergeRunNotFound, "MergeRunNotFound", "api.MergeRun_Get", DbMergeErrorKind.NotFound,
            "No merge run has the given id."),
        new(UserReferencesUserNotFound, "UserReferencesUserNotFound", "api.User_References", DbMergeErrorKind.NotFound,
            "The user whose references were asked for does not exist."),
    ];
}
