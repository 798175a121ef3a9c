SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.MergeRun_List
  Purpose:      lists user merge runs (dbmerge.MergeRun), newest first, optionally only those where @UserId was
                the source or the target.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   MergeRunId bigint, SourceUserId int, TargetUserId int, RequestedBy nvarchar(128),
                Reason nvarchar(400), IsDryRun bit, Status varchar(10), StartedAt datetime2(3),
                FinishedAt datetime2(3), ErrorNumber int, ErrorMessage nvarchar(2048)
  Errors:       51110 @Top is missing or not 1..10000
  Example:      EXEC api.MergeRun_List @UserId = 42, @Top = 50;
*/
CREATE OR ALTER PROCEDURE api.MergeRun_List
    @UserId int = NULL,
    @Top    int = 100
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF @Top IS NULL OR @Top NOT BETWEEN 1 AND 10000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.MergeRun_List: @Top must be 1..10000 (got %s).', ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        SELECT TOP (@Top)
               r.MergeRunId, r.SourceUserId, r.TargetUserId, r.RequestedBy, r.Reason, r.IsDryRun, r.Status,
               r.StartedAt, r.FinishedAt, r.ErrorNumber, r.ErrorMessage
        FROM dbmerge.MergeRun AS r
        WHERE @UserId IS NULL OR r.SourceUserId = @UserId OR r.TargetUserId = @UserId
        ORDER BY r.MergeRunId DESC
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
