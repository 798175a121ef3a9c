using System.Data;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>Positions of <c>api.Document_Move</c> (django-treebeard <c>move()</c> meanings).</summary>
public static class DocumentMovePositions
{
    public const string FirstChild = "first-child";
    public const string LastChild = "last-child";
    public const string Left = "left";
    public const string Right = "right";
    public const string FirstSibling = "first-sibling";
    public const string LastSibling = "last-sibling";

    public static IReadOnlyList<string> All { get; } = [FirstChild, LastChild, Left, Right, FirstSibling, LastSibling];

    public static bool IsValid(string? position) => position is not null && All.Contains(position, StringComparer.Ordinal);
}

/// <summary>Result of <c>api.Document_Create</c>.</summary>
public sealed record DocumentCreated(int DocumentId, string Path, short Depth, int? ParentDocumentId);

/// <summary>Result of <c>api.Document_Move</c>.</summary>
/// <param name="NewParentId">Null when the document is (now) a root.</param>
/// <param name="DocumentsMoved">Documents in the moved subtree (0 for a no-op).</param>
/// <param name="SiblingsShifted">Siblings (with their subtrees) shifted one step right to make room at the destination.</param>
/// <param name="PathsRewritten">Documents whose path changed: the moved subtree and the shifted siblings' subtrees.</param>
/// <param name="RowsWritten">Row updates of app.Document; equals <paramref name="DocumentsMoved"/> for an appending position.</param>
/// <param name="MoveSequence">The document's move number (1, 2, …) in the outbox dedupe keys; null for a no-op.</param>
/// <param name="NoOp">True when nothing was written: the document already was where the position puts it.</param>
public sealed record DocumentMoved(
    int DocumentId,
    int? OldParentId,
    int? NewParentId,
    bool ScopeChanged,
    int AccessesDeleted,
    int InvitationsDeleted,
    int OwnersRestored,
    int DocumentsMoved,
    int SiblingsShifted,
    int PathsRewritten,
    int RowsWritten,
    int? MoveSequence,
    bool NoOp);

/// <summary>One row of <c>api.Document_Tree</c>.</summary>
/// <param name="Accesses">The document's own direct accesses as a JSON array of {userId, team, role}.</param>
public sealed record DocumentTreeNode(
    int DocumentId,
    int? ParentDocumentId,
    string Path,
    short Depth,
    int RelativeDepth,
    string Title,
    string Accesses);

public sealed partial class DbMergeClient
{
    public const string DocumentCreateProcedure = "api.Document_Create";
    public const string DocumentMoveProcedure = "api.Document_Move";
    public const string DocumentTreeProcedure = "api.Document_Tree";

    /// <summary>Default applock wait of the document procedures, in milliseconds.</summary>
    public const int DefaultDocumentLockTimeoutMs = 5000;

    /// <summary>
    /// Creates a document as the last child of <paramref name="parentDocumentId"/> (null: a new root owned by the
    /// creator), after the highest existing sibling step. Errors 51207–51214 (see the error registry; 51210: an applock or row lock not granted
    /// within <paramref name="lockTimeoutMs"/>; 51214: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON).
    /// </summary>
    public Task<DocumentCreated> CreateDocumentAsync(
        int? parentDocumentId,
        string title,
        int creatorUserId,
        int lockTimeoutMs = DefaultDocumentLockTimeoutMs,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            DocumentCreateProcedure,
            p =>
            {
                p.Add(new SqlParameter("@ParentDocumentId", SqlDbType.Int) { Value = (object?)parentDocumentId ?? DBNull.Value });
                p.Add(new SqlParameter("@Title", SqlDbType.NVarChar, 4000) { Value = (object?)title ?? DBNull.Value });
                p.Add(new SqlParameter("@CreatorUserId", SqlDbType.Int) { Value = creatorUserId });
                p.Add(new SqlParameter("@LockTimeout", SqlDbType.Int) { Value = lockTimeoutMs });
                p.Add(new SqlParameter("@DocumentId", SqlDbType.Int) { Direction = ParameterDirection.Output });
            },
            async (reader, _, ct) =>
            {
                await ReadDocumentRowAsync(reader, DocumentCreateProcedure, ct).ConfigureAwait(false);
                return new DocumentCreated(
                    reader.Get<int>("DocumentId"),
                    reader.Get<string>("Path"),
                    reader.Get<short>("Depth"),
                    reader.GetNullable<int>("ParentDocumentId"));
            },
            timeout,
            cancellationToken);

    /// <summary>
    /// Moves a document and its subtree. <paramref name="actorUserId"/> null is a system move and requires the
    /// connection's user to be a member of DbMergeOperator (51205). Writes only what must change (the moved subtree, and the siblings
    /// that shift where the destination needs room); a move that leaves the document where it is returns NoOp and writes nothing.
    /// Errors 51200–51207, 51210 (an applock or row lock not granted within <paramref name="lockTimeoutMs"/>), 51212, 51213,
    /// 51214 (called inside an open transaction or with IMPLICIT_TRANSACTIONS ON), 51215. A deadlock victim (1205) is
    /// run again, up to <see cref="MoveDeadlockAttempts"/> attempts.
    /// </summary>
    public Task<DocumentMoved> MoveDocumentAsync(
        int documentId,
        int targetDocumentId,
        string position,
        int? actorUserId,
        int lockTimeoutMs = DefaultDocumentLockTimeoutMs,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        RetryDeadlockVictimAsync(() => ExecuteProcedureAsync(
            DocumentMoveProcedure,
            p =>
            {
                p.Add(new SqlParameter("@DocumentId", SqlDbType.Int) { Value = documentId });
                p.Add(new SqlParameter("@TargetDocumentId", SqlDbType.Int) { Value = targetDocumentId });
                p.Add(new SqlParameter("@Position", SqlDbType.VarChar, 20) { Value = (object?)position ?? DBNull.Value });
                p.Add(new SqlParameter("@ActorUserId", SqlDbType.Int) { Value = (object?)actorUserId ?? DBNull.Value });
                p.Add(new SqlParameter("@LockTimeout", SqlDbType.Int) { Value = lockTimeoutMs });
            },
            async (reader, _, ct) =>
            {
                await ReadDocumentRowAsync(reader, DocumentMoveProcedure, ct).ConfigureAwait(false);
                return new DocumentMoved(
                    reader.Get<int>("DocumentId"),
                    reader.GetNullable<int>("OldParentId"),
                    reader.GetNullable<int>("NewParentId"),
                    reader.Get<bool>("ScopeChanged"),
                    reader.Get<int>("AccessesDeleted"),
                    reader.Get<int>("InvitationsDeleted"),
                    reader.Get<int>("OwnersRestored"),
                    reader.Get<int>("DocumentsMoved"),
                    reader.Get<int>("SiblingsShifted"),
                    reader.Get<int>("PathsRewritten"),
                    reader.Get<int>("RowsWritten"),
                    reader.GetNullable<int>("MoveSequence"),
                    reader.Get<bool>("NoOp"));
            },
            timeout,
            cancellationToken), MoveDeadlockAttempts, cancellationToken);

    /// <summary>
    /// How often <see cref="MoveDocumentAsync"/> runs a move chosen as deadlock victim (1205) before giving up: a move
    /// meeting a user merge on app.Document rows is the victim (DEADLOCK_PRIORITY LOW), rolled back completely.
    /// </summary>
    public const int MoveDeadlockAttempts = 3;

    /// <summary>The subtree of a document in path order with each document's direct accesses. Errors 51200, 51212.</summary>
    public Task<IReadOnlyList<DocumentTreeNode>> GetTreeAsync(
        int documentId,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<DocumentTreeNode>>(
            DocumentTreeProcedure,
            p => p.Add(new SqlParameter("@DocumentId", SqlDbType.Int) { Value = documentId }),
            async (reader, _, ct) =>
            {
                var nodes = new List<DocumentTreeNode>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    nodes.Add(new DocumentTreeNode(
                        reader.Get<int>("DocumentId"),
                        reader.GetNullable<int>("ParentDocumentId"),
                        reader.Get<string>("Path"),
                        reader.Get<short>("Depth"),
                        reader.Get<int>("RelativeDepth"),
                        reader.Get<string>("Title"),
                        reader.Get<string>("Accesses")));
                }

                return nodes;
            },
            timeout,
            cancellationToken);

    private static async Task ReadDocumentRowAsync(SqlDataReader reader, string procedure, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"{procedure} returned no result row; its contract promises exactly one.");
        }
    }
}
