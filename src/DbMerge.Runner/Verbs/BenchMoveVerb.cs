using System.CommandLine;
using System.Diagnostics;
using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench move --nodes N</c>: on a scratch database, seeds a subtree of N documents (each with a direct access)
/// under a new root (scenario.BenchMove) and times one api.Document_Move of it under another new root (cross-tree:
/// set-based path rewrite + scope cleanup). The scratch database is DbMerge.Scenarios': this verb holds no SQL.
/// </summary>
internal static class BenchMoveVerb
{
    /// <summary>The seed procedure (src/DbMerge.Scenarios/Sql/scenario.BenchMove.sql).</summary>
    internal const string Scenario = "BenchMove";

    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var nodes = new Option<int>("--nodes") { Description = "Documents in the moved subtree, 1..10000000.", Required = true };
        nodes.Validators.Add(result =>
        {
            // Unparsable values are reported by the parser itself; only a parsed number out of range is ours to refuse.
            if (result.Tokens is [var token] && int.TryParse(token.Value, System.Globalization.CultureInfo.InvariantCulture, out var value) && value is < 1 or > 10_000_000)
            {
                result.AddError("--nodes must be 1..10000000.");
            }
        });
        var command = new Command("move",
            "Benchmark api.Document_Move: on a scratch database (created, migrated, dropped), move a subtree of N documents (with accesses) to another tree.")
        {
            connection, json, nodes,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var count = parse.GetValue(nodes);
            var server = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
            {
                ServerConnectionString = server,
                Layout = RepositoryLayout.Discover(),
                Prefix = "DbMergeBench",
                Log = context.Error.WriteLine,
            }, ct);
            var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });

            context.Error.WriteLine($"Seeding a subtree of {count:N0} documents…");
            var seedClock = Stopwatch.StartNew();
            var tree = await scratch.RunScenarioAsync(Scenario, ct, ("Nodes", (long)count));
            seedClock.Stop();
            var (userId, subtree, targetRoot) = (tree.Get<int>("UserId"), tree.Get<int>("SubtreeRootId"), tree.Get<int>("TargetRootId"));

            var moveClock = Stopwatch.StartNew();
            var moved = await client.MoveDocumentAsync(subtree, targetRoot, DocumentMovePositions.LastChild, userId,
                    timeout: TimeSpan.FromMinutes(30), cancellationToken: ct)
                .ConfigureAwait(false);
            moveClock.Stop();

            var result = new
            {
                Nodes = tree.Get<int>("Documents"),
                SeedMs = seedClock.ElapsedMilliseconds,
                MoveMs = moveClock.ElapsedMilliseconds,
                DocumentsPerSecond = moveClock.Elapsed.TotalSeconds > 0 ? Math.Round(moved.DocumentsMoved / moveClock.Elapsed.TotalSeconds) : 0,
                moved.DocumentsMoved,
                moved.PathsRewritten,
                moved.AccessesDeleted,
                SourceRootId = tree.Get<int>("SourceRootId"),
                TargetRootId = targetRoot,
                SubtreeRootId = subtree,
            };
            if (parse.GetValue(json))
            {
                context.WriteJson(result);
            }
            else
            {
                context.Out.WriteLine(
                    $"Moved {result.DocumentsMoved} documents ({result.PathsRewritten} paths rewritten) in {result.MoveMs} ms " +
                    $"({result.DocumentsPerSecond} documents/s); seeding took {result.SeedMs} ms.");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
