SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Get
  Purpose:      one reconciliation request in full: its import, its pair and the users it resolved to, its status
                and when it changed, both confirmations and whether each side's token is used, the processing
                claim, the merge run and the last error. Operator-only. Never a token or a token hash.
                Primary keys only: the request, its import, its two token rows.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   one row: RequestId int, ImportId int, FileName nvarchar(260), ImportedBy nvarchar(128),
                LineNumber int, PairNumber smallint, SourceId nvarchar(100), ActiveEmail nvarchar(254),
                InactiveEmail nvarchar(254), ActiveUserId int, InactiveUserId int, Status varchar(20),
                PreviousStatus varchar(20) NULL, StatusChangedAt datetime2(3), CreatedAt datetime2(3),
                ExpiresAt datetime2(3), ActiveConfirmedAt datetime2(3) NULL, InactiveConfirmedAt datetime2(3) NULL,
                ActiveTokenUsedAt datetime2(3) NULL, InactiveTokenUsedAt datetime2(3) NULL, ClaimedAt datetime2(3) NULL,
                ClaimedBy nvarchar(128) NULL, Attempts int, MergeRunId bigint NULL, ErrorNumber int NULL,
                ErrorMessage nvarchar(2048) NULL, FinishedAt datetime2(3) NULL, CancelledBy nvarchar(128) NULL,
                CancelReason nvarchar(400) NULL
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51520 no reconciliation request has the id @RequestId
  Example:      EXEC api.Reconciliation_Get @RequestId = 17;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Get
    @RequestId int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Get: %s is not a member of DbMergeOperator or db_owner; reconciliation requests are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        IF NOT EXISTS (SELECT 1 FROM dbmerge.ReconciliationRequest AS r WHERE r.RequestId = @RequestId)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Get: reconciliation request %s does not exist.', ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
            THROW 51520, @Message, 1;
        END;

        SELECT r.RequestId, r.ImportId, i.FileName, i.ImportedBy, r.LineNumber, r.PairNumber, r.SourceId,
               r.ActiveEmail, r.InactiveEmail, r.ActiveUserId, r.InactiveUserId, r.Status, r.PreviousStatus,
               r.StatusChangedAt, r.CreatedAt, r.ExpiresAt, r.ActiveConfirmedAt, r.InactiveConfirmedAt,
               ta.UsedAt AS ActiveTokenUsedAt, ti.UsedAt AS InactiveTokenUsedAt, r.ClaimedAt, r.ClaimedBy, r.Attempts,
               r.MergeRunId, r.ErrorNumber, r.ErrorMessage, r.FinishedAt, r.CancelledBy, r.CancelReason
        FROM dbmerge.ReconciliationRequest AS r
        JOIN dbmerge.ReconciliationImport AS i ON i.ImportId = r.ImportId
        LEFT JOIN dbmerge.ReconciliationToken AS ta ON ta.RequestId = r.RequestId AND ta.Side = 'active'
        LEFT JOIN dbmerge.ReconciliationToken AS ti ON ti.RequestId = r.RequestId AND ti.Side = 'inactive'
        WHERE r.RequestId = @RequestId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
