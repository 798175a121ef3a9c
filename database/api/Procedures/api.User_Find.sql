SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_Find
  Purpose:      finds users by id or by e-mail (case-insensitive; active and inactive accounts), so an operator
                can name a merge's source and target either way. An e-mail may match several accounts (one
                active, any number inactive): all are returned and the caller decides.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   UserId int, Email nvarchar(254), DisplayName nvarchar(200), IsActive bit, MergedIntoUserId int,
                CreatedAt datetime2(3) — zero or more rows, ordered by UserId.
  Errors:       51110 neither or both of @UserId and @Email given
  Example:      EXEC api.User_Find @UserId = NULL, @Email = N'ada@example.org';
*/
CREATE OR ALTER PROCEDURE api.User_Find
    @UserId int = NULL,
    @Email  nvarchar(254) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF (@UserId IS NULL AND NULLIF(LTRIM(RTRIM(@Email)), N'') IS NULL)
           OR (@UserId IS NOT NULL AND NULLIF(LTRIM(RTRIM(@Email)), N'') IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Find: give exactly one of @UserId and @Email (got %s and %s).',
                ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'), ISNULL(@Email, N'NULL'));
            THROW 51110, @Message, 1;
        END;

        SELECT u.UserId, u.Email, u.DisplayName, u.IsActive, u.MergedIntoUserId, u.CreatedAt
        FROM app.[User] AS u
        WHERE u.UserId = @UserId
           OR u.Email = LTRIM(RTRIM(@Email))
        ORDER BY u.UserId
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
