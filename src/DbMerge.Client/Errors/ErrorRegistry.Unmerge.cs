namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    public const int UnmergeOpenTransaction = 51140;
    public const int UnmergeInvalidArgument = 51141;
    public const int UnmergeRunNotFound = 51142;
    public const int UnmergeRunNotUndoable = 51143;
    public const int UnmergeAlreadyUndone = 51144;
    public const int UnmergeJournalPredatesV2 = 51145;
    public const int UnmergeLaterRun = 51146;
    public const int UnmergeSourceEmailTaken = 51147;
    public const int UnmergeRowsChanged = 51148;
    public const int UnmergeRestoreConflict = 51149;
    public const int UnmergeLockTimeout = 51150;
    public const int UnmergeTimeBudgetExceeded = 51151;
    public const int UnmergeCoreRequiresTransaction = 51152;
    public const int UnmergeRunNotRunning = 51153;
    public const int UnmergePostConditionFailed = 51154;
    public const int UnmergeJournalWithoutUndo = 51155;
    public const int UnmergeForbidden = 51156;

    private const string UserUnmerge = "api.User_Unmerge";
    private const string UserUnmergeCore = "dbmerge.User_UnmergeCore";

    // Undo a merge (issue 14) owns 51140–51169 of the user-merge block. One entry per number; Procedure names the first
    // procedure that throws it (the README lists all of them).
    private static DbMergeError[] Unmerge =>
    [
        new(UnmergeOpenTransaction, "UnmergeOpenTransaction", UserUnmerge, DbMergeErrorKind.InvalidState,
            "api.User_Unmerge was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF."),
        new(UnmergeInvalidArgument, "UnmergeInvalidArgument", UserUnmerge, DbMergeErrorKind.InvalidArgument,
            "A parameter of api.User_Unmerge (or api.MergeRun_Journal) is missing or out of range (@MergeRunId, @Reason 1-400 characters, @DryRun, @LockTimeoutMs 0-600000, @MaxDurationMs, @BatchSize 1-1000, @AfterChangeSeq, @Top 1-1000)."),
        new(UnmergeRunNotFound, "UnmergeRunNotFound", UserUnmergeCore, DbMergeErrorKind.NotFound,
            "No run has the id given to undo (or to read the journal of)."),
        new(UnmergeRunNotUndoable, "UnmergeRunNotUndoable", UserUnmergeCore, DbMergeErrorKind.InvalidState,
            "The run is not a committed merge or sweep: a dry run, refused, failed, running or abandoned run changed nothing, and an unmerge is not undone (merge again instead); nothing was changed."),
        new(UnmergeAlreadyUndone, "UnmergeAlreadyUndone", UserUnmergeCore, DbMergeErrorKind.InvalidState,
            "The run was already undone (the message names the unmerge run); a run is undone at most once, nothing was changed."),
        new(UnmergeJournalPredatesV2, "UnmergeJournalPredatesV2", UserUnmergeCore, DbMergeErrorKind.InvalidState,
            "The run was journaled before journal v2 (migration 0040): dbmerge.MergeJournal keeps before-images only, without after-images or change order, so the run cannot be undone safely; nothing was changed."),
        new(UnmergeLaterRun, "UnmergeLaterRun", UserUnmergeCore, DbMergeErrorKind.Conflict,
            "A merge or sweep of the run's source or target committed after it and is not undone: undo that run first (newest first; the message names it); nothing was changed."),
        new(UnmergeSourceEmailTaken, "UnmergeSourceEmailTaken", UserUnmergeCore, DbMergeErrorKind.Conflict,
            "The source's e-mail is now held by another active user, so the source cannot become active again (UQ_app_User_Email_Active); nothing was changed: resolve the duplicate account first."),
        new(UnmergeRowsChanged, "UnmergeRowsChanged", UserUnmergeCore, DbMergeErrorKind.Conflict,
            "Rows the run journaled are no longer as it left them (changed, deleted or re-created since, or their table's columns changed); undoing it would overwrite those later changes, so nothing was changed. The message names the first rows and the count; the unmerge run's report keeps the first 100."),
        new(UnmergeRestoreConflict, "UnmergeRestoreConflict", UserUnmergeCore, DbMergeErrorKind.Conflict,
            "A restored row conflicts with a row written since the run (a duplicate key or unique key, or a referenced row deleted since); the unmerge was rolled back, nothing changed (the message has the constraint)."),
        new(UnmergeLockTimeout, "UnmergeLockTimeout", UserUnmergeCore, DbMergeErrorKind.LockTimeout,
            "A lock the unmerge needed (a user's applock, or a row lock held by another transaction) was not granted within the lock timeout; the message names the step; nothing changed, retry."),
        new(UnmergeTimeBudgetExceeded, "UnmergeTimeBudgetExceeded", UserUnmergeCore, DbMergeErrorKind.LockTimeout,
            "The unmerge used up its time budget (@MaxDurationMs) before it finished; it was rolled back, nothing changed: run it again when the tables are quieter, or with a larger budget."),
        new(UnmergeCoreRequiresTransaction, "UnmergeCoreRequiresTransaction", UserUnmergeCore, DbMergeErrorKind.InvalidState,
            "dbmerge.User_UnmergeCore was called without an open transaction; it requires its caller's (api.User_Unmerge)."),
        new(UnmergeRunNotRunning, "UnmergeRunNotRunning", UserUnmergeCore, DbMergeErrorKind.InvalidState,
            "dbmerge.User_UnmergeCore was given an unmerge run id that is not a running unmerge of that run and its users started by this session: start it with dbmerge.MergeRun_Start in the calling session."),
        new(UnmergePostConditionFailed, "UnmergePostConditionFailed", UserUnmergeCore, DbMergeErrorKind.InvariantViolated,
            "A restore statement did not touch exactly the journaled rows (a row changed after the checks), or the report does not account for every journaled change; the unmerge was rolled back, nothing changed."),
        new(UnmergeJournalWithoutUndo, "UnmergeJournalWithoutUndo", UserUnmergeCore, DbMergeErrorKind.InvariantViolated,
            "The run's journal holds a change of a table or an operation the deployed unmerge has no undo for (a policy or table removed since the run, or an unmerge not generated from the current policies); nothing was changed."),
        new(UnmergeForbidden, "UnmergeForbidden", UserUnmerge, DbMergeErrorKind.Forbidden,
            "The caller of api.User_Unmerge (or api.MergeRun_Journal) is not a member of DbMergeOperator (or db_owner): undoing a merge, and reading a run's row images, is an operator's step."),
    ];
}
