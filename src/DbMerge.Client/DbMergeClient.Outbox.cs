using System.Data;
using Microsoft.Data.SqlClient;
using Microsoft.Data.SqlClient.Server;

namespace DbMerge.Client;

public sealed partial class DbMergeClient
{
    public const string OutboxClaimProcedure = "api.Outbox_Claim";
    public const string OutboxMarkDispatchedProcedure = "api.Outbox_MarkDispatched";
    public const string OutboxListProcedure = "api.Outbox_List";

    /// <summary>The table type of <c>api.Outbox_MarkDispatched</c>'s ids (migration 0072).</summary>
    public const string OutboxIdListType = "dbmerge.OutboxIdList";

    /// <summary>The most events one claim, one mark or one list page handles.</summary>
    public const int OutboxMaxBatch = 1000;

    /// <summary>The columns of <see cref="OutboxIdListType"/> as sent (an offline test compares them with migration 0072).</summary>
    internal static readonly SqlMetaData[] OutboxIdMetadata = [new("OutboxId", SqlDbType.BigInt)];

    /// <summary>
    /// Claims up to <paramref name="max"/> undispatched events, oldest first (optionally of one type); the claim commits
    /// before this returns. The payloads are whole: a confirmation event carries its token in "secret" — write it only
    /// where the mailer reads it, then <see cref="MarkOutboxDispatchedAsync"/>. Write no event once its claim may have
    /// lapsed (<see cref="OutboxEvent.ReclaimableAt"/>): another drainer may be writing it by then. Operator-only.
    /// Errors 51530, 51531.
    /// </summary>
    public Task<IReadOnlyList<OutboxEvent>> ClaimOutboxAsync(
        int max, string? eventType, string? claimedBy, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<OutboxEvent>>(
            OutboxClaimProcedure,
            p =>
            {
                p.Add("@Max", SqlDbType.Int).Value = max;
                p.Add("@EventType", SqlDbType.VarChar, 100).Value = (object?)eventType ?? DBNull.Value;
                p.Add("@ClaimedBy", SqlDbType.NVarChar, 128).Value = (object?)claimedBy ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                var events = new List<OutboxEvent>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    events.Add(new OutboxEvent(
                        reader.Get<long>("OutboxId"), reader.Get<string>("EventType"), reader.Get<string>("DedupeKey"),
                        reader.Get<string>("Payload"), reader.Get<DateTime>("CreatedAt"), reader.Get<DateTime>("ClaimedAt"),
                        reader.Get<int>("Attempts"), reader.Get<DateTime>("ReclaimableAt")));
                }

                return events;
            },
            timeout: null,
            cancellationToken);

    /// <summary>Marks written and flushed events dispatched and erases their secrets (at most 1,000 ids). Operator-only.</summary>
    public Task<OutboxDispatched> MarkOutboxDispatchedAsync(IReadOnlyCollection<long> outboxIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(outboxIds);
        if (outboxIds.Count > OutboxMaxBatch)
        {
            throw new ArgumentException($"At most {OutboxMaxBatch} ids per call.", nameof(outboxIds));
        }

        return ExecuteProcedureAsync(
            OutboxMarkDispatchedProcedure,
            p => p.Add(new SqlParameter("@OutboxIds", SqlDbType.Structured)
            {
                TypeName = OutboxIdListType,
                Value = outboxIds.Count == 0 ? null : OutboxIdRecords(outboxIds.Distinct()),
            }),
            async (reader, _, ct) =>
            {
                await ReadSingleRowAsync(reader, OutboxMarkDispatchedProcedure, ct).ConfigureAwait(false);
                return new OutboxDispatched(reader.Get<int>("Requested"), reader.Get<int>("Marked"), reader.Get<int>("AlreadyDispatched"));
            },
            timeout: null,
            cancellationToken);
    }

    /// <summary>
    /// Outbox events newest first, one keyset page (pass the last id as <paramref name="beforeOutboxId"/>); payloads
    /// without their "secret" member. A type filter needs <paramref name="pendingOnly"/>. Operator-only.
    /// </summary>
    public Task<IReadOnlyList<OutboxEntry>> ListOutboxAsync(
        bool pendingOnly, string? eventType, long? beforeOutboxId = null, int top = 100, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<OutboxEntry>>(
            OutboxListProcedure,
            p =>
            {
                p.Add("@PendingOnly", SqlDbType.Bit).Value = pendingOnly;
                p.Add("@EventType", SqlDbType.VarChar, 100).Value = (object?)eventType ?? DBNull.Value;
                p.Add("@BeforeOutboxId", SqlDbType.BigInt).Value = (object?)beforeOutboxId ?? DBNull.Value;
                p.Add("@Top", SqlDbType.Int).Value = top;
            },
            async (reader, _, ct) =>
            {
                var entries = new List<OutboxEntry>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    entries.Add(new OutboxEntry(
                        reader.Get<long>("OutboxId"), reader.Get<string>("EventType"), reader.Get<string>("DedupeKey"),
                        reader.Get<string>("Payload"), reader.Get<bool>("HasSecret"), reader.Get<DateTime>("CreatedAt"),
                        reader.GetNullable<DateTime>("ClaimedAt"), reader.GetNullableString("ClaimedBy"), reader.Get<int>("Attempts"),
                        reader.GetNullable<DateTime>("DispatchedAt")));
                }

                return entries;
            },
            timeout: null,
            cancellationToken);

    private static IEnumerable<SqlDataRecord> OutboxIdRecords(IEnumerable<long> ids)
    {
        foreach (var id in ids)
        {
            var record = new SqlDataRecord(OutboxIdMetadata);
            record.SetInt64(0, id);
            yield return record;
        }
    }
}
