using System.CommandLine;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Reconciliation;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge reconciliations import|confirm|process|list|show|cancel</c>: people who hold two accounts, imported from a
/// CSV, confirmed by both addresses with one-time tokens, and merged one request at a time (README, "Reconciliation
/// requests"). The workflow: import → (the mailer sends the confirmation events: <c>dbmerge outbox drain</c>) →
/// confirm (the application, or support staff here) → process.
/// </summary>
internal static class ReconciliationsVerbs
{
    public static Command Build(CliContext context)
    {
        var reconciliations = new Command("reconciliations",
            "Reconciliation requests: import a CSV of people with two accounts, confirm both addresses with their one-time tokens, " +
            "merge each confirmed pair on its own, and follow them (list, show, cancel).");
        reconciliations.Subcommands.Add(BuildImport(context));
        reconciliations.Subcommands.Add(BuildConfirm(context));
        reconciliations.Subcommands.Add(BuildProcess(context));
        reconciliations.Subcommands.Add(BuildList(context));
        reconciliations.Subcommands.Add(BuildShow(context));
        reconciliations.Subcommands.Add(BuildCancel(context));
        return reconciliations;
    }

    // ---- import -----------------------------------------------------------------------------------------------

    private static Command BuildImport(CliContext context)
    {
        var file = new Argument<string>("file")
        {
            Description = "The CSV: header id,active_email,inactive_email (other columns ignored); inactive_email may list several addresses separated by |.",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Decide every row's outcome and write nothing (no request, no token, no event)." };
        var errors = new Option<string?>("--errors")
        {
            Description = "Write the rejected rows (conflict, error) to this CSV with a reason column; fix them and import that file again.",
        };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = $"Rows per round trip (one table-valued parameter each), 1..{DbMergeClient.ReconciliationImportMaxBatch}.",
            DefaultValueFactory = _ => ReconciliationImporter.DefaultBatchSize,
        };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var command = new Command("import",
            "Import a reconciliation CSV: every (line, inactive address) gets an outcome — created, duplicate, conflict or error with its reason — " +
            "and bad rows never fail the import. Each created request sends a confirmation with a one-time token to both addresses (outbox events). " +
            "The file is recorded once, by its SHA-256: importing it again changes nothing; an interrupted import resumes. " +
            "Exit 0: no rejected row; 1: some rows were rejected; 6: stopped (run again to resume).")
        {
            file, dryRun, errors, batchSize, connection, json, verbose,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            if (parse.GetValue(batchSize) is < 1 or > DbMergeClient.ReconciliationImportMaxBatch)
            {
                throw new CliException(ExitCodes.Usage, $"--batch-size must be between 1 and {DbMergeClient.ReconciliationImportMaxBatch} (got {parse.GetValue(batchSize)}).");
            }

            var path = parse.GetValue(file)!;
            var csv = ReadFile(path);
            var client = NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var isDryRun = parse.GetValue(dryRun);
            var report = await ProgressReporter.Create(context).RunAsync(async scope =>
            {
                var task = scope.AddTask($"{(isDryRun ? "dry run of " : string.Empty)}{csv.FileName}", csv.Pairs.Count);
                var result = await new ReconciliationImporter(client).ImportAsync(csv, isDryRun, parse.GetValue(batchSize), null, task, ct)
                    .ConfigureAwait(false);
                task.Complete(result.Stopped ? "stopped" : $"{result.Count(ReconciliationOutcomes.Created)} created, {result.Failures.Count()} rejected");
                return result;
            }).ConfigureAwait(false);

            if (parse.GetValue(errors) is { } errorsPath)
            {
                var written = ReconciliationImporter.WriteErrors(errorsPath, report.Failures);
                context.Error.WriteLine($"dbmerge: wrote {written} rejected row(s) to {errorsPath}.");
            }

            if (parse.GetValue(json))
            {
                context.WriteJson(ImportJson(report));
            }
            else
            {
                WriteImport(context.Out, report);
            }

            if (report.Stopped)
            {
                context.Error.WriteLine($"dbmerge: stopped after {report.Pairs.Count} of {csv.Pairs.Count} pairs; run the same command again to resume.");
                return ExitCodes.NotConfirmed;
            }

            return report.Failures.Any() ? ExitCodes.Findings : ExitCodes.Success;
        });
        return command;
    }

    private static ReconciliationCsvFile ReadFile(string path)
    {
        try
        {
            return ReconciliationCsv.Read(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CliException(ExitCodes.Usage, $"no such file: {path}");
        }
        catch (ReconciliationCsvException ex)
        {
            throw new CliException(ExitCodes.Usage, ex.Message);
        }
    }

    internal static void WriteImport(TextWriter output, ReconciliationImportReport report)
    {
        var file = report.File;
        var sha = Convert.ToHexStringLower(file.Sha256);
        if (report.DryRun)
        {
            output.WriteLine($"Dry run of {file.FileName} (sha256 {sha}): {file.RowCount} row(s), {file.Pairs.Count} pair(s); nothing was written.");
        }
        else if (report.Import is { } import)
        {
            output.WriteLine(report.AlreadyImported
                ? $"{file.FileName} (sha256 {sha}) was already imported as import {import.ImportId} by {import.ImportedBy} at {Utc(import.StartedAt)}: nothing changed."
                : $"Import {import.ImportId} of {file.FileName} (sha256 {sha}): {file.RowCount} row(s), {file.Pairs.Count} pair(s){(import.IsCompleted ? ", completed" : ", incomplete")}.");
        }

        var table = new TextTable("outcome", "pairs");
        foreach (var outcome in ReconciliationOutcomes.All)
        {
            table.Add(report.DryRun && outcome == ReconciliationOutcomes.Created ? "created (would be)" : outcome, report.Count(outcome));
        }

        table.WriteTo(output);
        var failures = report.Failures.ToList();
        if (failures.Count > 0)
        {
            output.WriteLine();
            var rejected = new TextTable("line", "id", "inactive_email", "outcome", "reason");
            foreach (var f in failures.Take(50))
            {
                rejected.Add(f.Row.LineNumber, f.Row.SourceId, f.Row.InactiveEmail, f.Outcome, f.Reason);
            }

            rejected.WriteTo(output);
            if (failures.Count > 50)
            {
                output.WriteLine($"… and {failures.Count - 50} more (use --errors FILE to get them all).");
            }
        }
    }

    private static object ImportJson(ReconciliationImportReport report) => new
    {
        file = report.File.FileName,
        sha256 = Convert.ToHexStringLower(report.File.Sha256),
        rows = report.File.RowCount,
        pairs = report.File.Pairs.Count,
        report.DryRun,
        report.AlreadyImported,
        report.Stopped,
        import = report.Import is { } i
            ? new { i.ImportId, i.ImportedBy, startedAt = Utc(i.StartedAt), completedAt = i.CompletedAt is { } c ? Utc(c) : null }
            : null,
        counts = ReconciliationOutcomes.All.ToDictionary(o => o, report.Count),
        outcomes = report.Pairs.Select(p => new
        {
            line = p.Row.LineNumber,
            pair = p.Row.PairNumber,
            id = p.Row.SourceId,
            activeEmail = p.Row.ActiveEmail,
            inactiveEmail = p.Row.InactiveEmail,
            outcome = p.Outcome,
            reason = p.Reason,
            requestId = p.RequestId,
            p.WasRecorded,
        }),
    };

    // ---- confirm ----------------------------------------------------------------------------------------------

    private static Command BuildConfirm(CliContext context)
    {
        var token = new Argument<string>("token")
        {
            Description = "The one-time token of one side (64 hexadecimal characters, from the confirmation e-mail), or - to read it from stdin (keeps it out of the shell history).",
        };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("confirm",
            "Confirm one side of a reconciliation request with its one-time token (api.Reconciliation_Confirm, as the application's confirmation page does). " +
            "Both sides confirmed: the request is ready. A wrong, used or expired token is refused (51510/51511/51512, exit 4); the token is never printed.")
        {
            token, connection, json,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var value = parse.GetValue(token)!;
            if (value == "-")
            {
                value = context.ReadLine()?.Trim() ?? string.Empty;
            }

            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            var confirmed = await client.ConfirmReconciliationAsync(value, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(confirmed);
            }
            else
            {
                var other = confirmed.Side == "active" ? "inactive" : "active";
                context.Out.WriteLine(confirmed.BecameReady
                    ? $"Request {confirmed.RequestId}: the {confirmed.Side} side is confirmed; both sides are confirmed, the request is ready to be processed."
                    : $"Request {confirmed.RequestId}: the {confirmed.Side} side is confirmed; waiting for the {other} side.");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    // ---- process ----------------------------------------------------------------------------------------------

    private static Command BuildProcess(CliContext context)
    {
        var max = new Option<int?>("--max") { Description = "Process at most this many requests (default: every ready request)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Merge each ready request and roll it back: nothing changes, the summary is the same." };
        var retryErrors = new Option<bool>("--retry-errors")
        {
            Description = "After the ready requests, retry the requests in error once (their cause fixed, e.g. a refused collision resolved by hand).",
        };
        var lockTimeout = new Option<int>("--lock-timeout-ms")
        {
            Description = "How long each merge waits for another merge holding one of its users (milliseconds); a timeout records error 51108 on that request.",
            DefaultValueFactory = _ => (int)DbMergeClient.DefaultMergeLockTimeout.TotalMilliseconds,
        };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var command = new Command("process",
            "Merge every ready request, each in its own transaction (the inactive account into the active one, through the merge core, with the request id as the reason): " +
            "done with its merge run, or error with the error number and message, recorded after the rollback so one failure never affects another. " +
            "Several processors may run at once; none takes a request another holds. Exit 0: all done (or nothing to do); 1: some requests failed; 6: stopped (Ctrl+C, after the current request).")
        {
            max, dryRun, retryErrors, lockTimeout, connection, json, verbose,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            if (parse.GetValue(max) is < 1)
            {
                throw new CliException(ExitCodes.Usage, $"--max must be at least 1 (got {parse.GetValue(max)}).");
            }

            if (parse.GetValue(lockTimeout) is < 0 or > 600_000)
            {
                throw new CliException(ExitCodes.Usage, $"--lock-timeout-ms must be between 0 and 600000 (got {parse.GetValue(lockTimeout)}).");
            }

            var client = NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var options = new ReconciliationProcessor.Options(parse.GetValue(max), parse.GetValue(dryRun), parse.GetValue(retryErrors),
                TimeSpan.FromMilliseconds(parse.GetValue(lockTimeout)), null);
            var counts = await client.CountReconciliationsAsync(null, ct).ConfigureAwait(false);
            var waiting = counts.Where(c => c.Status == ReconciliationStatuses.Ready || (options.RetryErrors && c.Status == ReconciliationStatuses.Error))
                .Sum(c => c.Requests);
            var total = Math.Max(1, options.Max is { } m ? Math.Min(m, waiting) : waiting);
            var report = await ProgressReporter.Create(context).RunAsync(async scope =>
            {
                var task = scope.AddTask(options.DryRun ? "dry run of ready requests" : "processing ready requests", total);
                var seen = 0;
                var failed = 0;
                var result = await new ReconciliationProcessor(client).RunAsync(options, r =>
                {
                    seen++;
                    failed += r.Succeeded ? 0 : 1;
                    task.Update(seen, Math.Max(total, seen), $"request {r.RequestId}: {(r.Succeeded ? "done" : $"error {r.ErrorNumber}")} ({failed} failed)");
                }, ct).ConfigureAwait(false);
                task.Complete(result.Stopped ? $"stopped after {seen}" : $"{result.Done} done, {result.Failed} failed");
                return result;
            }).ConfigureAwait(false);

            if (parse.GetValue(json))
            {
                context.WriteJson(ProcessJson(report));
            }
            else
            {
                WriteProcess(context.Out, report);
            }

            return report.Stopped ? ExitCodes.NotConfirmed : report.Failed > 0 ? ExitCodes.Findings : ExitCodes.Success;
        });
        return command;
    }

    internal static void WriteProcess(TextWriter output, ReconciliationProcessReport report)
    {
        var done = report.DryRun ? "dry run (rolled back)" : "done";
        if (report.Expired > 0 || report.Abandoned > 0)
        {
            output.WriteLine($"Sweeps: {report.Expired} request(s) expired, {report.Abandoned} abandoned claim(s) recorded as error 51522.");
        }

        new TextTable("outcome", "requests")
            .Add(done, report.Done)
            .Add("error", report.Failed)
            .WriteTo(output);
        if (report.Requests.Count == 0)
        {
            output.WriteLine("No request was ready.");
            return;
        }

        output.WriteLine();
        var table = new TextTable("request", "id", "inactive → active", "outcome", "merge run / error");
        foreach (var r in report.Requests)
        {
            table.Add(r.RequestId, r.SourceId, $"{r.InactiveEmail} → {r.ActiveEmail}", r.Succeeded ? done : "error",
                r.Result is { } result ? $"run {result.MergeRunId}, {result.RowsChanged} row(s) changed" : $"{r.ErrorNumber}: {r.ErrorMessage}");
        }

        table.WriteTo(output);
    }

    private static object ProcessJson(ReconciliationProcessReport report) => new
    {
        report.DryRun,
        report.Stopped,
        report.Expired,
        report.Abandoned,
        report.Done,
        report.Failed,
        requests = report.Requests.Select(r => new
        {
            r.RequestId,
            id = r.SourceId,
            r.ActiveEmail,
            r.InactiveEmail,
            retry = r.IsRetry,
            outcome = r.Succeeded ? (report.DryRun ? "dry-run" : ReconciliationStatuses.Done) : ReconciliationStatuses.Error,
            mergeRunId = r.Result?.MergeRunId,
            rowsChanged = r.Result?.RowsChanged,
            r.ErrorNumber,
            r.ErrorMessage,
        }),
    };

    // ---- list, show, cancel -----------------------------------------------------------------------------------

    private static Command BuildList(CliContext context)
    {
        var status = new Option<string?>("--status") { Description = "Only requests in this status: " + string.Join(", ", ReconciliationStatuses.All) + "." };
        status.AcceptOnlyFromAmong([.. ReconciliationStatuses.All]);
        var import = new Option<int?>("--import") { Description = "Only the requests of this import (its id, printed by import)." };
        var after = new Option<int>("--after") { Description = "Start after this request id (the next page: the last id shown).", DefaultValueFactory = _ => 0 };
        var top = new Option<int>("--top") { Description = "At most this many requests, 1..1000.", DefaultValueFactory = _ => 100 };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("list", "List reconciliation requests by ascending id (a page at a time), with the number of requests in each status.")
        {
            status, import, after, top, connection, json,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            if (parse.GetValue(top) is < 1 or > 1000 || parse.GetValue(after) < 0)
            {
                throw new CliException(ExitCodes.Usage, $"--top must be between 1 and 1000 and --after at least 0 (got {parse.GetValue(top)}, {parse.GetValue(after)}).");
            }

            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            var requests = await client.ListReconciliationsAsync(parse.GetValue(status), parse.GetValue(import), parse.GetValue(after), parse.GetValue(top), ct)
                .ConfigureAwait(false);
            var counts = await client.CountReconciliationsAsync(parse.GetValue(import), ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { requests, counts });
                return ExitCodes.Success;
            }

            if (requests.Count == 0)
            {
                context.Out.WriteLine("No reconciliation request matches.");
            }
            else
            {
                var table = new TextTable("request", "import", "line", "id", "inactive → active", "status", "confirmed", "merge run / error");
                foreach (var r in requests)
                {
                    var confirmed = $"{(r.ActiveConfirmedAt is null ? "-" : "A")}{(r.InactiveConfirmedAt is null ? "-" : "I")}";
                    table.Add(r.RequestId, r.ImportId, r.LineNumber, r.SourceId, $"{r.InactiveEmail} → {r.ActiveEmail}", r.Status, confirmed,
                        r.MergeRunId is { } run && r.Status == ReconciliationStatuses.Done ? $"run {run}" : r.ErrorNumber is { } n ? $"{n}" : string.Empty);
                }

                table.WriteTo(context.Out);
                if (requests.Count == parse.GetValue(top))
                {
                    context.Out.WriteLine($"(more may follow: --after {requests[^1].RequestId})");
                }
            }

            context.Out.WriteLine();
            var summary = new TextTable("status", "requests");
            foreach (var c in counts)
            {
                summary.Add(c.Status, c.Requests);
            }

            summary.WriteTo(context.Out);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildShow(CliContext context)
    {
        var id = new Argument<int>("request") { Description = "The request id (from import, list or process)." };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("show", "Show one reconciliation request: its pair, status, confirmations, claim, merge run and last error (never a token).")
        {
            id, connection, json,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            var r = await client.GetReconciliationAsync(parse.GetValue(id), ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(r);
                return ExitCodes.Success;
            }

            var o = context.Out;
            o.WriteLine($"Request {r.RequestId}: {r.Status}{(r.PreviousStatus is null ? string.Empty : $" (was {r.PreviousStatus})")} since {Utc(r.StatusChangedAt)}");
            o.WriteLine($"  import      {r.ImportId} ({r.FileName}, by {r.ImportedBy}), line {r.LineNumber}, pair {r.PairNumber}, id {r.SourceId}");
            o.WriteLine($"  inactive    {r.InactiveEmail} (user {r.InactiveUserId}){Confirmed(r.InactiveConfirmedAt)}");
            o.WriteLine($"  active      {r.ActiveEmail} (user {r.ActiveUserId}){Confirmed(r.ActiveConfirmedAt)}");
            o.WriteLine($"  created     {Utc(r.CreatedAt)}; tokens expire {Utc(r.ExpiresAt)}");
            if (r.ClaimedAt is { } claimed)
            {
                o.WriteLine($"  claimed     {Utc(claimed)} by {r.ClaimedBy} (attempt {r.Attempts})");
            }

            if (r.MergeRunId is { } run)
            {
                o.WriteLine($"  merge run   {run} (dbmerge merges show {run})");
            }

            if (r.ErrorNumber is { } number)
            {
                o.WriteLine($"  error       {number}: {r.ErrorMessage}");
            }

            if (r.CancelledBy is not null)
            {
                o.WriteLine($"  cancelled   by {r.CancelledBy}{(r.CancelReason is null ? string.Empty : $": {r.CancelReason}")}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCancel(CliContext context)
    {
        var id = new Argument<int>("request") { Description = "The request id." };
        var reason = new Option<string?>("--reason") { Description = "Why (kept on the request; at most 400 characters)." };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var yes = CommonOptions.Yes();
        var command = new Command("cancel",
            "Cancel a pending-confirmation or ready request: its tokens stop working and it is never merged (51521 for any other status). " +
            "Asks for confirmation on a terminal; without one --yes is required (else exit 6).")
        {
            id, reason, connection, json, yes,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var requestId = parse.GetValue(id);
            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            if (!parse.GetValue(yes) && !context.Confirm($"Cancel reconciliation request {requestId}? It will never be merged."))
            {
                context.Error.WriteLine(context.IsInteractive
                    ? "dbmerge: not confirmed; nothing was changed."
                    : "dbmerge: not interactive: pass --yes to cancel; nothing was changed.");
                return ExitCodes.NotConfirmed;
            }

            var cancelled = await client.CancelReconciliationAsync(requestId, parse.GetValue(reason), null, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(cancelled);
            }
            else
            {
                context.Out.WriteLine($"Request {cancelled.RequestId} is cancelled (was {cancelled.PreviousStatus}).");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    // ---- support ----------------------------------------------------------------------------------------------

    /// <summary>A client whose --verbose server messages are masked (a token must never reach a log).</summary>
    internal static DbMergeClient NewClient(CliContext context, string? connectionOption, bool verbose) =>
        new(new DbMergeClientOptions
        {
            ConnectionString = CommonOptions.ResolveConnection(context, connectionOption),
            InfoMessage = verbose ? m => context.Error.WriteLine($"[server] {SecretMask.Apply(m)}") : null,
        });

    internal static string Utc(DateTime value) =>
        DateTime.SpecifyKind(value, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Confirmed(DateTime? at) => at is { } t ? $", confirmed {Utc(t)}" : ", not confirmed";
}
