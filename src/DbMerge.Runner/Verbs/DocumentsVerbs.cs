using System.CommandLine;
using System.Text;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge documents move|tree</c>: api.Document_Move and api.Document_Tree from the console.</summary>
internal static class DocumentsVerbs
{
    public static Command Build(CliContext context)
    {
        var documents = new Command("documents", "Document trees: move a document (with its subtree), show a subtree with its direct accesses.");
        documents.Subcommands.Add(BuildMove(context));
        documents.Subcommands.Add(BuildTree(context));
        return documents;
    }

    private static Command BuildMove(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var document = new Option<int>("--document") { Description = "The document to move (with its subtree).", Required = true };
        var target = new Option<int>("--target") { Description = "The target document the position is relative to.", Required = true };
        var position = new Option<string>("--position")
        {
            Description = "first-child | last-child (of the target) | left | right (of the target) | first-sibling | last-sibling (among the target's siblings).",
            Required = true,
        };
        position.AcceptOnlyFromAmong([.. DocumentMovePositions.All]);
        var actor = new Option<int?>("--actor") { Description = "The acting user (administrator or owner of the document and of the new parent)." };
        var asOperator = new Option<bool>("--as-operator")
        {
            Description = "Move without an actor (system move); the connection's user must be a member of DbMergeOperator.",
        };
        var move = new Command("move",
            "Move a document relative to a target, writing only what must change. Leaving its permission scope (root moved, other tree, promoted to root) deletes its own direct accesses and invitations. A move to where it already is changes nothing.")
        {
            connection, json, document, target, position, actor, asOperator,
        };
        move.Validators.Add(result =>
        {
            if ((result.GetValue(actor) is not null) == result.GetValue(asOperator))
            {
                result.AddError("Give exactly one of --actor and --as-operator.");
            }
        });
        Verb.SetAction(move, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection));
            var moved = await client.MoveDocumentAsync(
                    parse.GetValue(document), parse.GetValue(target), parse.GetValue(position)!, parse.GetValue(actor), cancellationToken: ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(moved);
            }
            else if (moved.NoOp)
            {
                context.Out.WriteLine(
                    $"Document {moved.DocumentId} already is at that position (or the target is the document itself or one of its descendants); nothing changed.");
            }
            else
            {
                context.Out.WriteLine(
                    $"Document {moved.DocumentId} moved from {Parent(moved.OldParentId)} to {Parent(moved.NewParentId)} (move {moved.MoveSequence}): " +
                    $"{moved.DocumentsMoved} document(s) in its subtree, {moved.SiblingsShifted} sibling(s) shifted to make room, " +
                    $"{moved.PathsRewritten} path(s) rewritten in {moved.RowsWritten} row update(s).");
                if (moved.ScopeChanged)
                {
                    context.Out.WriteLine(
                        $"Permission scope changed: {moved.AccessesDeleted} direct access(es) and {moved.InvitationsDeleted} invitation(s) deleted, " +
                        $"{moved.OwnersRestored} owner(s) restored from the old root.");
                }
            }

            return ExitCodes.Success;
        });
        return move;
    }

    private static Command BuildTree(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var document = new Argument<int>("document") { Description = "The document whose subtree to show." };
        var tree = new Command("tree", "Show a document's subtree (indented, with paths, titles and each document's direct accesses).")
        {
            connection, json, document,
        };
        Verb.SetAction(tree, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection));
            var nodes = await client.GetTreeAsync(parse.GetValue(document), cancellationToken: ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(nodes);
            }
            else
            {
                foreach (var node in nodes)
                {
                    context.Out.WriteLine(FormatNode(node));
                }
            }

            return ExitCodes.Success;
        });
        return tree;
    }

    /// <summary>One line: indentation by relative depth, title, id, path, direct accesses.</summary>
    internal static string FormatNode(DocumentTreeNode node)
    {
        var line = new StringBuilder();
        line.Append(' ', node.RelativeDepth * 2)
            .Append(node.Title).Append(" #").Append(node.DocumentId).Append(" [").Append(node.Path).Append(']');
        using var accesses = JsonDocument.Parse(node.Accesses);
        var parts = accesses.RootElement.EnumerateArray()
            .Select(a =>
            {
                var who = a.TryGetProperty("userId", out var u) && u.ValueKind == JsonValueKind.Number
                    ? $"user {u.GetInt32()}"
                    : $"team {(a.TryGetProperty("team", out var t) ? t.GetString() : "?")}";
                return $"{who} {a.GetProperty("role").GetString()}";
            })
            .ToList();
        if (parts.Count > 0)
        {
            line.Append("  accesses: ").Append(string.Join(", ", parts));
        }

        return line.ToString();
    }

    private static string Parent(int? id) => id is { } p ? $"parent {p}" : "the root level";

    private static DbMergeClient NewClient(CliContext context, string? connectionOption) =>
        CommonOptions.Client(context, CommonOptions.ResolveConnection(context, connectionOption));
}
