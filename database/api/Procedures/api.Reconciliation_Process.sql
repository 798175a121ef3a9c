SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Process
  Purpose:      merges one claimed reconciliation request (the inactive account into the active one) in its own
                transaction, or dry-runs a ready one. The operator-facing entry point of
                dbmerge.Reconciliation_ProcessOne, which holds the one call of the merge core and records the
                outcome: done with the merge run id in the merge's transaction, or error (number, message)
                after its rollback. The runner's loop is: api.Reconciliation_Claim, then this procedure with the
                claim, per request, so one failing request never affects another. Operator-only.
  Transaction:  none of its own; dbmerge.Reconciliation_ProcessOne owns the merge's transaction. Called inside an
                open transaction or with IMPLICIT_TRANSACTIONS ON it refuses (51501) without touching the
                caller's transaction.
  Result set:   that of dbmerge.Reconciliation_ProcessOne: one row per merge policy: RequestId int,
                MergeRunId bigint, DryRun bit, Status varchar(20), SchemaName sysname, TableName sysname,
                ColumnName sysname, Policy varchar(20), Moved int, Merged int, Deleted int, Conflicts int
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51520, 51522, 51523, 51524 and the merge core's 51100-51119: from dbmerge.Reconciliation_ProcessOne
  Example:      EXEC api.Reconciliation_Process @RequestId = 17, @ClaimId = 'C0FFEE00-0000-0000-0000-000000000017',
                     @DryRun = 0, @LockTimeoutMs = 10000, @MaxDurationMs = 600000, @RequestedBy = N'ops';
  Budget:       @MaxDurationMs is the merge's time budget (dbmerge.User_MergeCore, 51115 beyond); a client's command
                timeout must exceed it plus twice @LockTimeoutMs (DbMergeClient.MergeCommandTimeout).
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Process
    @RequestId     int,
    @ClaimId       uniqueidentifier = NULL,
    @DryRun        bit = 0,
    @LockTimeoutMs int = 10000,
    @MaxDurationMs int = 600000,
    @RequestedBy   nvarchar(128) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: the CATCH
       below rolls back, and the merge's procedure owns its transaction. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Reconciliation_Process: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, request %s); each request is merged in its own transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Process: %s is not a member of DbMergeOperator or db_owner; processing reconciliation requests is operator-only (request %s).',
                USER_NAME(), ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
            THROW 51500, @Message, 1;
        END;

        EXEC dbmerge.Reconciliation_ProcessOne
             @RequestId = @RequestId,
             @ClaimId = @ClaimId,
             @DryRun = @DryRun,
             @LockTimeoutMs = @LockTimeoutMs,
             @MaxDurationMs = @MaxDurationMs,
             @RequestedBy = @RequestedBy;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
