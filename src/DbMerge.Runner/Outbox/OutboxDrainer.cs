using System.Globalization;
using System.Text;
using System.Text.Json;
using DbMerge.Client;

namespace DbMerge.Runner.Outbox;

/// <summary>What a drain did.</summary>
internal sealed record OutboxDrainReport(int Written, int Marked, int Batches, bool Stopped);

/// <summary>
/// Drains the outbox for a mailer: claims a batch (<c>api.Outbox_Claim</c>, committed), writes each event as one JSON
/// line and flushes it, then marks the written events dispatched (<c>api.Outbox_MarkDispatched</c>, which erases the
/// payload's secret). An event is marked only after its line was written and flushed, so a crash repeats events rather
/// than losing them (at-least-once; the consumer discards repeats by <c>dedupeKey</c>). Claims never completed (a
/// crash between claim and mark) are claimed again after the setting outbox.retry_delay_seconds. Stopping (Ctrl+C)
/// takes effect between batches: a claimed batch is always written and marked, so no claim is left waiting.
/// </summary>
internal sealed class OutboxDrainer(DbMergeClient client)
{
    public const int DefaultBatchSize = 100;

    public async Task<OutboxDrainReport> DrainAsync(
        TextWriter output, int? max, string? eventType, int batchSize, string? claimedBy, Action<int>? progress, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, DbMergeClient.OutboxMaxBatch);
        int written = 0, marked = 0, batches = 0;
        var stopped = false;
        while (max is not { } limit || written < limit)
        {
            if (stop.IsCancellationRequested)
            {
                stopped = true;
                break;
            }

            var take = max is { } m ? Math.Min(batchSize, m - written) : batchSize;
            var events = await client.ClaimOutboxAsync(take, eventType, claimedBy, CancellationToken.None).ConfigureAwait(false);
            if (events.Count == 0)
            {
                break;
            }

            batches++;
            var done = new List<long>(events.Count);
            try
            {
                foreach (var e in events)
                {
                    await output.WriteLineAsync(FormatLine(e)).ConfigureAwait(false);
                    await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                    done.Add(e.OutboxId);
                    written++;
                    progress?.Invoke(written);
                }
            }
            finally
            {
                // Mark what was written and flushed, even when writing failed part-way (the consumer went away): the
                // rest stays claimed and is retried after the retry delay.
                if (done.Count > 0)
                {
                    marked += (await client.MarkOutboxDispatchedAsync(done, CancellationToken.None).ConfigureAwait(false)).Marked;
                }
            }
        }

        return new OutboxDrainReport(written, marked, batches, stopped);
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
