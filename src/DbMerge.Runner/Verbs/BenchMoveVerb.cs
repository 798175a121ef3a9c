using System.CommandLine;
using System.Diagnostics;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench move --nodes N</c>: seeds a subtree of N documents (each with a direct access) under a new root
/// and times one api.Document_Move of it under another new root (cross-tree: set-based path rewrite + scope cleanup).
/// Writes synthetic data into the target database: point --connection at a scratch database.
/// </summary>
internal static class BenchMoveVerb
{
    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var yes = CommonOptions.Yes();
        var nodes = new Option<int>("--nodes") { Description = "Documents in the moved subtree (>= 1).", Required = true };
        nodes.Validators.Add(result =>
        {
            // Unparsable values are reported by the parser itself; only a parsed number below 1 is ours to refuse.
            if (result.Tokens is [var token] && int.TryParse(token.Value, System.Globalization.CultureInfo.InvariantCulture, out var value) && value < 1)
            {
                result.AddError("--nodes must be at least 1.");
            }
        });
        var command = new Command("move",
            "Time moving a subtree of N documents (with accesses) to another tree. Writes synthetic data: use a scratch database.")
        {
            connection, json, yes, nodes,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var count = parse.GetValue(nodes);
            var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection)) });
            if (!parse.GetValue(yes) && !context.Confirm($"Write {count} synthetic documents into this database?"))
            {
                throw new CliException(ExitCodes.NotConfirmed, "Not confirmed: pass --yes to write synthetic benchmark data.");
            }

            var seedClock = Stopwatch.StartNew();
            var tree = await client.SeedMoveBenchmarkAsync(count, cancellationToken: ct).ConfigureAwait(false);
            seedClock.Stop();

            var moveClock = Stopwatch.StartNew();
            var moved = await client.MoveDocumentAsync(tree.SubtreeRootId, tree.TargetRootId, DocumentMovePositions.LastChild, tree.UserId,
                    timeout: TimeSpan.FromMinutes(30), cancellationToken: ct)
                .ConfigureAwait(false);
            moveClock.Stop();

            var result = new
            {
                Nodes = tree.Documents,
                SeedMs = seedClock.ElapsedMilliseconds,
                MoveMs = moveClock.ElapsedMilliseconds,
                DocumentsPerSecond = moveClock.Elapsed.TotalSeconds > 0 ? Math.Round(moved.DocumentsMoved / moveClock.Elapsed.TotalSeconds) : 0,
                moved.DocumentsMoved,
                moved.PathsRewritten,
                moved.AccessesDeleted,
                tree.SourceRootId,
                tree.TargetRootId,
                tree.SubtreeRootId,
            };
            if (parse.GetValue(json))
            {
                context.WriteJson(result);
            }
            else
            {
                context.Out.WriteLine(
                    $"Moved {result.DocumentsMoved} documents ({result.PathsRewritten} paths rewritten) in {result.MoveMs} ms " +
                    $"({result.DocumentsPerSecond} documents/s); seeding took {result.SeedMs} ms. Subtree {tree.SubtreeRootId}, now under root {tree.TargetRootId}.");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
