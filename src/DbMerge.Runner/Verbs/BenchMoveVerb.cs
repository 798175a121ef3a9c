using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench move [--trees T] [--sizes 1000,10000,100000]</c> (DESIGN §8, issue 10): on a scratch database, times a
/// cross-tree api.Document_Move of a subtree of each size into an appending position (last child of another root), after
/// a forest of T trees with accesses (scenario.BenchMoveForest); each subtree is seeded by scenario.BenchMove. Reports per
/// size the rows written (an appending position must write exactly the subtree), the time, the time per 1,000 documents
/// and the time ratio against the size ratio (about 1: linear in the subtree); and the same smallest move timed before
/// the forest existed, so the ratio of the two shows the cost does not depend on the forest. Holds no SQL.
/// </summary>
internal static class BenchMoveVerb
{
    /// <summary>The subtree seed (src/DbMerge.Scenarios/Sql/scenario.BenchMove.sql).</summary>
    internal const string Scenario = "BenchMove";

    /// <summary>What a Ctrl+C leaves behind in a verb that works in a scratch database.</summary>
    internal const string ScratchDatabaseStops = "The scratch database is dropped (the lines above say so); nothing else was written.";

    /// <summary>The forest seed (src/DbMerge.Scenarios/Sql/scenario.BenchMoveForest.sql).</summary>
    internal const string ForestScenario = "BenchMoveForest";

    internal const int DefaultTrees = 10_000;

    internal const string DefaultSizes = "1000,10000,100000";

    /// <summary>The sizes of <paramref name="text"/> ("1000,10000"), ascending and distinct, or null when one is not 1..10000000.</summary>
    internal static IReadOnlyList<int>? ParseSizes(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var sizes = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size is < 1 or > 10_000_000)
            {
                return null;
            }

            sizes.Add(size);
        }

        return [.. sizes.Distinct().Order()];
    }

    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var trees = new Option<int>("--trees")
        {
            Description = $"Trees in the forest the moves run beside (10 documents each, with accesses), 1..1000000.",
            DefaultValueFactory = _ => DefaultTrees,
        };
        trees.Validators.Add(result =>
        {
            // Unparsable values are reported by the parser itself; only a parsed number out of range is ours to refuse.
            if (result.Tokens is [var token] && int.TryParse(token.Value, CultureInfo.InvariantCulture, out var value) && value is < 1 or > 1_000_000)
            {
                result.AddError("--trees must be 1..1000000.");
            }
        });
        var sizes = new Option<string>("--sizes")
        {
            Description = $"Comma-separated sizes (documents) of the moved subtrees, each 1..10000000.",
            DefaultValueFactory = _ => DefaultSizes,
        };
        sizes.Validators.Add(result =>
        {
            if (result.Tokens is [var token] && ParseSizes(token.Value) is null)
            {
                result.AddError("--sizes must be comma-separated numbers, each 1..10000000 (e.g. 1000,10000,100000).");
            }
        });
        var command = new Command("move",
            "Benchmark api.Document_Move on a scratch database (created, migrated, dropped): cross-tree moves of subtrees of each size beside a forest of trees with accesses; rows written, time, time ratio against subtree size, forest independence.")
        {
            connection, json, trees, sizes,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var forestTrees = parse.GetValue(trees);
            var subtreeSizes = ParseSizes(parse.GetValue(sizes)) ?? throw new CliException(ExitCodes.Usage, "--sizes must be comma-separated numbers, each 1..10000000.");
            var server = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
            {
                ServerConnectionString = server,
                Layout = CliRepository.Resolve(context, null),
                Prefix = "DbMergeBench",
                Log = context.Error.WriteLine,
                Trace = context.Verbose ? context.Error.WriteLine : null,
            }, ct);
            var client = CommonOptions.Client(context, scratch.ConnectionString);

            async Task<BenchMoveResult> MoveOneAsync(int size)
            {
                context.Error.WriteLine($"Seeding a subtree of {size:N0} documents…");
                var tree = await scratch.RunScenarioAsync(Scenario, ct, ("Nodes", (long)size));

                // Untimed warm-up: the subtree root is its source root's only child, so this is a no-op move; it
                // compiles the procedure, which would otherwise be timed in the first (baseline) move only and make
                // the forest-independence ratio look better than it is.
                var warmUp = await client.MoveDocumentAsync(tree.Get<int>("SubtreeRootId"), tree.Get<int>("SourceRootId"), DocumentMovePositions.LastChild,
                        tree.Get<int>("UserId"), cancellationToken: ct)
                    .ConfigureAwait(false);
                if (!warmUp.NoOp)
                {
                    throw new InvalidOperationException("bench move: the warm-up move of the subtree root under its own root was not a no-op.");
                }

                var clock = Stopwatch.StartNew();
                var moved = await client.MoveDocumentAsync(tree.Get<int>("SubtreeRootId"), tree.Get<int>("TargetRootId"), DocumentMovePositions.LastChild,
                        tree.Get<int>("UserId"), timeout: TimeSpan.FromMinutes(30), cancellationToken: ct)
                    .ConfigureAwait(false);
                clock.Stop();
                context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  moved {moved.DocumentsMoved:N0} documents in {clock.Elapsed.TotalMilliseconds:F0} ms ({moved.RowsWritten:N0} rows written)"));
                return new BenchMoveResult(size, moved.DocumentsMoved, moved.RowsWritten, moved.PathsRewritten, moved.AccessesDeleted,
                    clock.Elapsed.TotalMilliseconds, clock.Elapsed.TotalMilliseconds * 1000 / Math.Max(size, 1), 0);
            }

            // The smallest move once before the forest exists: the baseline for forest independence.
            context.Error.WriteLine("Baseline: the smallest move before the forest exists.");
            var baseline = await MoveOneAsync(subtreeSizes[0]);

            context.Error.WriteLine($"Seeding a forest of {forestTrees:N0} trees…");
            var forest = await scratch.RunScenarioAsync(ForestScenario, ct, ("Trees", forestTrees), ("DocumentsPerTree", 10));

            var results = new List<BenchMoveResult>();
            foreach (var size in subtreeSizes)
            {
                results.Add(await MoveOneAsync(size));
            }

            var first = results[0];
            results = [.. results.Select(r => r with { TimeRatio = Math.Round(r.MoveMs / Math.Max(first.MoveMs, 0.001) / ((double)r.Size / first.Size), 2) })];
            var summary = new
            {
                Trees = forest.Get<int>("Trees"),
                ForestDocuments = forest.Get<int>("Documents"),
                ForestAccesses = forest.Get<int>("Accesses"),
                Baseline = baseline,
                Results = results,
                ForestIndependenceRatio = Math.Round(first.MoveMs / Math.Max(baseline.MoveMs, 0.001), 2),
                AppendingMovesWroteOnlyTheSubtree = results.All(r => r.RowsWritten == r.DocumentsMoved && r.DocumentsMoved == r.Size),
            };

            if (parse.GetValue(json))
            {
                context.WriteJson(summary);
            }
            else
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Forest: {summary.Trees:N0} trees, {summary.ForestDocuments:N0} documents, {summary.ForestAccesses:N0} accesses."));
                context.Out.WriteLine($"{"subtree",10} {"rows written",13} {"move ms",10} {"ms/1000 docs",13} {"time ratio",11}");
                foreach (var r in results)
                {
                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{r.Size,10} {r.RowsWritten,13} {r.MoveMs,10:F0} {r.MsPer1000Documents,13:F1} {r.TimeRatio,11:F2}"));
                }

                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Time ratio = (time / time of {first.Size:N0}) / (size / {first.Size:N0}): about 1 when the cost is linear in the subtree. " +
                    $"The {first.Size:N0}-document move took {first.MoveMs:F0} ms beside the forest and {baseline.MoveMs:F0} ms before it " +
                    $"(ratio {summary.ForestIndependenceRatio:F2}: about 1 when the forest does not matter)."));
                context.Out.WriteLine(summary.AppendingMovesWroteOnlyTheSubtree
                    ? "Every move wrote exactly its subtree's rows."
                    : "WARNING: a move wrote other rows than its subtree (see rows written).");
            }

            return ExitCodes.Success;
        }, ScratchDatabaseStops);
        return command;
    }
}

/// <summary>One timed move of <c>dbmerge bench move</c>.</summary>
/// <param name="TimeRatio">(time / time of the smallest size) / (size / smallest size); about 1 when linear.</param>
internal sealed record BenchMoveResult(
    int Size,
    int DocumentsMoved,
    int RowsWritten,
    int PathsRewritten,
    int AccessesDeleted,
    double MoveMs,
    double MsPer1000Documents,
    double TimeRatio);
