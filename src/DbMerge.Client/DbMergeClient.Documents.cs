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

/// <summary>Synthetic data written by <see cref="DbMergeClient.SeedMoveBenchmarkAsync"/>.</summary>
/// <param name="Documents">Documents in the subtree to move (each with one direct access).</param>
public sealed record MoveBenchmarkTree(int UserId, int SourceRootId, int TargetRootId, int SubtreeRootId, int Documents);

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
    /// 51214 (called inside an open transaction or with IMPLICIT_TRANSACTIONS ON), 51215.
    /// </summary>
    public Task<DocumentMoved> MoveDocumentAsync(
        int documentId,
        int targetDocumentId,
        string position,
        int? actorUserId,
        int lockTimeoutMs = DefaultDocumentLockTimeoutMs,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
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
            cancellationToken);

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

    /// <summary>
    /// Benchmark only (<c>dbmerge bench move</c>): writes a bench user, two new roots owned by it (through
    /// api.Document_Create) and, under the first root, a subtree of <paramref name="nodes"/> documents (its root, about
    /// sqrt(n) children, their children) each with one direct 'editor' access. Data is left in place.
    /// </summary>
    public async Task<MoveBenchmarkTree> SeedMoveBenchmarkAsync(int nodes, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        const string sql = """
            SET NOCOUNT, XACT_ABORT ON;
            DECLARE @UserId int, @SourceRoot int, @TargetRoot int, @Moved int, @MovedPath varchar(252), @Fan bigint;
            DECLARE @NewUser TABLE (UserId int NOT NULL);
            INSERT INTO app.[User] (Email, DisplayName)
            OUTPUT inserted.UserId INTO @NewUser (UserId)
            VALUES (CONCAT(N'bench-move-', NEWID(), N'@example.invalid'), N'bench move');
            SELECT @UserId = nu.UserId FROM @NewUser AS nu;
            EXEC api.Document_Create @ParentDocumentId = NULL, @Title = N'bench move source', @CreatorUserId = @UserId, @DocumentId = @SourceRoot OUTPUT;
            EXEC api.Document_Create @ParentDocumentId = NULL, @Title = N'bench move target', @CreatorUserId = @UserId, @DocumentId = @TargetRoot OUTPUT;
            EXEC api.Document_Create @ParentDocumentId = @SourceRoot, @Title = N'bench move subtree', @CreatorUserId = @UserId, @DocumentId = @Moved OUTPUT;
            SELECT @MovedPath = d.Path FROM app.Document AS d WHERE d.DocumentId = @Moved;
            SET @Fan = CEILING(SQRT(CONVERT(float, CASE WHEN @Nodes > 1 THEN @Nodes - 1 ELSE 1 END)));
            BEGIN TRANSACTION;
            WITH Numbers AS
            (
                SELECT TOP (@Nodes - 1) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) - 1 AS N
                FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b CROSS JOIN sys.all_objects AS c
            )
            INSERT INTO app.Document (Path, Title, CreatorUserId)
            SELECT @MovedPath + s1.Step + CASE WHEN n.N % (@Fan + 1) = 0 THEN '' ELSE s2.Step END,
                   CONCAT(N'bench ', n.N), @UserId
            FROM Numbers AS n
            CROSS APPLY dbmerge.Path_Step(n.N / (@Fan + 1) + 1) AS s1
            CROSS APPLY dbmerge.Path_Step(n.N % (@Fan + 1)) AS s2;
            INSERT INTO app.DocumentAccess (DocumentId, UserId, Role)
            SELECT d.DocumentId, @UserId, 'editor'
            FROM app.Document AS d
            WHERE d.Path >= @MovedPath AND d.Path < @MovedPath + '[';
            COMMIT TRANSACTION;
            SELECT @UserId AS UserId, @SourceRoot AS SourceRootId, @TargetRoot AS TargetRootId, @Moved AS SubtreeRootId,
                   (SELECT COUNT(*) FROM app.Document AS d WHERE d.Path >= @MovedPath AND d.Path < @MovedPath + '[') AS Documents;
            """;
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new SqlCommand(sql, connection)
        {
            CommandTimeout = (int)Math.Ceiling((timeout ?? TimeSpan.FromMinutes(30)).TotalSeconds),
        };
        command.Parameters.Add(new SqlParameter("@Nodes", SqlDbType.BigInt) { Value = nodes });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        // Skip the result sets of api.Document_Create up to the seed's own (the last one).
        MoveBenchmarkTree? tree = null;
        do
        {
            if (reader.FieldCount > 0 && reader.GetName(0) == "UserId" && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                tree = new MoveBenchmarkTree(
                    reader.Get<int>("UserId"), reader.Get<int>("SourceRootId"), reader.Get<int>("TargetRootId"),
                    reader.Get<int>("SubtreeRootId"), reader.Get<int>("Documents"));
            }
        }
        while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));

        return tree ?? throw new InvalidOperationException("The move benchmark seed returned no summary row.");
    }

    private static async Task ReadDocumentRowAsync(SqlDataReader reader, string procedure, CancellationToken cancellationToken)
    {
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"{procedure} returned no result row; its contract promises exactly one.");
        }
    }
}
