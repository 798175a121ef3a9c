SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_LateReferenceUsers
  Purpose:      the first @Top merged-away users that have late references (the generated
                dbmerge.User_LateReferenceUsers), for `dbmerge users sweep`, which sweeps each with api.User_Sweep in its
                own transaction.
  Transaction:  none (reads only).
  Result set:   UserId int, MergedIntoUserId int — ordered by MergedIntoUserId, UserId.
  Errors:       51110 @Top is missing or not 1..100000
  Example:      EXEC api.User_LateReferenceUsers @Top = 100;
*/
CREATE OR ALTER PROCEDURE api.User_LateReferenceUsers
    @Top int = 100
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF @Top IS NULL OR @Top NOT BETWEEN 1 AND 100000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_LateReferenceUsers: @Top must be 1..100000 (got %s).', ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        EXEC dbmerge.User_LateReferenceUsers @Top = @Top;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
