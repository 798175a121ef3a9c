using System.CommandLine;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge merges undo RUN_ID</c>: undoes a committed merge or sweep (api.User_Unmerge) — on a terminal after a dry run
/// and a confirmation, like <c>users merge</c> — then verifies, independently of the procedure, that every row the run
/// journaled is back (<see cref="DbMergeClient.VerifyUnmergeAsync"/>).
/// </summary>
internal static class MergesUndoVerb
{
    public static Command Build(CliContext context)
    {
        var runId = new Argument<long>("RUN_ID") { Description = "The committed merge (or sweep) run to undo (from 'users merge' or 'merges list')." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Do the whole undo and roll it back; print what it would restore." };
        var reason = new Option<string?>("--reason") { Description = "Why the merge is undone (kept in the history; at most 400 characters); default names the command." };
        var lockTimeout = UsersVerbs.LockTimeoutOption();
        var batchSize = UsersVerbs.BatchSizeOption();
        var maxDuration = UsersVerbs.MaxDurationOption();
        var connection = CommonOptions.Connection();
        var yes = CommonOptions.Yes();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();

        var command = new Command("undo",
            "Undo a committed merge or sweep in one transaction (api.User_Unmerge): every row it changed or deleted is restored " +
            "to its image before the run, the source is active again. Refused, changing nothing, when a later change would be " +
            "overwritten (a row changed since, a later merge of either user, the source's e-mail taken). Without --yes: on a " +
            "terminal the dry run is shown and confirmation asked; otherwise only a dry run is done. An undo is verified " +
            "afterwards (every journaled row compared with its image before the run). Operators only.")
        {
            runId, dryRun, reason, lockTimeout, batchSize, maxDuration, connection, yes, json, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var client = CommonOptions.Client(context, connectionString);
            var mergeRunId = parse.GetValue(runId);
            var run = (await client.GetMergeRunAsync(mergeRunId, cancellationToken)).Run;
            var reasonText = string.IsNullOrWhiteSpace(parse.GetValue(reason))
                ? string.Create(CultureInfo.InvariantCulture, $"dbmerge merges undo {mergeRunId}")
                : parse.GetValue(reason)!.Trim();
            var timeout = TimeSpan.FromMilliseconds(parse.GetValue(lockTimeout));
            var rows = parse.GetValue(batchSize);
            var budget = TimeSpan.FromMilliseconds(parse.GetValue(maxDuration));

            var mode = UsersVerbs.DecideMode(parse.GetValue(dryRun), parse.GetValue(yes), context.IsInteractive);
            if (mode == UsersVerbs.MergeMode.DryRunBecauseNotInteractive)
            {
                context.Error.WriteLine("dbmerge: not interactive and no --yes: doing a dry run only (nothing will change). Pass --yes to undo.");
            }

            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Undoing {run.Kind} run {run.MergeRunId} ({run.Status}: user {run.SourceUserId} into user {run.TargetUserId}, {run.FinishedAt:yyyy-MM-dd HH:mm:ss} UTC) on {CommonOptions.DescribeTarget(connectionString)}."));

            if (mode == UsersVerbs.MergeMode.AskAfterDryRun)
            {
                var preview = await client.UnmergeAsync(mergeRunId, reasonText, null, true, cancellationToken, timeout, rows, budget);
                WriteSummary(context.Error, preview, run);
                if (!context.Confirm(string.Create(CultureInfo.InvariantCulture, $"Undo run {mergeRunId} as shown (user {run.SourceUserId} becomes active again)?")))
                {
                    context.Error.WriteLine("dbmerge: not confirmed; nothing was changed.");
                    return ExitCodes.NotConfirmed;
                }
            }

            var isDryRun = mode is UsersVerbs.MergeMode.DryRun or UsersVerbs.MergeMode.DryRunBecauseNotInteractive;
            var result = await client.UnmergeAsync(mergeRunId, reasonText, null, isDryRun, cancellationToken, timeout, rows, budget);
            UnmergeVerification? verification = isDryRun ? null : await client.VerifyUnmergeAsync(result.UnmergeRunId, cancellationToken);
            var users = new List<UserAccount>();
            if (!isDryRun)
            {
                foreach (var id in new[] { run.SourceUserId, run.TargetUserId }.OfType<int>())
                {
                    users.AddRange(await client.FindUsersAsync(id, null, cancellationToken));
                }
            }

            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    result.UnmergeRunId,
                    result.MergeRunId,
                    result.DryRun,
                    run.SourceUserId,
                    run.TargetUserId,
                    result.Tables,
                    result.ChangesUndone,
                    Users = users,
                    Verified = verification?.Verified,
                    RowsCompared = verification?.RowsCompared,
                    Problems = verification?.Problems,
                });
            }
            else
            {
                WriteSummary(context.Out, result, run);
                foreach (var user in users)
                {
                    context.Out.WriteLine($"  now: {DbMergeClient.Describe(user)}");
                }

                if (verification is not null)
                {
                    context.Out.WriteLine(verification.Verified
                        ? string.Create(CultureInfo.InvariantCulture, $"verified: all {verification.RowsCompared} row(s) run {mergeRunId} journaled are back to their images before it (every stored column compared), and run {mergeRunId} shows as undone by run {result.UnmergeRunId}.")
                        : "NOT verified:");
                    foreach (var problem in verification.Problems)
                    {
                        context.Out.WriteLine($"  - {problem}");
                    }
                }
            }

            return verification is { Verified: false } ? ExitCodes.Findings : ExitCodes.Success;
        }, "An undo runs in one transaction: an undo that was running is rolled back (its run is recorded as failed) or had " +
           "already committed; 'dbmerge merges show RUN_ID' shows which (undone, and by which run).");

        return command;
    }

    internal static void WriteSummary(TextWriter writer, UnmergeResult result, MergeRunInfo run)
    {
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Unmerge run {result.UnmergeRunId}{(result.DryRun ? " (DRY RUN, rolled back)" : string.Empty)}: undoes {run.Kind} run {result.MergeRunId} (user {run.SourceUserId} into user {run.TargetUserId})"));
        UnmergeTables.Write(writer, result.Tables);
        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"changes {(result.DryRun ? "that would be undone" : "undone")}: {result.ChangesUndone}"));
    }
}

/// <summary>Text table of an unmerge report, shared by <c>merges undo</c>, <c>merges show</c> and <c>demo</c>.</summary>
internal static class UnmergeTables
{
    public static void Write(TextWriter writer, IEnumerable<UnmergeTableSummary> tables)
    {
        writer.WriteLine($"  {"table",-26} {"column",-17} {"policy",-17} {"moved",8} {"merged",8} {"deleted",8} {"locked",8}   (the run's changes undone)");
        foreach (var t in tables)
        {
            writer.WriteLine($"  {t.SchemaName + "." + t.TableName,-26} {t.ColumnName,-17} {t.Policy,-17} {t.Moved,8} {t.Merged,8} {t.Deleted,8} {t.Locked,8}");
        }
    }
}
