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
    public const int MergeRefusedByPolicy = 51114;
    public const int MergeTimeBudgetExceeded = 51115;
    public const int MergeRunOpenTransaction = 51116;
    public const int SweepUserNotMergedAway = 51117;
    public const int MergeRunNotRunning = 51118;
    public const int MergeRunApplockNotGranted = 51119;

    private static DbMergeError[] UserMerge =>
    [
        new(MergeSourceNotFound, "MergeSourceNotFound", "api.User_Merge", DbMergeErrorKind.NotFound,
            "The source user of a merge (or the user of a sweep) does not exist."),
        new(MergeTargetNotFound, "MergeTargetNotFound", "dbmerge.User_MergeCore", DbMergeErrorKind.NotFound,
            "The target user of a merge does not exist."),
        new(MergeSameUser, "MergeSameUser", "api.User_Merge", DbMergeErrorKind.InvalidArgument,
            "Source and target of a merge are the same user."),
        new(MergeTargetNotActive, "MergeTargetNotActive", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "The target user is inactive or already merged away; merge into an active user."),
        new(MergeSourceAlreadyMerged, "MergeSourceAlreadyMerged", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "The source user is already merged into another user."),
        new(MergeUnhandledReference, "MergeUnhandledReference", "dbmerge.User_MergeCore", DbMergeErrorKind.InvariantViolated,
            "A foreign key to app.User has no row in dbmerge.MergePolicy, a policy differs from the one the deployed merge was generated from, or a foreign key to a merge-children parent is not re-pointed: the merge refused to start, nothing changed (run dbmerge generate merge and deploy)."),
        new(MergeRefusedCollision, "MergeRefusedCollision", "dbmerge.User_MergeCore", DbMergeErrorKind.Conflict,
            "Both users' parent rows of a merge-children policy hold a child where at most one per parent is allowed (e.g. both enrollments of a course hold a final qualification); the whole merge was refused, nothing changed."),
        new(MergeResidualReferences, "MergeResidualReferences", "dbmerge.User_MergeCore", DbMergeErrorKind.InvariantViolated,
            "Rows still referenced the source user before commit; the merge was rolled back (the message names the tables and columns)."),
        new(MergeLockTimeout, "MergeLockTimeout", "dbmerge.User_MergeCore", DbMergeErrorKind.LockTimeout,
            "A lock the merge needed (a user's applock, or a row lock held by another transaction) was not granted within the lock timeout; the message names the step; nothing changed, retry."),
        new(MergeOpenTransaction, "MergeOpenTransaction", "api.User_Merge", DbMergeErrorKind.InvalidState,
            "api.User_Merge or api.User_Sweep was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF."),
        new(MergeInvalidArgument, "MergeInvalidArgument", "api.User_Merge", DbMergeErrorKind.InvalidArgument,
            "A parameter of a user-merge procedure is missing or out of range (ids, @Reason 1-400 characters, @LockTimeoutMs 1-600000, @MaxDurationMs, @BatchSize 1-1000, @Top, @UserId/@Email)."),
        new(MergeCoreRequiresTransaction, "MergeCoreRequiresTransaction", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "dbmerge.User_MergeCore was called without an open transaction; it requires its caller's."),
        new(MergeRunNotFound, "MergeRunNotFound", "api.MergeRun_Get", DbMergeErrorKind.NotFound,
            "No merge run has the given id."),
        new(UserReferencesUserNotFound, "UserReferencesUserNotFound", "api.User_References", DbMergeErrorKind.NotFound,
            "The user whose references were asked for does not exist."),
        new(MergeRefusedByPolicy, "MergeRefusedByPolicy", "dbmerge.User_MergeCore", DbMergeErrorKind.Conflict,
            "A table whose merge policy is refuse holds rows of the source user (the message names table, column and the first keys); resolve them by hand, nothing changed."),
        new(MergeTimeBudgetExceeded, "MergeTimeBudgetExceeded", "dbmerge.User_MergeCore", DbMergeErrorKind.LockTimeout,
            "The merge or sweep used up its time budget (@MaxDurationMs) before it finished; it was rolled back, nothing changed: run it again when the tables are quieter, or with a larger budget."),
        new(MergeRunOpenTransaction, "MergeRunOpenTransaction", "dbmerge.MergeRun_Start", DbMergeErrorKind.InvalidState,
            "dbmerge.MergeRun_Start or dbmerge.MergeRun_Finish was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: a run's history row is committed outside the merge transaction."),
        new(SweepUserNotMergedAway, "SweepUserNotMergedAway", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "A sweep was asked for a user that is not merged away (or not into the given target): only a merged-away user's late references are swept."),
        new(MergeRunNotRunning, "MergeRunNotRunning", "dbmerge.User_MergeCore", DbMergeErrorKind.InvalidState,
            "dbmerge.User_MergeCore was given a run id that is not a running run of that kind and those users started by this session: start the run with dbmerge.MergeRun_Start in the calling session."),
        new(MergeRunApplockNotGranted, "MergeRunApplockNotGranted", "dbmerge.MergeRun_Start", DbMergeErrorKind.InvariantViolated,
            "The new run's session applock DbMerge.MergeRun:<id> was not granted (a stale session holds a lock of that name); no run was started."),
    ];
}
