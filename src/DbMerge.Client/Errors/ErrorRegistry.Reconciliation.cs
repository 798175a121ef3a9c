namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    public const int ReconciliationNotOperator = 51500;
    public const int ReconciliationOpenTransaction = 51501;
    public const int ReconciliationImportInvalidArgument = 51502;
    public const int ReconciliationImportNotFound = 51503;
    public const int ReconciliationImportMismatch = 51504;
    public const int ReconciliationImportIncomplete = 51505;
    public const int ReconciliationImportLockTimeout = 51506;
    public const int ReconciliationSettingInvalid = 51507;
    public const int ReconciliationTokenGenerationFailed = 51508;
    public const int ReconciliationTokenInvalid = 51510;
    public const int ReconciliationTokenUsed = 51511;
    public const int ReconciliationTokenExpired = 51512;
    public const int ReconciliationNotAwaitingConfirmation = 51513;
    public const int ReconciliationRequestNotFound = 51520;
    public const int ReconciliationNotCancellable = 51521;
    public const int ReconciliationClaimLost = 51522;
    public const int ReconciliationNotReady = 51523;
    public const int ReconciliationInvalidArgument = 51524;
    public const int OutboxNotOperator = 51530;
    public const int OutboxInvalidArgument = 51531;
    public const int SettingNotOperator = 51540;
    public const int SettingUnknown = 51541;
    public const int SettingInvalidValue = 51542;

    private const string ReconciliationImportBegin = "api.Reconciliation_ImportBegin";
    private const string ReconciliationImportBatch = "api.Reconciliation_ImportBatch";
    private const string ReconciliationImportFinish = "api.Reconciliation_ImportFinish";
    private const string ReconciliationConfirm = "api.Reconciliation_Confirm";
    private const string ReconciliationGet = "api.Reconciliation_Get";
    private const string ReconciliationCancel = "api.Reconciliation_Cancel";
    private const string ReconciliationList = "api.Reconciliation_List";
    private const string ReconciliationProcessOne = "dbmerge.Reconciliation_ProcessOne";
    private const string OutboxClaim = "api.Outbox_Claim";
    private const string SettingSet = "api.Setting_Set";

    // Block 51500-51549 (the collections stream owns 51550-51599). One entry per number; Procedure names the first
    // procedure that throws it (the README lists all of them).
    private static DbMergeError[] Reconciliation =>
    [
        new(ReconciliationNotOperator, "ReconciliationNotOperator", ReconciliationImportBegin, DbMergeErrorKind.Forbidden,
            "The caller is not a member of DbMergeOperator or db_owner: importing, processing, listing, showing and cancelling reconciliation requests are operator-only."),
        new(ReconciliationOpenTransaction, "ReconciliationOpenTransaction", ReconciliationImportBegin, DbMergeErrorKind.InvalidState,
            "A reconciliation procedure that owns its transaction was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it refused without touching the caller's transaction (import, confirm, process)."),
        new(ReconciliationImportInvalidArgument, "ReconciliationImportInvalidArgument", ReconciliationImportBegin, DbMergeErrorKind.InvalidArgument,
            "A parameter of an import step is missing or out of range (file name, SHA-256, row counts, more than 500 rows in a batch, an unknown client outcome, the lock timeout)."),
        new(ReconciliationImportNotFound, "ReconciliationImportNotFound", ReconciliationImportBatch, DbMergeErrorKind.NotFound,
            "No reconciliation import has the given id (batch, finish)."),
        new(ReconciliationImportMismatch, "ReconciliationImportMismatch", ReconciliationImportBegin, DbMergeErrorKind.InvalidState,
            "The rows sent do not belong to the recorded import of the same file (other row counts, a line a completed import never recorded, more pairs than declared); nothing changed."),
        new(ReconciliationImportIncomplete, "ReconciliationImportIncomplete", ReconciliationImportFinish, DbMergeErrorKind.InvalidState,
            "The import cannot be finished: not every pair of its file has an outcome yet; send the missing batches."),
        new(ReconciliationImportLockTimeout, "ReconciliationImportLockTimeout", ReconciliationImportBegin, DbMergeErrorKind.LockTimeout,
            "Another import held the import lock (applock DbMerge.ReconciliationImport) longer than the lock timeout; nothing changed, retry when it has finished."),
        new(ReconciliationSettingInvalid, "ReconciliationSettingInvalid", ReconciliationImportBatch, DbMergeErrorKind.InvalidState,
            "A reconciliation setting the procedure reads is missing or invalid (reconciliation.confirm_url_template, reconciliation.token_expiry_days, reconciliation.claim_timeout_minutes); fix it with dbmerge settings set."),
        new(ReconciliationTokenGenerationFailed, "ReconciliationTokenGenerationFailed", ReconciliationImportBatch, DbMergeErrorKind.InvariantViolated,
            "The random confirmation tokens of an import batch were not all distinct; the batch was rolled back, nothing changed."),
        new(ReconciliationTokenInvalid, "ReconciliationTokenInvalid", ReconciliationConfirm, DbMergeErrorKind.Forbidden,
            "The confirmation token is not valid: missing, malformed, or unknown. Nothing changed and nothing about any request is revealed."),
        new(ReconciliationTokenUsed, "ReconciliationTokenUsed", ReconciliationConfirm, DbMergeErrorKind.InvalidState,
            "The confirmation token was already used (tokens are single use); nothing changed."),
        new(ReconciliationTokenExpired, "ReconciliationTokenExpired", ReconciliationConfirm, DbMergeErrorKind.InvalidState,
            "The confirmation token has expired (reconciliation.token_expiry_days after the import); nothing changed."),
        new(ReconciliationNotAwaitingConfirmation, "ReconciliationNotAwaitingConfirmation", ReconciliationConfirm, DbMergeErrorKind.InvalidState,
            "The token's request no longer awaits confirmation (it was cancelled); nothing changed."),
        new(ReconciliationRequestNotFound, "ReconciliationRequestNotFound", ReconciliationGet, DbMergeErrorKind.NotFound,
            "No reconciliation request has the given id (show, cancel, process)."),
        new(ReconciliationNotCancellable, "ReconciliationNotCancellable", ReconciliationCancel, DbMergeErrorKind.InvalidState,
            "Only a pending-confirmation or ready request can be cancelled; the message names the request's status."),
        new(ReconciliationClaimLost, "ReconciliationClaimLost", ReconciliationProcessOne, DbMergeErrorKind.Conflict,
            "The request is not (or no longer) claimed by this processor: never claimed, taken by another, or its claim outlived reconciliation.claim_timeout_minutes and was recorded as abandoned; nothing was merged or the merge was rolled back. Retry with --retry-errors."),
        new(ReconciliationNotReady, "ReconciliationNotReady", ReconciliationProcessOne, DbMergeErrorKind.InvalidState,
            "A dry run of a request that is neither ready nor error."),
        new(ReconciliationInvalidArgument, "ReconciliationInvalidArgument", ReconciliationList, DbMergeErrorKind.InvalidArgument,
            "A parameter of a reconciliation procedure is missing or out of range (status, top, keyset, claim id, lock timeout, cancel reason longer than 400 characters)."),
        new(OutboxNotOperator, "OutboxNotOperator", OutboxClaim, DbMergeErrorKind.Forbidden,
            "The caller is not a member of DbMergeOperator or db_owner: claiming, marking and listing outbox events are operator-only (payloads can hold tokens)."),
        new(OutboxInvalidArgument, "OutboxInvalidArgument", OutboxClaim, DbMergeErrorKind.InvalidArgument,
            "A parameter of an outbox procedure is out of range (max or top 1..1000, more than 1000 ids, a type without pending), or the setting outbox.retry_delay_seconds is invalid."),
        new(SettingNotOperator, "SettingNotOperator", SettingSet, DbMergeErrorKind.Forbidden,
            "The caller is not a member of DbMergeOperator or db_owner: changing a setting is operator-only."),
        new(SettingUnknown, "SettingUnknown", SettingSet, DbMergeErrorKind.NotFound,
            "No setting has that name; the message lists the names."),
        new(SettingInvalidValue, "SettingInvalidValue", SettingSet, DbMergeErrorKind.InvalidArgument,
            "The value is missing or not allowed for that setting; the message says what is allowed."),
    ];
}
