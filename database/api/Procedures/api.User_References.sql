SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_References
  Purpose:      counts, for one user, the rows of every foreign key column that references app.User (found in
                sys.foreign_keys, so a column added later is counted too) and the pending invitations addressed
                to the user's e-mail when no active account shares it. After a merge, every count for the source
                must be 0: the runner's verification uses it. Runs AS OWNER so the catalog is fully visible; its
                dynamic SQL is built from catalog names with QUOTENAME and takes the user id as a parameter.
  Transaction:  none (reads only; it neither begins nor requires one).
  Result set:   SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128),
                ReferencingRows bigint — one row per column, ordered by schema, table, column.
  Errors:       51110 @UserId is missing
                51113 the user does not exist
  Example:      EXEC api.User_References @UserId = 42;
*/
CREATE OR ALTER PROCEDURE api.User_References
    @UserId int
WITH EXECUTE AS OWNER
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    DECLARE @Email nvarchar(254);
    DECLARE @EmailOfActiveUser bit;
    DECLARE @Sql nvarchar(max);

    BEGIN TRY
        IF @UserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_References: @UserId is required.');
            THROW 51110, @Message, 1;
        END;

        SELECT @Email = u.Email FROM app.[User] AS u WHERE u.UserId = @UserId;
        IF @Email IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_References: user %d does not exist.', @UserId);
            THROW 51113, @Message, 1;
        END;

        /* An address that an active account (the user itself or the one it was merged into) holds is that
           account's: invitations to it are not residue. */
        SET @EmailOfActiveUser = IIF(EXISTS (SELECT 1 FROM app.[User] AS a WHERE a.Email = @Email AND a.IsActive = 1 AND a.UserId <> @UserId), 1, 0);

        SELECT @Sql = STRING_AGG(CONVERT(nvarchar(max),
                   N'SELECT N' + QUOTENAME(s.name, N'''') + N' AS SchemaName, N' + QUOTENAME(t.name, N'''')
                   + N' AS TableName, N' + QUOTENAME(c.name, N'''') + N' AS ColumnName, COUNT_BIG(*) AS ReferencingRows FROM '
                   + QUOTENAME(s.name) + N'.' + QUOTENAME(t.name) + N' WHERE ' + QUOTENAME(c.name) + N' = @UserId'),
                   N' UNION ALL ')
        FROM sys.foreign_key_columns AS fkc
        JOIN sys.tables AS t ON t.object_id = fkc.parent_object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        JOIN sys.columns AS c ON c.object_id = fkc.parent_object_id AND c.column_id = fkc.parent_column_id
        WHERE fkc.referenced_object_id = OBJECT_ID(N'app.[User]');

        SET @Sql = N'SELECT r.SchemaName, r.TableName, r.ColumnName, r.ReferencingRows FROM ('
            + @Sql
            + N' UNION ALL SELECT N''app'', N''DocumentInvitation'', N''Email'', COUNT_BIG(*) FROM app.DocumentInvitation WHERE @EmailOfActiveUser = 0 AND Email = @Email'
            + N' UNION ALL SELECT N''app'', N''Invitation'', N''Email'', COUNT_BIG(*) FROM app.Invitation WHERE @EmailOfActiveUser = 0 AND Email = @Email AND Status = ''pending'''
            + N') AS r ORDER BY r.SchemaName, r.TableName, r.ColumnName;';

        EXEC sys.sp_executesql
             @stmt = @Sql,
             @params = N'@UserId int, @Email nvarchar(254), @EmailOfActiveUser bit',
             @UserId = @UserId, @Email = @Email, @EmailOfActiveUser = @EmailOfActiveUser;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
