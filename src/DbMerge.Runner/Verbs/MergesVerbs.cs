using System.CommandLine;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge merges …</c>: the history of user merges, sweeps and unmerges (dbmerge.MergeRun, dbmerge.MergeChange), and undo.</summary>
internal static class MergesVerbs
{
    public static Command Build(CliContext context)
    {
        var merges = new Command("merges", "History of user merges, sweeps and unmerges: every running, committed, dry-run, refused, failed, undone and abandoned run; undo a merge.");
        merges.Subcommands.Add(BuildList(context));
        merges.Subcommands.Add(BuildShow(context));
        merges.Subcommands.Add(MergesUndoVerb.Build(context));
        return merges;
    }

    private static Command BuildList(CliContext context)
    {
        var user = new Option<string?>("--user") { Description = "Only runs where this user (id or e-mail) was source or target." };
        var top = new Option<int>("--top") { Description = "At most this many runs, newest first.", DefaultValueFactory = _ => 100 };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("list", "List merge runs, newest first.") { user, top, connection, json };
        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var client = CommonOptions.Client(context, CommonOptions.ResolveConnection(context, parse.GetValue(connection)));
            int? userId = null;
            if (parse.GetValue(user) is { Length: > 0 } who)
            {
                userId = (await UsersVerbs.Resolve(client, "--user", who, cancellationToken)).UserId;
            }

            var runs = await client.ListMergeRunsAsync(userId, parse.GetValue(top), cancellationToken);
            if (parse.GetValue(json))
            {
                context.WriteJson(runs);
                return ExitCodes.Success;
            }

            context.Out.WriteLine($"{"run",8} {"kind",-7} {"status",-9} {"source",8} {"target",8} {"started (UTC)",-23} {"requested by",-20} reason");
            foreach (var r in runs)
            {
                var error = r.ErrorNumber is { } n ? $" [error {n}]" : string.Empty;
                var link = r.UndoesMergeRunId is { } undoes ? $" [undoes {undoes}]" : r.UndoneByMergeRunId is { } by ? $" [undone by {by}]" : string.Empty;
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{r.MergeRunId,8} {r.Kind,-7} {r.Status,-9} {r.SourceUserId,8} {r.TargetUserId,8} {r.StartedAt:yyyy-MM-dd HH:mm:ss.fff} {Truncate(r.RequestedBy, 20),-20} {r.Reason}{link}{error}"));
            }

            foreach (var r in runs.Where(r => r.Status == "abandoned"))
            {
                context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {r.MergeRunId}: {r.StatusDetail}"));
            }

            context.Error.WriteLine($"{runs.Count} run(s).");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildShow(CliContext context)
    {
        var runId = new Argument<long>("RUN_ID") { Description = "The merge run id (from 'users merge' or 'merges list')." };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("show", "Show one merge, sweep or unmerge run: who, when, why, outcome (abandoned or undone: how that is known), per-table summary (an unmerge: what it undid, or the rows in its way), journal counts, re-addressed e-mails.") { runId, connection, json };
        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var client = CommonOptions.Client(context, CommonOptions.ResolveConnection(context, parse.GetValue(connection)));
            var detail = await client.GetMergeRunAsync(parse.GetValue(runId), cancellationToken);
            if (parse.GetValue(json))
            {
                context.WriteJson(detail);
                return ExitCodes.Success;
            }

            var r = detail.Run;
            var kind = r.Kind switch { "sweep" => "Sweep", "unmerge" => "Unmerge", _ => "Merge" };
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind} run {r.MergeRunId}: {r.Status}{(r.IsDryRun ? " (dry run)" : string.Empty)}"));
            if (r.UndoesMergeRunId is { } undoes)
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  undoes        run {undoes}"));
            }
            if (r.StatusDetail is { } statusDetail)
            {
                context.Out.WriteLine($"  status        {statusDetail}");
            }

            context.Out.WriteLine($"  source user   {r.SourceUserId}");
            context.Out.WriteLine($"  target user   {r.TargetUserId}");
            context.Out.WriteLine($"  requested by  {r.RequestedBy}");
            context.Out.WriteLine($"  reason        {r.Reason}");
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  started       {r.StartedAt:yyyy-MM-dd HH:mm:ss.fff} UTC"));
            context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  finished      {r.FinishedAt:yyyy-MM-dd HH:mm:ss.fff} UTC"));
            if (r.ErrorNumber is { } number)
            {
                context.Out.WriteLine($"  error         {number}: {r.ErrorMessage}");
            }

            if (detail.Summary is { } summary)
            {
                MergeTables.Write(context.Out, summary);
            }

            if (detail.Unmerge is { } report)
            {
                UnmergeTables.Write(context.Out, report.Tables);
                if (report.ConflictCount > 0)
                {
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  in the way: {report.ConflictCount} row(s) no longer as the merge left them{(report.Conflicts.Count < report.ConflictCount ? $" (the first {report.Conflicts.Count})" : string.Empty)}:"));
                    foreach (var c in report.Conflicts)
                    {
                        context.Out.WriteLine($"    {c.SchemaName}.{c.TableName} {c.RowKey}: {c.Problem}");
                    }
                }
            }

            context.Out.WriteLine($"  journal: {detail.Journal.Sum(j => j.JournalRows)} change(s) by policy, {detail.LockedRows} user row lock(s)" +
                                  (detail.Journal.Count == 0 ? string.Empty : ": " + string.Join(", ", detail.Journal.Select(j => $"{j.TableName}.{j.ColumnName} {j.Action} {j.JournalRows}"))));
            foreach (var a in detail.Addresses)
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  re-addressed  {a.SchemaName}.{a.TableName}.{a.ColumnName} {a.Address}: {a.Rows} row(s){(a.HeldByUserId is { } holder ? $" — WARNING: active user {holder} holds this address" : string.Empty)}"));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
