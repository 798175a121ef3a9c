using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench merge --rows N</c>: on a scratch database, synthetic source/target users whose references
/// total about N rows spread over every policy table (10% collisions with the target), timing the dry run and the
/// merge; then the same at 2N, so the ratio shows the cost grows with the rows touched. Never run by the tests.
/// The synthetic data (scenario.BenchMerge) and the scratch database are DbMerge.Scenarios': this verb holds no SQL.
/// </summary>
internal static class BenchMergeVerb
{
    public static Command Build(CliContext context)
    {
        var rows = new Option<int>("--rows") { Description = "Rows referencing the source user (the second size is twice this).", DefaultValueFactory = _ => 100_000 };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("merge", "Benchmark api.User_Merge: dry run and merge at N and 2N referencing rows, rows per second, growth ratio.")
        {
            rows, connection, json,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var n = parse.GetValue(rows);
            if (n is < 100 or > 5_000_000)
            {
                throw new CliException(ExitCodes.Usage, "--rows must be 100..5000000.");
            }

            var server = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
            {
                ServerConnectionString = server,
                Layout = RepositoryLayout.Discover(),
                Prefix = "DbMergeBench",
                Log = context.Error.WriteLine,
            }, cancellationToken);
            var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString, LongCommandTimeout = TimeSpan.FromHours(1) });
            var results = new List<BenchResult>();
            var run = 0;
            foreach (var size in new[] { n, 2 * n })
            {
                run++;
                context.Error.WriteLine($"Seeding {size:N0} rows (run {run})…");
                var seed = await scratch.RunScenarioAsync(Scenario, cancellationToken, ("Rows", size), ("Run", run));
                var (source, target) = (seed.Get<int>("SourceUserId"), seed.Get<int>("TargetUserId"));
                var clock = Stopwatch.StartNew();
                var dry = await client.MergeUsersAsync(source, target, "bench (dry run)", null, true, cancellationToken, TimeSpan.FromMinutes(1));
                var dryTime = clock.Elapsed;
                clock.Restart();
                var merged = await client.MergeUsersAsync(source, target, "bench", null, false, cancellationToken, TimeSpan.FromMinutes(1));
                var mergeTime = clock.Elapsed;
                var touched = merged.RowsChanged;
                results.Add(new BenchResult(size, touched, dryTime.TotalSeconds, mergeTime.TotalSeconds, touched / Math.Max(mergeTime.TotalSeconds, 0.001), dry.RowsChanged == touched));
                context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {size:N0} rows: {touched:N0} changed; dry run {dryTime.TotalSeconds:F2} s, merge {mergeTime.TotalSeconds:F2} s, {touched / Math.Max(mergeTime.TotalSeconds, 0.001):N0} rows/s"));
            }

            var ratio = results[1].MergeSeconds / Math.Max(results[0].MergeSeconds, 0.001);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { Results = results, GrowthRatio = ratio });
            }
            else
            {
                context.Out.WriteLine($"{"rows",10} {"changed",10} {"dry run s",10} {"merge s",10} {"rows/s",12}");
                foreach (var r in results)
                {
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Rows,10} {r.RowsChanged,10} {r.DryRunSeconds,10:F2} {r.MergeSeconds,10:F2} {r.RowsPerSecond,12:F0}"));
                }

                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"merge time ratio 2N/N = {ratio:F2} (about 2 means the cost grows with the rows touched; the second run's tables are already larger)."));
            }

            return ExitCodes.Success;
        });

        return command;
    }

    internal sealed record BenchResult(int Rows, int RowsChanged, double DryRunSeconds, double MergeSeconds, double RowsPerSecond, bool DryRunMatched);

    /// <summary>The seed procedure (src/DbMerge.Scenarios/Sql/scenario.BenchMerge.sql).</summary>
    internal const string Scenario = "BenchMerge";
}
