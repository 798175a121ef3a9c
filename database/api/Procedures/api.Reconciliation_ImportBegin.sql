SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_ImportBegin
  Purpose:      starts (or finds) the import of one reconciliation CSV file. The file is identified by the
                SHA-256 of its bytes: the same bytes imported again find the recorded import (IsNew = 0) instead of
                creating another, so re-importing a file is harmless — a completed import (CompletedAt set) is
                never changed again, an interrupted one is resumed (api.Reconciliation_ImportBatch returns the
                outcome already recorded for every line it knows and decides only the others). Operator-only.
                The runner then sends the rows with api.Reconciliation_ImportBatch and ends with
                api.Reconciliation_ImportFinish.
  Transaction:  OWNS its transaction (applock, lookup, insert). Called inside an open transaction or with
                IMPLICIT_TRANSACTIONS ON it refuses (51501) without touching the caller's transaction.
  Concurrency:  imports serialize on the transaction-owned applock N'DbMerge.ReconciliationImport' (Exclusive,
                @LockTimeoutMs; 51506 when not granted): two imports can never both decide that an id is new.
                No other DbMerge procedure takes it, and an import takes no other applock.
  Result set:   one row: ImportId int, FileName nvarchar(260), FileSha256 binary(32), ImportedBy nvarchar(128),
                StartedAt datetime2(3), CompletedAt datetime2(3) NULL, TotalRows int, TotalPairs int,
                CreatedCount int, DuplicateCount int, ConflictCount int, ErrorCount int, IsNew bit
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51502 a parameter is missing or out of range (@FileName 1-260 characters, @FileSha256,
                      @TotalRows/@TotalPairs 0..10000000, @LockTimeoutMs 0..600000)
                51504 the file was imported before with other row counts (the parser changed?): nothing changed
                51506 the import applock was not granted within @LockTimeoutMs (another import is running)
  Example:      EXEC api.Reconciliation_ImportBegin @FileName = N'accounts.csv', @FileSha256 = 0x9F86D0…,
                     @TotalRows = 2, @TotalPairs = 3, @ImportedBy = N'ops', @LockTimeoutMs = 10000;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_ImportBegin
    @FileName      nvarchar(260),
    @FileSha256    binary(32),
    @TotalRows     int,
    @TotalPairs    int,
    @ImportedBy    nvarchar(128) = NULL,
    @LockTimeoutMs int = 10000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: THROW
       honours XACT_ABORT (with it ON the THROW would roll the caller's work back) and the CATCH below rolls back. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Reconciliation_ImportBegin: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.', @@TRANCOUNT);
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message         nvarchar(2048);
    DECLARE @Who             nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@ImportedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @Name            nvarchar(260) = LTRIM(RTRIM(@FileName));
    DECLARE @LockResult      int;
    DECLARE @ImportId        int;
    DECLARE @RecordedRows    int;
    DECLARE @RecordedPairs   int;
    DECLARE @IsNew           bit = 0;
    DECLARE @Inserted TABLE (ImportId int NOT NULL);

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBegin: %s is not a member of DbMergeOperator or db_owner; reconciliation imports are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        IF NULLIF(@Name, N'') IS NULL OR @FileSha256 IS NULL
           OR @TotalRows IS NULL OR @TotalRows NOT BETWEEN 0 AND 10000000
           OR @TotalPairs IS NULL OR @TotalPairs NOT BETWEEN 0 AND 10000000
           OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBegin: @FileName (1-260 characters) and @FileSha256 are required, @TotalRows and @TotalPairs must be 0..10000000 and @LockTimeoutMs 0..600000 (file ''%s'', rows %s, pairs %s, lock timeout %s).',
                ISNULL(LEFT(@Name, 260), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TotalRows), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @TotalPairs), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
            THROW 51502, @Message, 1;
        END;

        /* ---- take locks: the import applock (L1) ------------------------------------------------------- */
        BEGIN TRANSACTION;

        EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.ReconciliationImport', @LockMode = N'Exclusive',
             @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;
        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBegin: another import holds the import lock (sp_getapplock returned %d after %d ms; file ''%s''); nothing changed, retry when it has finished.',
                @LockResult, @LockTimeoutMs, @Name);
            THROW 51506, @Message, 1;
        END;

        /* ---- the work: find the file's import by its SHA-256 (UQ_dbmerge_ReconciliationImport_FileSha256),
                or record a new one. The applock makes the lookup and the insert one step. ------------------ */
        SELECT @ImportId = i.ImportId, @RecordedRows = i.TotalRows, @RecordedPairs = i.TotalPairs
        FROM dbmerge.ReconciliationImport AS i
        WHERE i.FileSha256 = @FileSha256;

        IF @ImportId IS NOT NULL AND (@RecordedRows <> @TotalRows OR @RecordedPairs <> @TotalPairs)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBegin: the file ''%s'' was imported before as import %d with %d rows and %d pairs, not %d rows and %d pairs (was it parsed by another version of the runner?); nothing changed.',
                @Name, @ImportId, @RecordedRows, @RecordedPairs, @TotalRows, @TotalPairs);
            THROW 51504, @Message, 1;
        END;

        IF @ImportId IS NULL
        BEGIN
            INSERT INTO dbmerge.ReconciliationImport (FileName, FileSha256, ImportedBy, TotalRows, TotalPairs)
            OUTPUT inserted.ImportId INTO @Inserted (ImportId)
            VALUES (@Name, @FileSha256, @Who, @TotalRows, @TotalPairs);

            SELECT @ImportId = n.ImportId FROM @Inserted AS n;
            SET @IsNew = 1;
        END;

        COMMIT TRANSACTION;

        /* ---- result ---------------------------------------------------------------------------------- */
        SELECT i.ImportId, i.FileName, i.FileSha256, i.ImportedBy, i.StartedAt, i.CompletedAt, i.TotalRows, i.TotalPairs,
               i.CreatedCount, i.DuplicateCount, i.ConflictCount, i.ErrorCount, @IsNew AS IsNew
        FROM dbmerge.ReconciliationImport AS i
        WHERE i.ImportId = @ImportId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
