using System.CommandLine;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Outbox;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge outbox drain|list</c>: the side effects DbMerge's procedures write to dbmerge.Outbox in their own
/// transactions (confirmation e-mails, collaboration resets, …), handed to a mailer as JSON lines (README, "Outbox").
/// </summary>
internal static class OutboxVerbs
{
    public static Command Build(CliContext context)
    {
        var outbox = new Command("outbox",
            "The outbox: events written in the same transaction as the change that causes them; drain them to a mailer as JSON lines, or list them.");
        outbox.Subcommands.Add(BuildDrain(context));
        outbox.Subcommands.Add(BuildList(context));
        return outbox;
    }

    private static Command BuildDrain(CliContext context)
    {
        var max = new Option<int?>("--max") { Description = "Write at most this many events (default: until no undispatched event is left)." };
        var type = new Option<string?>("--type") { Description = "Only events of this type (e.g. reconciliation.confirm)." };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = $"Events per claim, 1..{DbMergeClient.OutboxMaxBatch}.",
            DefaultValueFactory = _ => OutboxDrainer.DefaultBatchSize,
        };
        var connection = CommonOptions.Connection();
        var verbose = CommonOptions.Verbose();
        var json = new Option<bool>("--json")
        {
            Description = "Write the closing summary to stderr as JSON ({written, marked, deferred, stopped}); stdout is JSON lines (one event each) either way.",
        };
        var command = new Command("drain",
            "Write undispatched events to stdout as JSON lines ({id, type, dedupeKey, createdAt, attempts, payload}) for a mailer, oldest first, " +
            "marking each dispatched only after its line is written and flushed (at-least-once: discard repeats by dedupeKey). Dispatching erases a " +
            "payload's secret (a confirmation token): stdout is the one place a token leaves the database. Several drainers may run at once; an event " +
            "claimed but never marked (a crash) is retried after outbox.retry_delay_seconds. Progress and the summary go to stderr.")
        {
            max, type, batchSize, connection, verbose, json,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            if (parse.GetValue(max) is < 1)
            {
                throw new CliException(ExitCodes.Usage, $"--max must be at least 1 (got {parse.GetValue(max)}).");
            }

            if (parse.GetValue(batchSize) is < 1 or > DbMergeClient.OutboxMaxBatch)
            {
                throw new CliException(ExitCodes.Usage, $"--batch-size must be between 1 and {DbMergeClient.OutboxMaxBatch} (got {parse.GetValue(batchSize)}).");
            }

            if (parse.GetValue(type) is { } t && string.IsNullOrWhiteSpace(t))
            {
                throw new CliException(ExitCodes.Usage, "--type must not be blank.");
            }

            var client = ReconciliationsVerbs.NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var lastShown = 0;
            var report = await new OutboxDrainer(client).DrainAsync(context.Out, parse.GetValue(max), parse.GetValue(type), parse.GetValue(batchSize),
                ClaimedBy(), written =>
                {
                    if (written - lastShown >= 1000)
                    {
                        lastShown = written;
                        context.Error.WriteLine($"outbox drain: {written:N0} event(s) written");
                    }
                }, ct).ConfigureAwait(false);
            context.Error.WriteLine(parse.GetValue(json)
                ? System.Text.Json.JsonSerializer.Serialize(
                    new { written = report.Written, marked = report.Marked, deferred = report.Deferred, stopped = report.Stopped }, CliContext.JsonOptions)
                : $"dbmerge: {report.Written} event(s) written, {report.Marked} marked dispatched" +
                  (report.Deferred > 0 ? $", {report.Deferred} left claimed (written too slowly: claimed again after outbox.retry_delay_seconds)" : string.Empty) +
                  $"{(report.Stopped ? "; stopped" : string.Empty)}.");
            return report.Stopped ? ExitCodes.NotConfirmed : ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildList(CliContext context)
    {
        var pending = new Option<bool>("--pending") { Description = "Only undispatched events." };
        var type = new Option<string?>("--type") { Description = "Only events of this type (needs --pending)." };
        var before = new Option<long?>("--before") { Description = "Start before this event id (the next page: the last id shown)." };
        var top = new Option<int>("--top") { Description = "At most this many events, 1..1000.", DefaultValueFactory = _ => 50 };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("list",
            "List outbox events, newest first, with their claim and dispatch state. Payloads are shown without their secret (a token is never listed).")
        {
            pending, type, before, top, connection, json,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(type) is not null && !result.GetValue(pending))
            {
                result.AddError("--type needs --pending (only undispatched events are indexed by type).");
            }
        });
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            if (parse.GetValue(top) is < 1 or > 1000)
            {
                throw new CliException(ExitCodes.Usage, $"--top must be between 1 and 1000 (got {parse.GetValue(top)}).");
            }

            var client = ReconciliationsVerbs.NewClient(context, parse.GetValue(connection), verbose: false);
            var entries = await client.ListOutboxAsync(parse.GetValue(pending), parse.GetValue(type), parse.GetValue(before), parse.GetValue(top), ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    events = entries.Select(e => new
                    {
                        id = e.OutboxId,
                        type = e.EventType,
                        e.DedupeKey,
                        createdAt = OutboxDrainer.Utc(e.CreatedAt),
                        claimedAt = e.ClaimedAt is { } c ? OutboxDrainer.Utc(c) : null,
                        e.ClaimedBy,
                        e.Attempts,
                        dispatchedAt = e.DispatchedAt is { } d ? OutboxDrainer.Utc(d) : null,
                        e.HasSecret,
                        payload = System.Text.Json.JsonDocument.Parse(e.Payload).RootElement,
                    }),
                });
                return ExitCodes.Success;
            }

            if (entries.Count == 0)
            {
                context.Out.WriteLine("No outbox event matches.");
                return ExitCodes.Success;
            }

            var table = new TextTable("id", "type", "created", "state", "attempts", "payload");
            foreach (var e in entries)
            {
                var state = e.DispatchedAt is { } d ? $"dispatched {OutboxDrainer.Utc(d)}"
                    : e.ClaimedAt is { } c ? $"claimed {OutboxDrainer.Utc(c)}"
                    : "pending";
                table.Add(e.OutboxId, e.EventType, OutboxDrainer.Utc(e.CreatedAt), state, e.Attempts,
                    e.HasSecret ? $"{e.Payload} (+ secret, hidden)" : e.Payload);
            }

            table.WriteTo(context.Out);
            if (entries.Count == parse.GetValue(top))
            {
                context.Out.WriteLine($"(more may follow: --before {entries[^1].OutboxId})");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Who claims: login, machine and process, for ClaimedBy (never the connection string).</summary>
    internal static string ClaimedBy() => $"{Environment.UserName}@{Environment.MachineName}:{Environment.ProcessId}";
}
