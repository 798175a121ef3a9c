using System.Text;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner.Outbox;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>The outbox drain: JSON lines, dispatched after they are written, secrets erased, several drainers, retries.</summary>
public sealed class OutboxDrainTests(SqlServerFixture fixture, ITestOutputHelper output) : ReconciliationTestBase(fixture, output)
{
    private static IReadOnlyList<JsonElement> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private Task<OutboxDrainReport> DrainAsync(TextWriter writer, int? max = null, string? type = null, int batchSize = 100, string claimedBy = "tests") =>
        new OutboxDrainer(Client).DrainAsync(writer, max, type, batchSize, claimedBy, null, Ct);

    /// <summary>Outbox events of a test type, inserted directly (what any procedure would write in its transaction).</summary>
    private Task SeedEventsAsync(int count) =>
        ExecAsync("""
            WITH n AS (SELECT TOP (@Count) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b)
            INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
            SELECT 'test.event', CONCAT(N'test.event:', n.i), CONCAT(N'{"n":', n.i, N'}') FROM n;
            """, ("@Count", count));

    [Fact]
    public async Task Draining_writes_every_event_as_a_JSON_line_marks_it_dispatched_and_erases_its_token()
    {
        // Given the example imported: eight confirmation events, each with a token
        await GivenTheWorldAsync();
        await ImportAsync(ExampleCsv);
        var tokens = (await ConfirmEventsAsync()).Select(e => e.Token!).ToList();
        Assert.Equal(8, tokens.Count);

        // When the outbox is drained
        var output = new StringWriter();
        var report = await DrainAsync(output, batchSize: 3);

        // Then eight lines, oldest first, each with its type, dedupe key and payload, tokens included (the mailer needs them)
        var lines = Lines(output.ToString());
        Assert.Equal((8, 8, 3), (report.Written, report.Marked, report.Batches));
        Assert.Equal(8, lines.Count);
        Assert.Equal(lines.Select(l => l.GetProperty("id").GetInt64()).Order(), lines.Select(l => l.GetProperty("id").GetInt64()));
        Assert.All(lines, l => Assert.Equal("reconciliation.confirm", l.GetProperty("type").GetString()));
        Assert.Equal(tokens.Order(StringComparer.Ordinal),
            lines.Select(l => l.GetProperty("payload").GetProperty("secret").GetProperty("token").GetString()!).Order(StringComparer.Ordinal));

        // And every event is dispatched, its secret erased from the database, the rest of its payload kept
        var events = await ConfirmEventsAsync();
        Assert.Equal(8, events.Count);
        Assert.All(events, e => Assert.NotNull(e.DispatchedAt));
        Assert.All(events, e => Assert.Null(e.Token));
        Assert.All(events, e => Assert.Contains("@", e.Email, StringComparison.Ordinal));
        foreach (var token in tokens)
        {
            Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE Payload LIKE N'%' + @t + N'%';", ("@t", token)));
        }

        // And the listing never shows a secret, and the drained tokens still confirm (only their hashes are needed)
        var listed = await Client.ListOutboxAsync(false, null, null, 100, Ct);
        Assert.Equal(8, listed.Count);
        Assert.All(listed, e => Assert.False(e.HasSecret));
        var request = events[0].RequestId;
        var confirmed = await Client.ConfirmReconciliationAsync(
            lines.Single(l => l.GetProperty("payload").GetProperty("requestId").GetInt32() == request && l.GetProperty("payload").GetProperty("side").GetString() == "active")
                .GetProperty("payload").GetProperty("secret").GetProperty("token").GetString()!, Ct);
        Assert.True(confirmed.ActiveConfirmed);

        // And a second drain finds nothing
        var again = new StringWriter();
        Assert.Equal(0, (await DrainAsync(again)).Written);
        Assert.Equal(string.Empty, again.ToString());
    }

    [Fact]
    public async Task An_undispatched_event_is_listed_without_its_secret_and_marked_as_having_one()
    {
        await GivenTheWorldAsync();
        await ImportAsync(ExampleCsv);

        var pending = await Client.ListOutboxAsync(true, "reconciliation.confirm", null, 100, Ct);

        Assert.Equal(8, pending.Count);
        Assert.All(pending, e => Assert.True(e.HasSecret));
        Assert.All(pending, e => Assert.DoesNotContain("secret", e.Payload, StringComparison.Ordinal));
        await RefusedAsync(ErrorRegistry.OutboxInvalidArgument, () => Client.ListOutboxAsync(false, "reconciliation.confirm", null, 10, Ct));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_drainers_running_at_once_never_write_the_same_event_twice(bool readCommittedSnapshot)
    {
        // Given (with READ_COMMITTED_SNAPSHOT as given: the claim must skip and lock rows under row versioning too)
        // 400 undispatched events
        await GivenReadCommittedSnapshotAsync(readCommittedSnapshot);
        await SeedEventsAsync(400);

        // When two drainers run at once: the first one stops after its first line until the second has written one
        // (both are then in the middle of their work at the same time), then both go on until the outbox is empty
        var secondWrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstWrote = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new GatedWriter(onFirstLine: async () =>
        {
            firstWrote.TrySetResult();
            await secondWrote.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        });
        var second = new GatedWriter(onFirstLine: async () =>
        {
            await firstWrote.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            secondWrote.TrySetResult();
        });
        var drains = await Task.WhenAll(
            Task.Run(() => DrainAsync(first, batchSize: 7, claimedBy: "first"), Ct),
            Task.Run(() => DrainAsync(second, batchSize: 7, claimedBy: "second"), Ct));

        // Then both wrote, while both were running, and together they wrote every event exactly once
        Assert.True(firstWrote.Task.IsCompletedSuccessfully && secondWrote.Task.IsCompletedSuccessfully);
        var a = Lines(first.Text).Select(l => l.GetProperty("id").GetInt64()).ToList();
        var b = Lines(second.Text).Select(l => l.GetProperty("id").GetInt64()).ToList();
        Output.WriteLine($"first wrote {a.Count}, second wrote {b.Count}");
        Assert.NotEmpty(a);
        Assert.NotEmpty(b);
        Assert.Empty(a.Intersect(b));
        Assert.Equal(400, a.Concat(b).Distinct().Count());
        Assert.Equal(400, drains.Sum(d => d.Written));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE DispatchedAt IS NULL OR Attempts <> 1;"));
    }

    [Fact]
    public async Task An_event_claimed_but_never_marked_is_not_retried_before_the_retry_delay_and_is_retried_after_it()
    {
        // Given five events claimed by a drainer that died before writing them
        await SeedEventsAsync(5);
        var claimed = await Client.ClaimOutboxAsync(5, "test.event", "a drainer that dies", Ct);
        Assert.Equal(5, claimed.Count);

        // When another drainer runs at once, then it writes none of them
        var now = new StringWriter();
        Assert.Equal(0, (await DrainAsync(now)).Written);

        // When the retry delay (outbox.retry_delay_seconds, 300) has passed
        await ExecAsync("UPDATE dbmerge.Outbox SET ClaimedAt = DATEADD(SECOND, -301, ClaimedAt) WHERE EventType = 'test.event';");
        var later = new StringWriter();
        var report = await DrainAsync(later);

        // Then they are written, on their second attempt, and dispatched
        var lines = Lines(later.ToString());
        Assert.Equal(5, report.Written);
        Assert.Equal(5, lines.Count);
        Assert.All(lines, l => Assert.Equal(2, l.GetProperty("attempts").GetInt32()));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE DispatchedAt IS NULL;"));
    }

    [Fact]
    public async Task A_drainer_whose_consumer_stalls_past_the_retry_delay_leaves_its_batch_to_the_other_drainer_and_repeats_at_most_the_line_in_flight()
    {
        // Given a retry delay of 2 seconds (a setting is reference data, kept across resets: own database) and 5 events
        await UseOwnDatabaseAsync();
        await Client.SetSettingAsync(DbMergeSettingNames.OutboxRetryDelaySeconds, "2", Ct);
        await SeedEventsAsync(5);

        // When the first drainer claims all five, writes its first line, and its consumer then stalls on the second line
        // until that claim has lapsed and a second drainer has drained what it may take
        var secondDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stalled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new GatedWriter(onFirstLine: () => Task.CompletedTask, onSecondFlush: async () =>
        {
            stalled.TrySetResult();
            await secondDone.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        });
        var first = Task.Run(() => DrainAsync(slow, batchSize: 5, claimedBy: "slow"), Ct);
        await stalled.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        await WaitUntilAsync(async () => await ScalarAsync<int>("""
                SELECT IIF(SUM(IIF(DispatchedAt IS NOT NULL, 1, 0)) = 1
                           AND SUM(IIF(DispatchedAt IS NULL AND ClaimedAt < DATEADD(SECOND, -2, SYSUTCDATETIME()), 1, 0)) = 4, 1, 0)
                FROM dbmerge.Outbox;
                """) == 1,
            TimeSpan.FromSeconds(20), "the first line marked in the background, and the claim of the other four lapsed");
        var fast = new StringWriter();
        var second = await DrainAsync(fast, claimedBy: "fast");
        secondDone.TrySetResult();
        var slowReport = await first;

        // Then the first line was not repeated (it was marked while the consumer stalled); the second drainer wrote the
        // other four on their second attempt; the first drainer, back, started none of the three after the stalled one:
        // only the line that was in flight during the stall was written by both
        var a = Lines(slow.Text).Select(l => l.GetProperty("id").GetInt64()).ToList();
        var b = Lines(fast.ToString()).Select(l => l.GetProperty("id").GetInt64()).ToList();
        Output.WriteLine($"slow wrote [{string.Join(", ", a)}], deferred {slowReport.Deferred}; fast wrote [{string.Join(", ", b)}]");
        Assert.Equal(2, a.Count);
        Assert.Equal(4, b.Count);
        Assert.Equal([a[1]], a.Intersect(b));
        Assert.Equal((2, 3, 4), (slowReport.Written, slowReport.Deferred, second.Written));
        Assert.All(Lines(fast.ToString()), l => Assert.Equal(2, l.GetProperty("attempts").GetInt32()));
        Assert.Equal(5, a.Concat(b).Distinct().Count());
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE DispatchedAt IS NULL;"));
    }

    [Fact]
    public async Task A_drain_of_one_type_leaves_the_others_and_max_bounds_the_lines()
    {
        await GivenTheWorldAsync();
        await ImportAsync(ExampleCsv);
        await SeedEventsAsync(3);

        var output = new StringWriter();
        var report = await DrainAsync(output, max: 5, type: "reconciliation.confirm", batchSize: 2);

        Assert.Equal(5, report.Written);
        var lines = Lines(output.ToString());
        Assert.Equal(5, lines.Count);
        Assert.All(lines, l => Assert.Equal("reconciliation.confirm", l.GetProperty("type").GetString()));
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'reconciliation.confirm' AND DispatchedAt IS NULL;"));
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'test.event' AND DispatchedAt IS NULL AND ClaimedAt IS NULL;"));
    }

    [Fact]
    public async Task A_consumer_that_fails_part_way_leaves_the_written_events_dispatched_and_the_rest_for_a_retry()
    {
        await SeedEventsAsync(10);
        var failing = new GatedWriter(onFirstLine: () => Task.CompletedTask, failAfter: 3);

        await Assert.ThrowsAsync<IOException>(() => DrainAsync(failing, batchSize: 10));

        Assert.Equal(3, Lines(failing.Text).Count);
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE DispatchedAt IS NOT NULL;"));
        Assert.Equal(7, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE DispatchedAt IS NULL AND ClaimedAt IS NOT NULL;"));
    }

    /// <summary>
    /// A writer that runs <paramref name="onFirstLine"/> before its first line, can fail after some lines, and runs
    /// <paramref name="onSecondFlush"/> when its second line is flushed (a consumer that stalls on that line).
    /// </summary>
    private sealed class GatedWriter(Func<Task> onFirstLine, int? failAfter = null, Func<Task>? onSecondFlush = null) : TextWriter
    {
        private readonly StringBuilder _text = new();
        private int _lines;

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_text)
                {
                    return _text.ToString();
                }
            }
        }

        public override async Task WriteLineAsync(string? value)
        {
            if (_lines == 0)
            {
                await onFirstLine();
            }

            if (failAfter is { } limit && _lines >= limit)
            {
                throw new IOException("the consumer went away");
            }

            lock (_text)
            {
                _text.Append(value).Append('\n');
            }

            _lines++;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            _lines == 2 && onSecondFlush is not null ? onSecondFlush() : Task.CompletedTask;
    }
}
