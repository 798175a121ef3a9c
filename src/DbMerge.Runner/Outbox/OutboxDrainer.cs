using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using DbMerge.Client;

namespace DbMerge.Runner.Outbox;

/// <summary>
/// What a drain did. <see cref="Deferred"/>: events claimed but not written because their claim was about to lapse
/// (the consumer was too slow); they stay claimed and are claimed again after outbox.retry_delay_seconds.
/// </summary>
internal sealed record OutboxDrainReport(int Written, int Marked, int Batches, bool Stopped, int Deferred = 0);

/// <summary>
/// Drains the outbox for a mailer: claims a batch (<c>api.Outbox_Claim</c>, committed), writes each event as one JSON
/// line and flushes it, and marks each written event dispatched (<c>api.Outbox_MarkDispatched</c>, which erases the
/// payload's secret). An event is marked only after its line was written and flushed, so a crash repeats events rather
/// than losing them (at-least-once; the consumer discards repeats by <c>dedupeKey</c>). Claims never completed (a
/// crash between claim and mark) are claimed again after the setting outbox.retry_delay_seconds. Stopping (Ctrl+C)
/// takes effect between batches: a claimed batch is written and marked, so no claim is left waiting.
/// <para>
/// Two drainers do not write the same event while both run. Once the retry delay has passed since a claim, another
/// drainer may claim the claim's unmarked events again; so (1) written events are marked in the background as soon as
/// they are flushed, while the next lines are written — a write that blocks on a slow consumer does not hold back the
/// marking of the lines before it — and (2) an event of a batch is only started while less than
/// <see cref="BudgetShare"/> of the delay has passed since the claim was sent; the rest of the batch stays claimed
/// (<see cref="OutboxDrainReport.Deferred"/>). What remains: the one line whose write or flush itself blocks for longer
/// than the rest of the delay may be written by another drainer as well (the dedupe key tells them apart).
/// </para>
/// </summary>
internal sealed class OutboxDrainer(DbMergeClient client)
{
    public const int DefaultBatchSize = 100;

    /// <summary>The share of the retry delay during which a drainer may start writing the events of a claim.</summary>
    public const double BudgetShare = 0.9;

    public async Task<OutboxDrainReport> DrainAsync(
        TextWriter output, int? max, string? eventType, int batchSize, string? claimedBy, Action<int>? progress, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, DbMergeClient.OutboxMaxBatch);
        int written = 0, batches = 0, deferred = 0;
        var stopped = false;

        // The background marker: ids of written and flushed lines, marked dispatched in order, up to 1,000 per call.
        var flushed = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var marker = MarkAsync(flushed.Reader);
        var finished = false;
        try
        {
            while (max is not { } limit || written < limit)
            {
                if (stop.IsCancellationRequested)
                {
                    stopped = true;
                    break;
                }

                var take = max is { } m ? Math.Min(batchSize, m - written) : batchSize;
                var sinceClaim = Stopwatch.StartNew(); // started before the claim is sent: never younger than the server's claim
                var events = await client.ClaimOutboxAsync(take, eventType, claimedBy, CancellationToken.None).ConfigureAwait(false);
                if (events.Count == 0)
                {
                    break;
                }

                batches++;
                var budget = WriteBudget(events);
                for (var i = 0; i < events.Count; i++)
                {
                    if (marker.IsCompleted || sinceClaim.Elapsed >= budget)
                    {
                        // The claim is about to lapse (or marking failed): leave the rest claimed, another drainer may take
                        // them once the retry delay has passed.
                        deferred += events.Count - i;
                        break;
                    }

                    await output.WriteLineAsync(FormatLine(events[i])).ConfigureAwait(false);
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    flushed.Writer.TryWrite(events[i].OutboxId);
                    written++;
                    progress?.Invoke(written);
                }

                if (marker.IsCompleted)
                {
                    break; // a marking failure: reported below
                }
            }

            finished = true;
        }
        finally
        {
            // Mark what was written and flushed, also when writing failed part-way (the consumer went away): the rest
            // stays claimed and is retried after the retry delay. A writing failure is the one reported.
            flushed.Writer.TryComplete();
            if (!finished)
            {
                await marker.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).ConfigureAwait(false);
            }
        }

        var marked = await marker.ConfigureAwait(false);
        return new OutboxDrainReport(written, marked, batches, stopped, deferred);
    }

    /// <summary>Marks the flushed ids dispatched until the channel completes; returns how many were marked now.</summary>
    private async Task<int> MarkAsync(ChannelReader<long> flushed)
    {
        await Task.Yield(); // run beside the writing loop
        var marked = 0;
        var ids = new List<long>(DbMergeClient.OutboxMaxBatch);
        while (await flushed.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (ids.Count < DbMergeClient.OutboxMaxBatch && flushed.TryRead(out var id))
            {
                ids.Add(id);
            }

            marked += (await client.MarkOutboxDispatchedAsync(ids, CancellationToken.None).ConfigureAwait(false)).Marked;
            ids.Clear();
        }

        return marked;
    }

    /// <summary>
    /// How long after sending a claim its events may still be started: <see cref="BudgetShare"/> of the shortest
    /// <c>ReclaimableAt - ClaimedAt</c> of the batch (both server times, so a client clock offset does not matter);
    /// unlimited when the server does not say.
    /// </summary>
    public static TimeSpan WriteBudget(IReadOnlyList<OutboxEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var delays = events.Where(e => e.ReclaimableAt is not null).Select(e => e.ReclaimableAt!.Value - e.ClaimedAt).ToList();
        return delays.Count == 0 ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)(Math.Max(0, delays.Min().Ticks) * BudgetShare));
    }

    /// <summary>One JSON line: id, type, dedupeKey, createdAt (UTC), attempts and the payload as an object.</summary>
    public static string FormatLine(OutboxEvent e)
    {
        ArgumentNullException.ThrowIfNull(e);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", e.OutboxId);
            writer.WriteString("type", e.EventType);
            writer.WriteString("dedupeKey", e.DedupeKey);
            writer.WriteString("createdAt", Utc(e.CreatedAt));
            writer.WriteNumber("attempts", e.Attempts);
            writer.WritePropertyName("payload");
            using (var payload = JsonDocument.Parse(e.Payload))
            {
                payload.RootElement.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static string Utc(DateTime value) =>
        DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
