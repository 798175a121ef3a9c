using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench merge [--rows N]</c> (DESIGN §8, issue 9): on a scratch database, two seeds of scenario.BenchMerge —
/// a small pair (a source referenced by about N rows over every policy table, 10% collisions with its target) and a
/// large pair (10N) — both seeded before either merge, so the two merges run against the same table sizes and only the
/// rows touched grow 10×. Each pair is merged as a dry run and then for real, with a concurrent writer
/// (scenario.BenchMergeWrite) updating the bystander's row in every table the merge writes, again and again while the
/// merge runs. Reports rows per second, the time ratio large/small against the rows-touched ratio, and the writer's
/// longest statement. Never run by the tests. The seeds and the writer are DbMerge.Scenarios': this verb holds no SQL.
/// </summary>
internal static class BenchMergeVerb
{
    /// <summary>The seed procedure (src/DbMerge.Scenarios/Sql/scenario.BenchMerge.sql).</summary>
    internal const string Scenario = "BenchMerge";

    /// <summary>The concurrent writer (src/DbMerge.Scenarios/Sql/scenario.BenchMergeWrite.sql).</summary>
    internal const string WriterScenario = "BenchMergeWrite";

    internal const int DefaultRows = 100_000;

    /// <summary>The largest --rows: the large run seeds 10× (10,000,000, scenario.BenchMerge's own limit).</summary>
    internal const int MaxRows = 1_000_000;

    /// <summary>How much the large run's rows exceed the small run's.</summary>
    internal const int Growth = 10;

    /// <summary>Longest wait the writer accepts per statement before it counts a lock timeout (and goes on).</summary>
    internal static readonly TimeSpan WriterLockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The pause between two writer calls: an application's steady trickle, not a load test.</summary>
    internal static readonly TimeSpan WriterPause = TimeSpan.FromMilliseconds(5);

    public static Command Build(CliContext context)
    {
        var rows = new Option<int>("--rows")
        {
            Description = $"Rows referencing the source of the small run, 100..{MaxRows}; the large run seeds {Growth}× as many.",
            DefaultValueFactory = _ => DefaultRows,
        };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Rows of one table per merge statement, 1..1000 (api.User_Merge @BatchSize).",
            DefaultValueFactory = _ => DbMergeClient.DefaultMergeBatchSize,
        };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("merge",
            $"Benchmark api.User_Merge on a scratch database (created, migrated, dropped): merges of N and {Growth}N referencing rows against the same table sizes, " +
            "dry run and merge, rows per second, time ratio, and the longest wait of a concurrent writer updating another user's rows in every touched table.")
        {
            rows, batchSize, connection, json,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            // Checked here, before any connection, so a wrong number is a usage error (exit 2) like every verb's.
            var n = parse.GetValue(rows);
            var batch = parse.GetValue(batchSize);
            if (n is < 100 or > MaxRows)
            {
                throw new CliException(ExitCodes.Usage, $"--rows must be 100..{MaxRows}.");
            }

            if (batch is < 1 or > 1000)
            {
                throw new CliException(ExitCodes.Usage, "--batch-size must be 1..1000.");
            }

            var server = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
            {
                ServerConnectionString = server,
                Layout = CliRepository.Resolve(context, null),
                Prefix = "DbMergeBench",
                Log = context.Error.WriteLine,
                Trace = context.Verbose ? context.Error.WriteLine : null,
            }, cancellationToken);
            var client = CommonOptions.Client(context, scratch.ConnectionString, longCommandTimeout: TimeSpan.FromHours(1));

            // Both seeds first: the two merges then run against the same tables (the small merge deletes only its
            // collided rows, about 1% of its own rows), so the ratio shows what rows touched cost, not table size.
            var seeds = new List<(int Size, ScenarioRow Seed)>();
            foreach (var size in new[] { n, Growth * n })
            {
                context.Error.WriteLine($"Seeding {size:N0} rows referencing a new source user…");
                seeds.Add((size, await scratch.RunScenarioAsync(Scenario, cancellationToken, ("Rows", size))));
            }

            var results = new List<BenchMergeResult>();
            foreach (var (size, seed) in seeds)
            {
                var (source, target, bystander) = (seed.Get<int>("SourceUserId"), seed.Get<int>("TargetUserId"), seed.Get<int>("BystanderUserId"));
                var referencing = (await client.GetUserReferencesAsync(source, cancellationToken)).Sum(r => r.ReferencingRows);
                var maxDuration = TimeSpan.FromHours(1);
                var clock = Stopwatch.StartNew();
                var dry = await client.MergeUsersAsync(source, target, "bench (dry run)", null, true, cancellationToken, batchSize: batch, maxDuration: maxDuration);
                var dryTime = clock.Elapsed;

                using var stopWriter = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var writer = RunWriterAsync(scratch, bystander, stopWriter.Token);
                clock.Restart();
                UserMergeResult merged;
                try
                {
                    merged = await client.MergeUsersAsync(source, target, "bench", null, false, cancellationToken, batchSize: batch, maxDuration: maxDuration);
                }
                finally
                {
                    await stopWriter.CancelAsync();
                }

                var mergeTime = clock.Elapsed;
                var written = await writer;
                var touched = merged.RowsChanged;
                var result = new BenchMergeResult(size, referencing, touched, Math.Round(dryTime.TotalSeconds, 3), Math.Round(mergeTime.TotalSeconds, 3),
                    Math.Round(touched / Math.Max(mergeTime.TotalSeconds, 0.001)), dry.RowsChanged == touched,
                    written.Calls, written.LongestMs, written.LongestTable, written.LockTimeouts);
                results.Add(result);
                context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {referencing:N0} referencing rows: {touched:N0} changed; dry run {dryTime.TotalSeconds:F2} s, merge {mergeTime.TotalSeconds:F2} s " +
                    $"({result.RowsPerSecond:N0} rows/s); writer: {written.Calls:N0} calls, longest {written.LongestMs:F1} ms ({written.LongestTable ?? "-"})"));
            }

            var (small, large) = (results[0], results[1]);
            var summary = new
            {
                Results = results,
                RowsTouchedRatio = Math.Round((double)large.RowsChanged / Math.Max(small.RowsChanged, 1), 2),
                TimeRatio = Math.Round(large.MergeSeconds / Math.Max(small.MergeSeconds, 0.001), 2),
                WriterLongestMs = results.Max(r => r.WriterLongestMs),
                WriterLockTimeouts = results.Sum(r => r.WriterLockTimeouts),
            };
            if (parse.GetValue(json))
            {
                context.WriteJson(summary);
            }
            else
            {
                context.Out.WriteLine($"{"referencing",12} {"changed",10} {"dry run s",10} {"merge s",10} {"rows/s",10} {"writer calls",13} {"writer max ms",14} {"at",22}");
                foreach (var r in results)
                {
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{r.ReferencingRows,12} {r.RowsChanged,10} {r.DryRunSeconds,10:F2} {r.MergeSeconds,10:F2} {r.RowsPerSecond,10:F0} {r.WriterCalls,13} {r.WriterLongestMs,14:F1} {r.WriterLongestTable ?? "-",22}"));
                }

                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Rows touched grew {summary.RowsTouchedRatio:F2}x, merge time {summary.TimeRatio:F2}x, at the same table sizes " +
                    $"(target: at most 11; about the rows ratio when the cost follows the rows touched)."));
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Concurrent writer (another user's row in every table the merge writes): longest statement {summary.WriterLongestMs:F1} ms " +
                    $"(target: under 100 ms){(summary.WriterLockTimeouts > 0 ? $"; {summary.WriterLockTimeouts} statement(s) waited {WriterLockTimeout.TotalSeconds:F0} s and timed out" : "")}."));
                context.Out.WriteLine("Target where SQL Server runs (DESIGN §8): 1,000,000 rows merged in under 10 s on 2 cores.");
                if (results.Any(r => !r.DryRunMatched))
                {
                    context.Out.WriteLine("WARNING: a dry run counted other rows than its merge changed.");
                }
            }

            return ExitCodes.Success;
        }, BenchMoveVerb.ScratchDatabaseStops);

        return command;
    }

    /// <summary>
    /// Calls scenario.BenchMergeWrite for <paramref name="userId"/> until <paramref name="stop"/>: the longest statement
    /// it reported, the calls made, and the statements that waited <see cref="WriterLockTimeout"/> (1222; counted as
    /// that long). The last call in flight is allowed to finish, so a wait caused by the merge is never cut short.
    /// </summary>
    private static async Task<WriterResult> RunWriterAsync(ScratchDatabase scratch, int userId, CancellationToken stop)
    {
        var (calls, timeouts, longest, table) = (0, 0, 0.0, (string?)null);
        await using var session = await ScenarioSession.OpenAsync(scratch, CancellationToken.None);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var row = await session.RunAsync(WriterScenario, WriterLockTimeout * 20, CancellationToken.None,
                    ("UserId", userId), ("LockTimeoutMs", (int)WriterLockTimeout.TotalMilliseconds));
                var ms = row.Get<long>("LongestMicroseconds") / 1000.0;
                if (ms > longest)
                {
                    (longest, table) = (ms, row.Get<string>("LongestTable"));
                }
            }
            catch (SqlException ex) when (ex.Number == 1222)
            {
                timeouts++;
                (longest, table) = (Math.Max(longest, WriterLockTimeout.TotalMilliseconds), "lock timeout");
            }

            calls++;
            try
            {
                await Task.Delay(WriterPause, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return new WriterResult(calls, Math.Round(longest, 1), table, timeouts);
    }

    private sealed record WriterResult(int Calls, double LongestMs, string? LongestTable, int LockTimeouts);

    /// <summary>One merge of <c>dbmerge bench merge</c>.</summary>
    /// <param name="Rows">The seed's @Rows.</param>
    /// <param name="ReferencingRows">Rows referencing the source before the merge (api.User_References).</param>
    /// <param name="RowsChanged">Rows the merge changed (its summary: moved + merged + deleted).</param>
    /// <param name="WriterLongestMs">The concurrent writer's longest statement during the merge, its lock wait included.</param>
    internal sealed record BenchMergeResult(
        int Rows, long ReferencingRows, int RowsChanged, double DryRunSeconds, double MergeSeconds, double RowsPerSecond, bool DryRunMatched,
        int WriterCalls, double WriterLongestMs, string? WriterLongestTable, int WriterLockTimeouts);
}
