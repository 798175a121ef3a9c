using System.Data;
using Microsoft.Data.SqlClient;
using Microsoft.Data.SqlClient.Server;

namespace DbMerge.Client;

public sealed partial class DbMergeClient
{
    public const string ReconciliationImportBeginProcedure = "api.Reconciliation_ImportBegin";
    public const string ReconciliationImportBatchProcedure = "api.Reconciliation_ImportBatch";
    public const string ReconciliationImportFinishProcedure = "api.Reconciliation_ImportFinish";
    public const string ReconciliationConfirmProcedure = "api.Reconciliation_Confirm";
    public const string ReconciliationClaimProcedure = "api.Reconciliation_Claim";
    public const string ReconciliationProcessProcedure = "api.Reconciliation_Process";
    public const string ReconciliationListProcedure = "api.Reconciliation_List";
    public const string ReconciliationCountsProcedure = "api.Reconciliation_Counts";
    public const string ReconciliationGetProcedure = "api.Reconciliation_Get";
    public const string ReconciliationCancelProcedure = "api.Reconciliation_Cancel";

    /// <summary>The table type of <c>api.Reconciliation_ImportBatch</c>'s rows (migration 0072).</summary>
    public const string ReconciliationImportRowListType = "dbmerge.ReconciliationImportRowList";

    /// <summary>The most rows <c>api.Reconciliation_ImportBatch</c> accepts in one call.</summary>
    public const int ReconciliationImportMaxBatch = 500;

    /// <summary>Default time an import step waits for another import's lock.</summary>
    public static readonly TimeSpan DefaultImportLockTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The columns of <see cref="ReconciliationImportRowListType"/> as sent (an offline test compares them with migration 0072).</summary>
    internal static readonly SqlMetaData[] ImportRowMetadata =
    [
        new("LineNumber", SqlDbType.Int),
        new("PairNumber", SqlDbType.SmallInt),
        new("SourceId", SqlDbType.NVarChar, 100),
        new("ActiveEmail", SqlDbType.NVarChar, 254),
        new("InactiveEmail", SqlDbType.NVarChar, 254),
        new("ClientOutcome", SqlDbType.VarChar, 10),
        new("ClientReason", SqlDbType.NVarChar, 400),
    ];

    /// <summary>
    /// Starts the import of a file, or finds the recorded import of the same bytes (<see cref="ReconciliationImport.IsNew"/>
    /// false; completed when <see cref="ReconciliationImport.IsCompleted"/>). Operator-only. Errors 51500–51506.
    /// </summary>
    public Task<ReconciliationImport> BeginReconciliationImportAsync(
        string fileName, byte[] fileSha256, int totalRows, int totalPairs, string? importedBy,
        TimeSpan? lockTimeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(fileName);
        ArgumentNullException.ThrowIfNull(fileSha256);
        if (fileSha256.Length != 32)
        {
            throw new ArgumentException("A SHA-256 hash has 32 bytes.", nameof(fileSha256));
        }

        return ExecuteProcedureAsync(
            ReconciliationImportBeginProcedure,
            p =>
            {
                p.Add("@FileName", SqlDbType.NVarChar, 260).Value = fileName.Length > 260 ? fileName[^260..] : fileName;
                p.Add("@FileSha256", SqlDbType.Binary, 32).Value = fileSha256;
                p.Add("@TotalRows", SqlDbType.Int).Value = totalRows;
                p.Add("@TotalPairs", SqlDbType.Int).Value = totalPairs;
                p.Add("@ImportedBy", SqlDbType.NVarChar, 128).Value = (object?)importedBy ?? DBNull.Value;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)(lockTimeout ?? DefaultImportLockTimeout).TotalMilliseconds;
            },
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationImportBeginProcedure, ct).ConfigureAwait(false);
                return ReadImport(reader);
            },
            timeout: null,
            cancellationToken);
    }

    /// <summary>
    /// Decides (and, unless <paramref name="dryRun"/>, records) the outcome of at most
    /// <see cref="ReconciliationImportMaxBatch"/> rows in one round trip (a table-valued parameter). A created row gets a
    /// request, two tokens and two outbox events; no token is ever returned. Operator-only. Errors 51500–51508.
    /// </summary>
    public Task<IReadOnlyList<ReconciliationRowOutcome>> ImportReconciliationBatchAsync(
        int? importId, IReadOnlyCollection<ReconciliationImportRow> rows, bool dryRun,
        TimeSpan? lockTimeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count > ReconciliationImportMaxBatch)
        {
            throw new ArgumentException($"At most {ReconciliationImportMaxBatch} rows per batch.", nameof(rows));
        }

        return ExecuteProcedureAsync<IReadOnlyList<ReconciliationRowOutcome>>(
            ReconciliationImportBatchProcedure,
            p =>
            {
                p.Add("@ImportId", SqlDbType.Int).Value = (object?)importId ?? DBNull.Value;
                // An empty table-valued parameter is sent as no rows (null), not as an empty enumeration.
                p.Add(new SqlParameter("@Rows", SqlDbType.Structured)
                {
                    TypeName = ReconciliationImportRowListType,
                    Value = rows.Count == 0 ? null : ToRecords(rows),
                });
                p.Add("@DryRun", SqlDbType.Bit).Value = dryRun;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)(lockTimeout ?? DefaultImportLockTimeout).TotalMilliseconds;
            },
            async (reader, _, ct) =>
            {
                var outcomes = new List<ReconciliationRowOutcome>(rows.Count);
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    outcomes.Add(new ReconciliationRowOutcome(
                        reader.Get<int>("LineNumber"), reader.Get<short>("PairNumber"), reader.GetNullableString("SourceId"),
                        reader.GetNullableString("ActiveEmail"), reader.GetNullableString("InactiveEmail"), reader.Get<string>("Outcome"),
                        reader.GetNullableString("Reason"), reader.GetNullable<int>("RequestId"), reader.Get<bool>("WasRecorded")));
                }

                return outcomes;
            },
            _options.LongCommandTimeout,
            cancellationToken);
    }

    /// <summary>Completes an import whose every pair has an outcome (idempotent). Operator-only. Errors 51500–51506.</summary>
    public Task<ReconciliationImport> FinishReconciliationImportAsync(
        int importId, TimeSpan? lockTimeout = null, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            ReconciliationImportFinishProcedure,
            p =>
            {
                p.Add("@ImportId", SqlDbType.Int).Value = importId;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)(lockTimeout ?? DefaultImportLockTimeout).TotalMilliseconds;
            },
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationImportFinishProcedure, ct).ConfigureAwait(false);
                return ReadImport(reader);
            },
            timeout: null,
            cancellationToken);

    /// <summary>
    /// Confirms one side of a request with its one-time token (callable by the application). Both sides confirmed:
    /// the request becomes ready. A wrong, used or expired token throws 51510 / 51511 / 51512 (51513: cancelled);
    /// the token is never part of an exception message.
    /// </summary>
    public Task<ReconciliationConfirmed> ConfirmReconciliationAsync(string token, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            ReconciliationConfirmProcedure,
            p => p.Add("@Token", SqlDbType.VarChar, 100).Value = (object?)token ?? DBNull.Value,
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationConfirmProcedure, ct).ConfigureAwait(false);
                return new ReconciliationConfirmed(
                    reader.Get<int>("RequestId"), reader.Get<string>("Side"), reader.Get<string>("Status"),
                    reader.Get<bool>("ActiveConfirmed"), reader.Get<bool>("InactiveConfirmed"), reader.Get<bool>("BecameReady"));
            },
            timeout: null,
            cancellationToken);

    /// <summary>
    /// Claims the next ready request (or, with <paramref name="retryErrors"/>, an error recorded before
    /// <paramref name="retryErrorsBefore"/>; null = the server's now) and runs the expiry and abandoned-claim sweeps.
    /// The claim commits before this returns. Operator-only. Errors 51500, 51507, 51524.
    /// </summary>
    public Task<ReconciliationClaimResult> ClaimReconciliationAsync(
        bool retryErrors, DateTime? retryErrorsBefore, string? claimedBy, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            ReconciliationClaimProcedure,
            p =>
            {
                p.Add("@RetryErrors", SqlDbType.Bit).Value = retryErrors;
                p.Add("@RetryErrorsBefore", SqlDbType.DateTime2).Value = (object?)retryErrorsBefore ?? DBNull.Value;
                p["@RetryErrorsBefore"].Scale = 3;
                p.Add("@ClaimedBy", SqlDbType.NVarChar, 128).Value = (object?)claimedBy ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationClaimProcedure, ct).ConfigureAwait(false);
                var requestId = reader.GetNullable<int>("RequestId");
                var claimed = requestId is null
                    ? null
                    : new ClaimedReconciliation(
                        requestId.Value, reader.Get<Guid>("ClaimId"), reader.Get<string>("SourceId"), reader.Get<string>("ActiveEmail"),
                        reader.Get<string>("InactiveEmail"), reader.Get<int>("ActiveUserId"), reader.Get<int>("InactiveUserId"),
                        reader.Get<int>("Attempts"), reader.Get<bool>("IsRetry"));
                return new ReconciliationClaimResult(claimed, reader.Get<int>("ExpiredCount"), reader.Get<int>("AbandonedCount"),
                    reader.Get<DateTime>("ServerNow"));
            },
            timeout: null,
            cancellationToken);

    /// <summary>
    /// Merges one claimed request (inactive account into active account) in its own transaction, recording done with
    /// the merge run, or error after the rollback; with <paramref name="dryRun"/> (and no claim) merges a ready request
    /// and rolls it back, within the merge budget <paramref name="maxDuration"/> (default
    /// <see cref="DefaultMergeMaxDuration"/>; 51115 beyond), with the merge's command timeout; an abandoned call clears
    /// its connection from the pool (the run then shows as abandoned at once). Operator-only. Errors 51500–51524 and the
    /// merge core's 51100–51119.
    /// </summary>
    public async Task<ReconciliationProcessed> ProcessReconciliationAsync(
        int requestId, Guid? claimId, bool dryRun, TimeSpan? lockTimeout, string? requestedBy,
        CancellationToken cancellationToken = default, TimeSpan? maxDuration = null)
    {
        var lockWait = lockTimeout ?? DefaultMergeLockTimeout;
        var budget = maxDuration ?? DefaultMergeMaxDuration;
        var rows = await RunMergeOnOwnConnectionAsync(
            ReconciliationProcessProcedure,
            p =>
            {
                p.Add("@RequestId", SqlDbType.Int).Value = requestId;
                p.Add("@ClaimId", SqlDbType.UniqueIdentifier).Value = (object?)claimId ?? DBNull.Value;
                p.Add("@DryRun", SqlDbType.Bit).Value = dryRun;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)lockWait.TotalMilliseconds;
                p.Add("@MaxDurationMs", SqlDbType.Int).Value = (int)Math.Min(int.MaxValue, budget.TotalMilliseconds);
                p.Add("@RequestedBy", SqlDbType.NVarChar, 128).Value = (object?)requestedBy ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                var result = new List<(long RunId, string Status, MergeTableSummary Row)>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    result.Add((reader.Get<long>("MergeRunId"), reader.Get<string>("Status"), new MergeTableSummary(
                        reader.Get<string>("SchemaName"), reader.Get<string>("TableName"), reader.Get<string>("ColumnName"),
                        reader.Get<string>("Policy"), reader.Get<int>("Moved"), reader.Get<int>("Merged"),
                        reader.Get<int>("Deleted"), reader.Get<int>("Conflicts"))));
                }

                return result;
            },
            MergeCommandTimeout(budget, lockWait),
            cancellationToken).ConfigureAwait(false);

        if (rows.Count == 0)
        {
            throw new InvalidOperationException($"{ReconciliationProcessProcedure} returned no summary row; its contract promises one per merge policy.");
        }

        return new ReconciliationProcessed(requestId, rows[0].RunId, dryRun, rows[0].Status, rows.Select(r => r.Row).ToList());
    }

    /// <summary>One keyset page of requests by ascending id (pass the last id as <paramref name="afterRequestId"/>). Operator-only.</summary>
    public Task<IReadOnlyList<ReconciliationRequestInfo>> ListReconciliationsAsync(
        string? status, int? importId, int afterRequestId = 0, int top = 100, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<ReconciliationRequestInfo>>(
            ReconciliationListProcedure,
            p =>
            {
                p.Add("@Status", SqlDbType.VarChar, 20).Value = (object?)status ?? DBNull.Value;
                p.Add("@ImportId", SqlDbType.Int).Value = (object?)importId ?? DBNull.Value;
                p.Add("@AfterRequestId", SqlDbType.Int).Value = afterRequestId;
                p.Add("@Top", SqlDbType.Int).Value = top;
            },
            async (reader, _, ct) =>
            {
                var list = new List<ReconciliationRequestInfo>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    list.Add(new ReconciliationRequestInfo(
                        reader.Get<int>("RequestId"), reader.Get<int>("ImportId"), reader.Get<int>("LineNumber"), reader.Get<short>("PairNumber"),
                        reader.Get<string>("SourceId"), reader.Get<string>("ActiveEmail"), reader.Get<string>("InactiveEmail"),
                        reader.Get<int>("ActiveUserId"), reader.Get<int>("InactiveUserId"), reader.Get<string>("Status"),
                        reader.Get<DateTime>("StatusChangedAt"), reader.Get<DateTime>("CreatedAt"), reader.Get<DateTime>("ExpiresAt"),
                        reader.GetNullable<DateTime>("ActiveConfirmedAt"), reader.GetNullable<DateTime>("InactiveConfirmedAt"),
                        reader.Get<int>("Attempts"), reader.GetNullable<long>("MergeRunId"), reader.GetNullable<int>("ErrorNumber"),
                        reader.GetNullableString("ErrorMessage")));
                }

                return list;
            },
            timeout: null,
            cancellationToken);

    /// <summary>How many requests are in each status (all seven, zero included), overall or for one import. Operator-only.</summary>
    public Task<IReadOnlyList<ReconciliationStatusCount>> CountReconciliationsAsync(int? importId, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<ReconciliationStatusCount>>(
            ReconciliationCountsProcedure,
            p => p.Add("@ImportId", SqlDbType.Int).Value = (object?)importId ?? DBNull.Value,
            async (reader, _, ct) =>
            {
                var list = new List<ReconciliationStatusCount>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    list.Add(new ReconciliationStatusCount(reader.Get<string>("Status"), reader.Get<int>("Requests")));
                }

                return list;
            },
            timeout: null,
            cancellationToken);

    /// <summary>One request in full (never a token). Operator-only. Errors 51500, 51520.</summary>
    public Task<ReconciliationRequestDetail> GetReconciliationAsync(int requestId, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            ReconciliationGetProcedure,
            p => p.Add("@RequestId", SqlDbType.Int).Value = requestId,
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationGetProcedure, ct).ConfigureAwait(false);
                return new ReconciliationRequestDetail(
                    reader.Get<int>("RequestId"), reader.Get<int>("ImportId"), reader.Get<string>("FileName"), reader.Get<string>("ImportedBy"),
                    reader.Get<int>("LineNumber"), reader.Get<short>("PairNumber"), reader.Get<string>("SourceId"),
                    reader.Get<string>("ActiveEmail"), reader.Get<string>("InactiveEmail"), reader.Get<int>("ActiveUserId"),
                    reader.Get<int>("InactiveUserId"), reader.Get<string>("Status"), reader.GetNullableString("PreviousStatus"),
                    reader.Get<DateTime>("StatusChangedAt"), reader.Get<DateTime>("CreatedAt"), reader.Get<DateTime>("ExpiresAt"),
                    reader.GetNullable<DateTime>("ActiveConfirmedAt"), reader.GetNullable<DateTime>("InactiveConfirmedAt"),
                    reader.GetNullable<DateTime>("ActiveTokenUsedAt"), reader.GetNullable<DateTime>("InactiveTokenUsedAt"),
                    reader.GetNullable<DateTime>("ClaimedAt"), reader.GetNullableString("ClaimedBy"), reader.Get<int>("Attempts"),
                    reader.GetNullable<long>("MergeRunId"), reader.GetNullable<int>("ErrorNumber"), reader.GetNullableString("ErrorMessage"),
                    reader.GetNullable<DateTime>("FinishedAt"), reader.GetNullableString("CancelledBy"), reader.GetNullableString("CancelReason"));
            },
            timeout: null,
            cancellationToken);

    /// <summary>Cancels a pending-confirmation or ready request. Operator-only. Errors 51500, 51520, 51521, 51524.</summary>
    public Task<ReconciliationCancelled> CancelReconciliationAsync(
        int requestId, string? reason, string? cancelledBy, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            ReconciliationCancelProcedure,
            p =>
            {
                p.Add("@RequestId", SqlDbType.Int).Value = requestId;
                p.Add("@Reason", SqlDbType.NVarChar, 4000).Value = (object?)reason ?? DBNull.Value;
                p.Add("@CancelledBy", SqlDbType.NVarChar, 128).Value = (object?)cancelledBy ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, ReconciliationCancelProcedure, ct).ConfigureAwait(false);
                return new ReconciliationCancelled(
                    reader.Get<int>("RequestId"), reader.Get<string>("Status"), reader.GetNullableString("PreviousStatus"),
                    reader.Get<DateTime>("StatusChangedAt"), reader.GetNullableString("CancelledBy"), reader.GetNullableString("CancelReason"));
            },
            timeout: null,
            cancellationToken);

    private static ReconciliationImport ReadImport(SqlDataReader reader) =>
        new(reader.Get<int>("ImportId"), reader.Get<string>("FileName"), reader.Get<byte[]>("FileSha256"), reader.Get<string>("ImportedBy"),
            reader.Get<DateTime>("StartedAt"), reader.GetNullable<DateTime>("CompletedAt"), reader.Get<int>("TotalRows"),
            reader.Get<int>("TotalPairs"), reader.Get<int>("CreatedCount"), reader.Get<int>("DuplicateCount"),
            reader.Get<int>("ConflictCount"), reader.Get<int>("ErrorCount"), reader.Get<bool>("IsNew"));

    private static IEnumerable<SqlDataRecord> ToRecords(IEnumerable<ReconciliationImportRow> rows)
    {
        foreach (var row in rows)
        {
            var record = new SqlDataRecord(ImportRowMetadata);
            record.SetInt32(0, row.LineNumber);
            record.SetInt16(1, checked((short)row.PairNumber));
            SetString(record, 2, row.SourceId, 100);
            SetString(record, 3, row.ActiveEmail, 254);
            SetString(record, 4, row.InactiveEmail, 254);
            SetString(record, 5, row.ClientOutcome, 10);
            SetString(record, 6, row.ClientReason, 400);
            yield return record;
        }
    }

    /// <summary>Sets a string column, cut to its length (the caller has already reported a longer value as an error).</summary>
    private static void SetString(SqlDataRecord record, int ordinal, string? value, int maxLength)
    {
        if (value is null)
        {
            record.SetDBNull(ordinal);
        }
        else
        {
            record.SetString(ordinal, value.Length > maxLength ? value[..maxLength] : value);
        }
    }

    /// <summary>Advances to the single documented result row; a missing row is a contract break.</summary>
    private static async Task ReadSingleRowAsync(SqlDataReader reader, string procedure, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"{procedure} returned no result row; its contract promises exactly one.");
        }
    }
}
