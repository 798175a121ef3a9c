SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Document_Tree
  Purpose:
    Lists the subtree of a document (the document and all its descendants) in path order, each with its own
    direct accesses, so an operator can inspect the result of a move. Descendants are read by one range seek
    on UQ_app_Document_Path ([Path, Path + '[') under the binary collation). Read-only.
  Transaction: none of its own; read committed, no locks kept. Callable anywhere.
  Result set (one row per document, ordered by Path):
    DocumentId int, ParentDocumentId int NULL (NULL for a root), Path varchar(252), Depth smallint,
    RelativeDepth int (0 for @DocumentId), Title nvarchar(255),
    Accesses nvarchar(max) (JSON array of {"userId":..|null,"team":..|null,"role":".."}, '[]' when none)
  Errors:
    51200  the document does not exist
    51212  @DocumentId is missing
  Example:
    EXEC api.Document_Tree @DocumentId = 1001;
*/
CREATE OR ALTER PROCEDURE api.Document_Tree
    @DocumentId int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    DECLARE @Path    varchar(252);

    BEGIN TRY
        IF @DocumentId IS NULL
        BEGIN
            SET @Message = N'api.Document_Tree: @DocumentId is required.';
            THROW 51212, @Message, 1;
        END;

        SELECT @Path = d.Path FROM app.Document AS d WHERE d.DocumentId = @DocumentId;

        IF @Path IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Tree: document %d does not exist.', @DocumentId);
            THROW 51200, @Message, 1;
        END;

        SELECT d.DocumentId,
               p.DocumentId AS ParentDocumentId,
               d.Path,
               d.Depth,
               d.Depth - DATALENGTH(@Path) / 7 AS RelativeDepth,
               d.Title,
               ISNULL((SELECT da.UserId AS userId, da.Team AS team, da.Role AS role
                       FROM app.DocumentAccess AS da
                       WHERE da.DocumentId = d.DocumentId
                       ORDER BY da.DocumentAccessId
                       FOR JSON PATH, INCLUDE_NULL_VALUES), N'[]') AS Accesses
        FROM app.Document AS d
        LEFT JOIN app.Document AS p
          ON DATALENGTH(d.Path) > 7
         AND p.Path = LEFT(d.Path, DATALENGTH(d.Path) - 7)
        WHERE d.Path >= @Path
          AND d.Path < @Path + '['
        ORDER BY d.Path;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
