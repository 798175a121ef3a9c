using System.Security.Cryptography;

namespace DbMerge.Client;

/// <summary>
/// The statuses of a reconciliation request and the transitions SQL admits
/// (<c>CK_dbmerge_ReconciliationRequest_Transition</c>, migration 0071; README "Reconciliation requests").
/// </summary>
public static class ReconciliationStatuses
{
    public const string PendingConfirmation = "pending-confirmation";
    public const string Ready = "ready";
    public const string Processing = "processing";
    public const string Done = "done";
    public const string Error = "error";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";

    /// <summary>Every status, in the order of the state machine.</summary>
    public static IReadOnlyList<string> All { get; } = [PendingConfirmation, Ready, Processing, Done, Error, Expired, Cancelled];

    /// <summary>One allowed change: <paramref name="From"/> null is the creation of a request.</summary>
    public sealed record Transition(string? From, string To, string By);

    /// <summary>Every transition the database admits, and what makes it.</summary>
    public static IReadOnlyList<Transition> Transitions { get; } =
    [
        new(null, PendingConfirmation, "import (api.Reconciliation_ImportBatch)"),
        new(PendingConfirmation, Ready, "both sides confirmed (api.Reconciliation_Confirm)"),
        new(PendingConfirmation, Expired, "a token expired before both sides confirmed (sweep of api.Reconciliation_Claim)"),
        new(PendingConfirmation, Cancelled, "api.Reconciliation_Cancel"),
        new(Ready, Processing, "claimed by a processor (api.Reconciliation_Claim)"),
        new(Ready, Cancelled, "api.Reconciliation_Cancel"),
        new(Processing, Done, "merged, in the merge's transaction (dbmerge.Reconciliation_ProcessOne)"),
        new(Processing, Error, "the merge failed (recorded after its rollback), or the claim was abandoned (51522)"),
        new(Error, Processing, "claimed again for a retry (process --retry-errors)"),
    ];

    public static bool IsStatus(string? value) => value is not null && All.Contains(value, StringComparer.Ordinal);
}

/// <summary>The outcome of one (line, pair) of a reconciliation import.</summary>
public static class ReconciliationOutcomes
{
    public const string Created = "created";
    public const string Duplicate = "duplicate";
    public const string Conflict = "conflict";
    public const string Error = "error";

    public static IReadOnlyList<string> All { get; } = [Created, Duplicate, Conflict, Error];

    /// <summary>Outcomes that go to the rejected-rows file (<c>--errors</c>).</summary>
    public static bool IsFailure(string outcome) => outcome is Conflict or Error;
}

/// <summary>
/// The e-mail address rules of reconciliation imports: the same as <c>dbmerge.Email_Validate</c> on the server, so an
/// offline parse and the import agree. Deliberately simple (not RFC 5322): 3..254 characters, exactly one '@' after a
/// non-empty local part, a domain with a '.' that neither starts nor ends with '.' and has no "..", no character at or
/// below U+0020, no U+007F, none of <c>, ; : &lt; &gt; ( ) [ ] \ " |</c>.
/// </summary>
public static class ReconciliationEmail
{
    public const int MaxLength = 254;

    private const string Forbidden = ",;:<>()[]\\\"|";

    public static bool IsValid(string? email)
    {
        if (email is null || email.Length is < 3 or > MaxLength)
        {
            return false;
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || email.IndexOf('@', at + 1) >= 0)
        {
            return false;
        }

        foreach (var c in email)
        {
            if (c <= '\u0020' || c == '\u007F' || Forbidden.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        var domain = email[(at + 1)..];
        var dot = domain.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && dot < domain.Length - 1 && !domain.StartsWith('.') && !domain.EndsWith('.') &&
               !domain.Contains("..", StringComparison.Ordinal);
    }
}

/// <summary>Names of the settings in <c>dbmerge.Setting</c> (migration 0070).</summary>
public static class DbMergeSettingNames
{
    public const string TokenExpiryDays = "reconciliation.token_expiry_days";
    public const string ConfirmUrlTemplate = "reconciliation.confirm_url_template";
    public const string ClaimTimeoutMinutes = "reconciliation.claim_timeout_minutes";
    public const string OutboxRetryDelaySeconds = "outbox.retry_delay_seconds";

    public static IReadOnlyList<string> All { get; } = [TokenExpiryDays, ConfirmUrlTemplate, ClaimTimeoutMinutes, OutboxRetryDelaySeconds];
}

/// <summary>A reconciliation import (<c>dbmerge.ReconciliationImport</c>): one CSV file, identified by its SHA-256.</summary>
/// <param name="IsNew">False when the same file was imported before (the recorded import was found).</param>
public sealed record ReconciliationImport(
    int ImportId,
    string FileName,
    byte[] FileSha256,
    string ImportedBy,
    DateTime StartedAt,
    DateTime? CompletedAt,
    int TotalRows,
    int TotalPairs,
    int CreatedCount,
    int DuplicateCount,
    int ConflictCount,
    int ErrorCount,
    bool IsNew)
{
    public bool IsCompleted => CompletedAt is not null;

    public string Sha256Hex => Convert.ToHexStringLower(FileSha256);

    public static byte[] HashFile(ReadOnlySpan<byte> bytes) => SHA256.HashData(bytes);
}

/// <summary>
/// One row sent to <c>api.Reconciliation_ImportBatch</c>: a CSV line and one address of its <c>inactive_email</c>
/// list. <paramref name="ClientOutcome"/> (duplicate / conflict / error) carries what the runner decided from the file
/// alone; null lets the server decide.
/// </summary>
public sealed record ReconciliationImportRow(
    int LineNumber,
    int PairNumber,
    string? SourceId,
    string? ActiveEmail,
    string? InactiveEmail,
    string? ClientOutcome = null,
    string? ClientReason = null);

/// <summary>The outcome of one (line, pair): created, duplicate, conflict or error with its reason.</summary>
/// <param name="RequestId">Created: the new request; duplicate/conflict: the existing one; null otherwise and in a dry run.</param>
/// <param name="WasRecorded">True when an earlier call had recorded this outcome (a resumed or repeated import).</param>
public sealed record ReconciliationRowOutcome(
    int LineNumber,
    int PairNumber,
    string? SourceId,
    string? ActiveEmail,
    string? InactiveEmail,
    string Outcome,
    string? Reason,
    int? RequestId,
    bool WasRecorded);

/// <summary>Result of <c>api.Reconciliation_Confirm</c>.</summary>
public sealed record ReconciliationConfirmed(int RequestId, string Side, string Status, bool ActiveConfirmed, bool InactiveConfirmed, bool BecameReady);

/// <summary>A request claimed by <c>api.Reconciliation_Claim</c>, to be processed with its <paramref name="ClaimId"/>.</summary>
public sealed record ClaimedReconciliation(
    int RequestId,
    Guid ClaimId,
    string SourceId,
    string ActiveEmail,
    string InactiveEmail,
    int ActiveUserId,
    int InactiveUserId,
    int Attempts,
    bool IsRetry);

/// <summary>Result of <c>api.Reconciliation_Claim</c>: the claimed request (null: nothing to do) and the sweeps.</summary>
public sealed record ReconciliationClaimResult(ClaimedReconciliation? Claimed, int ExpiredCount, int AbandonedCount, DateTime ServerNow);

/// <summary>Result of <c>api.Reconciliation_Process</c>: the merge of one request (or its dry run).</summary>
public sealed record ReconciliationProcessed(int RequestId, long MergeRunId, bool DryRun, string Status, IReadOnlyList<MergeTableSummary> Tables)
{
    public int RowsChanged => Tables.Sum(t => t.RowsChanged);
}

/// <summary>A row of <c>api.Reconciliation_List</c>.</summary>
public sealed record ReconciliationRequestInfo(
    int RequestId,
    int ImportId,
    int LineNumber,
    short PairNumber,
    string SourceId,
    string ActiveEmail,
    string InactiveEmail,
    int ActiveUserId,
    int InactiveUserId,
    string Status,
    DateTime StatusChangedAt,
    DateTime CreatedAt,
    DateTime ExpiresAt,
    DateTime? ActiveConfirmedAt,
    DateTime? InactiveConfirmedAt,
    int Attempts,
    long? MergeRunId,
    int? ErrorNumber,
    string? ErrorMessage);

/// <summary>Result of <c>api.Reconciliation_Get</c>: one request in full (never a token).</summary>
public sealed record ReconciliationRequestDetail(
    int RequestId,
    int ImportId,
    string FileName,
    string ImportedBy,
    int LineNumber,
    short PairNumber,
    string SourceId,
    string ActiveEmail,
    string InactiveEmail,
    int ActiveUserId,
    int InactiveUserId,
    string Status,
    string? PreviousStatus,
    DateTime StatusChangedAt,
    DateTime CreatedAt,
    DateTime ExpiresAt,
    DateTime? ActiveConfirmedAt,
    DateTime? InactiveConfirmedAt,
    DateTime? ActiveTokenUsedAt,
    DateTime? InactiveTokenUsedAt,
    DateTime? ClaimedAt,
    string? ClaimedBy,
    int Attempts,
    long? MergeRunId,
    int? ErrorNumber,
    string? ErrorMessage,
    DateTime? FinishedAt,
    string? CancelledBy,
    string? CancelReason);

/// <summary>Result of <c>api.Reconciliation_Cancel</c>.</summary>
public sealed record ReconciliationCancelled(int RequestId, string Status, string? PreviousStatus, DateTime StatusChangedAt, string? CancelledBy, string? CancelReason);

/// <summary>A row of <c>api.Reconciliation_Counts</c>.</summary>
public sealed record ReconciliationStatusCount(string Status, int Requests);

/// <summary>
/// An event claimed from the outbox by <c>api.Outbox_Claim</c>: the payload is whole (it may hold a token).
/// <see cref="ReclaimableAt"/> (server time) is when the claim lapses and another drainer may claim the event again:
/// write an event only while its claim is younger than <c>ReclaimableAt - ClaimedAt</c>.
/// </summary>
public sealed record OutboxEvent(long OutboxId, string EventType, string DedupeKey, string Payload, DateTime CreatedAt, DateTime ClaimedAt, int Attempts,
    DateTime? ReclaimableAt = null);

/// <summary>Result of <c>api.Outbox_MarkDispatched</c>.</summary>
public sealed record OutboxDispatched(int Requested, int Marked, int AlreadyDispatched);

/// <summary>A row of <c>api.Outbox_List</c>: the payload without its "secret" member.</summary>
public sealed record OutboxEntry(
    long OutboxId,
    string EventType,
    string DedupeKey,
    string Payload,
    bool HasSecret,
    DateTime CreatedAt,
    DateTime? ClaimedAt,
    string? ClaimedBy,
    int Attempts,
    DateTime? DispatchedAt);

/// <summary>A setting of <c>dbmerge.Setting</c> (<c>api.Setting_List</c>).</summary>
public sealed record DbMergeSetting(string Name, string Value, string Description, DateTime UpdatedAt, string UpdatedBy);

/// <summary>Result of <c>api.Setting_Set</c>.</summary>
public sealed record DbMergeSettingChanged(string Name, string Value, string Description, DateTime UpdatedAt, string UpdatedBy, string PreviousValue);
