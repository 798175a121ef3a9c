SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.BenchMove
  Purpose:      the seed of `dbmerge bench move`: a new bench user, two new roots owned by it (through
                api.Document_Create: "bench move source" and "bench move target") and, under the source root, a subtree
                of @Nodes documents (its root, about sqrt(@Nodes) children, their children), each with one direct
                'editor' access of the bench user.
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  the three api.Document_Create calls own theirs; then one transaction writes the subtree's
                documents and accesses (all or none).
  Result set:   the LAST result set (api.Document_Create returns one per call before it), one row:
                UserId int, SourceRootId int, TargetRootId int, SubtreeRootId int, Documents int
                (documents in the subtree, its root included: @Nodes).
  Errors:       50002 @Nodes outside 1..10000000.
  Example:      EXEC scenario.BenchMove @Nodes = 100000;
*/
CREATE OR ALTER PROCEDURE scenario.BenchMove
    @Nodes bigint
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @Nodes IS NULL OR @Nodes NOT BETWEEN 1 AND 10000000
    BEGIN
        DECLARE @Message nvarchar(2048) = FORMATMESSAGE(N'scenario.BenchMove: @Nodes must be 1..10000000 (got %s).',
            ISNULL(CONVERT(nvarchar(20), @Nodes), N'NULL'));
        THROW 50002, @Message, 1;
    END;

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

    /* Node n (0-based) is child n / (@Fan + 1) + 1 of the subtree root, or that child's child n % (@Fan + 1). */
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
END;
GO
