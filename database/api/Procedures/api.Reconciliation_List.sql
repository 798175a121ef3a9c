SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_List
  Purpose:      reconciliation requests by ascending id, one keyset page at a time (pass the last RequestId of
                a page as @AfterRequestId for the next), optionally only one status and/or one import.
                Operator-only (the rows name people's addresses). Never a token or a token hash.
                Each filter seeks: @Status on IX_dbmerge_ReconciliationRequest_Status (Status, RequestId),
                @ImportId on IX_dbmerge_ReconciliationRequest_ImportId (ImportId, RequestId), neither on the
                primary key; OPTION (RECOMPILE) compiles the plan for the filters actually given.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   at most @Top rows: RequestId int, ImportId int, LineNumber int, PairNumber smallint,
                SourceId nvarchar(100), ActiveEmail nvarchar(254), InactiveEmail nvarchar(254), ActiveUserId int,
                InactiveUserId int, Status varchar(20), StatusChangedAt datetime2(3), CreatedAt datetime2(3),
                ExpiresAt datetime2(3), ActiveConfirmedAt datetime2(3) NULL, InactiveConfirmedAt datetime2(3) NULL,
                Attempts int, MergeRunId bigint NULL, ErrorNumber int NULL, ErrorMessage nvarchar(2048) NULL
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51524 @Status is not a status, @Top is not 1..1000, or @AfterRequestId is negative
  Example:      EXEC api.Reconciliation_List @Status = 'error', @ImportId = NULL, @AfterRequestId = 0, @Top = 100;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_List
    @Status         varchar(20) = NULL,
    @ImportId       int = NULL,
    @AfterRequestId int = 0,
    @Top            int = 100
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_List: %s is not a member of DbMergeOperator or db_owner; reconciliation requests are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        IF (@Status IS NOT NULL AND @Status NOT IN ('pending-confirmation', 'ready', 'processing', 'done', 'error', 'expired', 'cancelled'))
           OR @Top IS NULL OR @Top NOT BETWEEN 1 AND 1000 OR @AfterRequestId IS NULL OR @AfterRequestId < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_List: @Status must be one of pending-confirmation, ready, processing, done, error, expired, cancelled (or NULL), @Top 1..1000 and @AfterRequestId >= 0 (status ''%s'', top %s, after %s).',
                ISNULL(CONVERT(nvarchar(20), @Status), N'NULL'), ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'), ISNULL(CONVERT(nvarchar(12), @AfterRequestId), N'NULL'));
            THROW 51524, @Message, 1;
        END;

        SELECT TOP (@Top)
               r.RequestId, r.ImportId, r.LineNumber, r.PairNumber, r.SourceId, r.ActiveEmail, r.InactiveEmail,
               r.ActiveUserId, r.InactiveUserId, r.Status, r.StatusChangedAt, r.CreatedAt, r.ExpiresAt,
               r.ActiveConfirmedAt, r.InactiveConfirmedAt, r.Attempts, r.MergeRunId, r.ErrorNumber, r.ErrorMessage
        FROM dbmerge.ReconciliationRequest AS r
        WHERE r.RequestId > @AfterRequestId
          AND (@Status IS NULL OR r.Status = @Status)
          AND (@ImportId IS NULL OR r.ImportId = @ImportId)
        ORDER BY r.RequestId
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
