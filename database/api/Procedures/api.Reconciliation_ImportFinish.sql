SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_ImportFinish
  Purpose:      completes an import once every pair of its file has a recorded outcome (the counts add up to
                TotalPairs): CompletedAt is set and the import never changes again. Finishing a completed import
                is a no-op that returns it. Operator-only.
  Transaction:  OWNS its transaction (applock, check, update). Called inside an open transaction or with
                IMPLICIT_TRANSACTIONS ON it refuses (51501) without touching the caller's transaction.
  Lock order:   L1 applock N'DbMerge.ReconciliationImport' (as every import step), then the import row.
  Result set:   one row: ImportId int, FileName nvarchar(260), FileSha256 binary(32), ImportedBy nvarchar(128),
                StartedAt datetime2(3), CompletedAt datetime2(3), TotalRows int, TotalPairs int, CreatedCount int,
                DuplicateCount int, ConflictCount int, ErrorCount int, IsNew bit (always 0)
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51502 @ImportId is missing or @LockTimeoutMs is not 0..600000
                51503 no import has the id @ImportId
                51505 not every pair of the import has an outcome yet (send the missing batches, then finish)
                51506 the import applock was not granted within @LockTimeoutMs (another import is running)
  Example:      EXEC api.Reconciliation_ImportFinish @ImportId = 3, @LockTimeoutMs = 10000;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_ImportFinish
    @ImportId      int,
    @LockTimeoutMs int = 10000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: THROW
       honours XACT_ABORT (with it ON the THROW would roll the caller's work back) and the CATCH below rolls back. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.', @@TRANCOUNT);
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message    nvarchar(2048);
    DECLARE @LockResult int;
    DECLARE @Found      bit = 0;
    DECLARE @Completed  bit = 0;
    DECLARE @TotalPairs int;
    DECLARE @Recorded   int;

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: %s is not a member of DbMergeOperator or db_owner; reconciliation imports are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        IF @ImportId IS NULL OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: @ImportId is required and @LockTimeoutMs must be 0..600000 (import %s, lock timeout %s).',
                ISNULL(CONVERT(nvarchar(12), @ImportId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
            THROW 51502, @Message, 1;
        END;

        /* ---- take locks: the import applock (L1) ------------------------------------------------------- */
        BEGIN TRANSACTION;

        EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.ReconciliationImport', @LockMode = N'Exclusive',
             @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;
        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: another import holds the import lock (sp_getapplock returned %d after %d ms; import %d); nothing changed, retry when it has finished.',
                @LockResult, @LockTimeoutMs, @ImportId);
            THROW 51506, @Message, 1;
        END;

        /* ---- check and complete (PK_dbmerge_ReconciliationImport) ------------------------------------- */
        SELECT @Found = 1, @Completed = IIF(i.CompletedAt IS NULL, 0, 1), @TotalPairs = i.TotalPairs,
               @Recorded = i.CreatedCount + i.DuplicateCount + i.ConflictCount + i.ErrorCount
        FROM dbmerge.ReconciliationImport AS i
        WHERE i.ImportId = @ImportId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: import %d does not exist.', @ImportId);
            THROW 51503, @Message, 1;
        END;

        IF @Completed = 0 AND @Recorded <> @TotalPairs
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportFinish: import %d has outcomes for %d of its %d pairs; send the missing batches (api.Reconciliation_ImportBatch), then finish.',
                @ImportId, @Recorded, @TotalPairs);
            THROW 51505, @Message, 1;
        END;

        IF @Completed = 0
        BEGIN
            UPDATE dbmerge.ReconciliationImport
            SET CompletedAt = SYSUTCDATETIME()
            WHERE ImportId = @ImportId AND CompletedAt IS NULL;
        END;

        COMMIT TRANSACTION;

        /* ---- result ---------------------------------------------------------------------------------- */
        SELECT i.ImportId, i.FileName, i.FileSha256, i.ImportedBy, i.StartedAt, i.CompletedAt, i.TotalRows, i.TotalPairs,
               i.CreatedCount, i.DuplicateCount, i.ConflictCount, i.ErrorCount, CONVERT(bit, 0) AS IsNew
        FROM dbmerge.ReconciliationImport AS i
        WHERE i.ImportId = @ImportId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
