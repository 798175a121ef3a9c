using System.CommandLine;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge users sweep [--user ID|EMAIL] [--max N] [--dry-run] [--json]</c>: re-points late references — rows the
/// application wrote after a merge committed that still reference the merged-away user — with api.User_Sweep, one user
/// per transaction (the same generated policy code as the merge). Without --user it sweeps the first --max merged-away
/// users that have late references (api.User_LateReferenceUsers). Idempotent; progress on stderr.
/// Exit 0 when every user was swept; 4 when a sweep was refused; 7 when one hit a lock timeout (the others still run).
/// </summary>
internal static class UsersSweepVerb
{
    public static Command Build(CliContext context)
    {
        var user = new Option<string?>("--user") { Description = "Sweep only this merged-away user (an id or an e-mail)." };
        var max = new Option<int>("--max")
        {
            Description = "Without --user: at most this many merged-away users with late references, 1..100000.",
            DefaultValueFactory = _ => 100,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Do each sweep and roll it back; print what it would do." };
        var lockTimeout = UsersVerbs.LockTimeoutOption();
        var batchSize = UsersVerbs.BatchSizeOption();
        var maxDuration = UsersVerbs.MaxDurationOption();
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var command = new Command("sweep",
            "Re-point late references (rows written after a merge committed that still reference, or are addressed to, the merged-away " +
            "user) to the user it was merged into, one user per transaction, with the merge's own policy code (api.User_Sweep). " +
            "Idempotent: a user with nothing left reports zeros.")
        {
            user, max, dryRun, lockTimeout, batchSize, maxDuration, connection, json, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var top = parse.GetValue(max);
            if (top is < 1 or > 100_000)
            {
                throw new CliException(ExitCodes.Usage, "--max must be 1..100000.");
            }

            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var client = new DbMergeClient(new DbMergeClientOptions
            {
                ConnectionString = connectionString,
                InfoMessage = parse.GetValue(verbose) ? m => context.Error.WriteLine($"[server] {m}") : null,
            });

            List<int> users;
            if (parse.GetValue(user) is { Length: > 0 } who)
            {
                var account = await UsersVerbs.Resolve(client, "--user", who, cancellationToken);
                if (account.MergedIntoUserId is null)
                {
                    throw new CliException(ExitCodes.Usage, $"--user: {DbMergeClient.Describe(account)} is not merged away; only a merged-away user has late references.");
                }

                users = [account.UserId];
            }
            else
            {
                users = (await client.ListLateReferenceUsersAsync(top, cancellationToken)).Select(u => u.UserId).ToList();
            }

            var isDryRun = parse.GetValue(dryRun);
            var timeout = TimeSpan.FromMilliseconds(parse.GetValue(lockTimeout));
            var budget = TimeSpan.FromMilliseconds(parse.GetValue(maxDuration));
            var results = new List<SweepOutcome>();
            context.Error.WriteLine(users.Count == 0
                ? "No merged-away user has late references."
                : $"Sweeping {users.Count} merged-away user(s){(isDryRun ? " (dry run)" : string.Empty)} on {CommonOptions.DescribeTarget(connectionString)}.");
            var done = 0;
            foreach (var id in users)
            {
                cancellationToken.ThrowIfCancellationRequested();
                done++;
                try
                {
                    var result = await client.SweepUserAsync(id, null, isDryRun, cancellationToken, timeout, parse.GetValue(batchSize), budget);
                    results.Add(new SweepOutcome(id, result.MergeRunId, result.RowsChanged, result.Tables.Where(t => t.RowsChanged > 0).ToList(), null, null));
                    context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"[{done}/{users.Count}] user {id}: run {result.MergeRunId}, {result.RowsChanged} row(s) {(isDryRun ? "would change" : "changed")}"));
                }
                catch (DbMergeException ex)
                {
                    results.Add(new SweepOutcome(id, null, 0, [], ex.ErrorNumber, ex.Message));
                    context.Error.WriteLine($"[{done}/{users.Count}] user {id}: error {ex.ErrorNumber}: {ex.Message}");
                }
            }

            if (parse.GetValue(json))
            {
                context.WriteJson(new { DryRun = isDryRun, Users = results, RowsChanged = results.Sum(r => r.RowsChanged) });
            }
            else
            {
                context.Out.WriteLine($"{"user",8} {"run",8} {"rows",8}  detail");
                foreach (var r in results)
                {
                    var detail = r.ErrorNumber is { } n
                        ? $"error {n}"
                        : string.Join(", ", r.Tables.Select(t => $"{t.SchemaName}.{t.TableName}.{t.ColumnName} {t.RowsChanged}"));
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.UserId,8} {r.MergeRunId,8} {r.RowsChanged,8}  {detail}"));
                }

                context.Out.WriteLine($"rows {(isDryRun ? "that would change" : "changed")}: {results.Sum(r => r.RowsChanged)}");
            }

            var errors = results.Where(r => r.ErrorNumber is not null).ToList();
            return errors.Count == 0 ? ExitCodes.Success
                : errors.Any(e => ErrorRegistry.TryGet(e.ErrorNumber!.Value, out var error) && error.Kind == DbMergeErrorKind.LockTimeout) ? ExitCodes.LockTimeout
                : ExitCodes.Refused;
        });

        return command;
    }

    internal sealed record SweepOutcome(int UserId, long? MergeRunId, int RowsChanged, IReadOnlyList<MergeTableSummary> Tables, int? ErrorNumber, string? Error);
}
