SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Reconciliation_ProcessOne
  Purpose:      merges one reconciliation request: its inactive account into its active account, through the
                merge core (dbmerge.User_MergeCore) with the reason 'reconciliation request <id>'. This is the ONE
                place reconciliation calls the merge core, following the core's contract (its header): the run's
                history row is started by dbmerge.MergeRun_Start before the transaction (committed, status running;
                the session holds applock DbMerge.MergeRun:<id>, so a run whose session dies shows as abandoned);
                this procedure owns the transaction; the core locks both users (L1 applocks, L2 user rows), re-checks
                them, applies every policy in batches of 1000 rows within the time budget @MaxDurationMs (51115 beyond:
                a client's command timeout must exceed that plus twice @LockTimeoutMs), journals every change
                (dbmerge.MergeChange) and writes the committed status inside the transaction; on failure it rolls
                the transaction back and records the run refused or failed before re-throwing. After the commit (or
                the rollback of a dry run, or in the CATCH after the rollback) dbmerge.MergeRun_Finish ends the run
                and releases its applock.
                A real run requires the claim of api.Reconciliation_Claim (Status processing with @ClaimId). In one
                transaction: the merge, two 'reconciliation.done' outbox events (one per address), and
                processing -> done with the merge run id — written last, only while the claim is still this one
                (the abandoned-claim sweep may have taken it: 51522, and the merge is rolled back). On failure the
                transaction is rolled back first and only then are the failure recorded: the run's refused/failed
                history row and processing -> error with the error number and message, so one failing request
                never affects another and can be retried (process --retry-errors) once its cause is fixed.
                A dry run (@DryRun = 1, no claim) merges a ready (or error) request and rolls it back: the request
                does not change, the history gets a dry-run row, the result is the same summary.
                  'reconciliation.done' {"requestId":..,"importId":..,"sourceId":"..","side":"active"|"inactive",
                                         "email":"..","otherEmail":"..","mergeRunId":..}
                  dedupe key reconciliation.done:<RequestId>:<side>
  Transaction:  OWNS its transaction (the merge core requires one). Called inside an open transaction or with
                IMPLICIT_TRANSACTIONS ON it refuses (51501) without touching the caller's transaction.
  Lock order:   nothing is locked before the merge: the request row is read without a lock (the claim already
                committed it as processing) and the addresses come from the request, not from app.User. The run's
                row and applock (dbmerge.MergeRun_Start, a new id: outside the lock order) commit before the
                transaction. Then the merge core's order (L1 applocks DbMerge.User:<id> ascending, L2 user rows, L3
                the application tables in the documented order, dbmerge.MergeChange, dbmerge.MergeRun), then
                dbmerge.Outbox (the done events), then the request row (processing -> done). The failure path after
                the rollback writes dbmerge.MergeRun (MergeRun_Finish), then the request row. No lock is ever taken
                out of that order.
  Result set:   one row per merge policy, by the policy's ApplyOrder: RequestId int, MergeRunId bigint,
                DryRun bit, Status varchar(20) (done; for a dry run the request's unchanged status),
                SchemaName sysname, TableName sysname, ColumnName sysname, Policy varchar(20),
                Moved int, Merged int, Deleted int, Conflicts int (meanings in dbmerge.User_MergeCore).
  Errors:
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51520 no reconciliation request has the id @RequestId
                51522 the request is not claimed by @ClaimId (another processor, the abandoned-claim sweep, or not
                      claimed at all); nothing was merged, or the merge was rolled back
                51523 a dry run of a request that is neither ready nor error
                51524 a parameter is missing or out of range (@ClaimId required unless @DryRun, none for a dry run,
                      @LockTimeoutMs 0..600000, @MaxDurationMs 1000..86400000)
                51100-51119 from dbmerge.User_MergeCore and dbmerge.MergeRun_Start (e.g. 51104 the inactive account
                      was merged meanwhile, 51106 refused collision, 51108 a lock timed out, 51115 the time budget
                      was used up): recorded on the request, re-thrown
  Example:      EXEC dbmerge.Reconciliation_ProcessOne @RequestId = 17, @ClaimId = 'C0FFEE00-0000-0000-0000-000000000017',
                     @DryRun = 0, @LockTimeoutMs = 10000, @MaxDurationMs = 300000, @RequestedBy = N'ops';
*/
CREATE OR ALTER PROCEDURE dbmerge.Reconciliation_ProcessOne
    @RequestId     int,
    @ClaimId       uniqueidentifier,
    @DryRun        bit,
    @LockTimeoutMs int,
    @MaxDurationMs int,
    @RequestedBy   nvarchar(128)
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: THROW
       honours XACT_ABORT (with it ON the THROW would roll the caller's work back) and the CATCH below rolls back. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, request %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message        nvarchar(2048);
    DECLARE @Found          bit = 0;
    DECLARE @Status         varchar(20);
    DECLARE @ClaimMatches   bit = 0;
    DECLARE @ImportId       int;
    DECLARE @SourceId       nvarchar(100);
    DECLARE @ActiveEmail    nvarchar(254);
    DECLARE @InactiveEmail  nvarchar(254);
    DECLARE @ActiveUserId   int;
    DECLARE @InactiveUserId int;
    DECLARE @Requester      nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @Reason         nvarchar(400);
    DECLARE @MergeRunId     bigint;
    DECLARE @Now            datetime2(3);
    DECLARE @SummaryJson    nvarchar(max);
    DECLARE @Outcome        varchar(10);
    DECLARE @ErrorNumber    int;
    DECLARE @ErrorMessage   nvarchar(2048);

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF @RequestId IS NULL OR @DryRun IS NULL OR (@DryRun = 0 AND @ClaimId IS NULL) OR (@DryRun = 1 AND @ClaimId IS NOT NULL)
           OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000
           OR @MaxDurationMs IS NULL OR @MaxDurationMs NOT BETWEEN 1000 AND 86400000
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: @RequestId and @DryRun are required, @ClaimId is required for a real run and must be NULL for a dry run, @LockTimeoutMs 0..600000, @MaxDurationMs 1000..86400000 (request %s, dry run %s, lock timeout %s, budget %s).',
                ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @DryRun), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'), ISNULL(CONVERT(nvarchar(12), @MaxDurationMs), N'NULL'));
            THROW 51524, @Message, 1;
        END;

        /* The request (PK), read without a lock: its claim is committed, and nothing is locked before the merge. */
        SELECT @Found = 1, @Status = r.Status, @ClaimMatches = IIF(r.ClaimId = @ClaimId, 1, 0), @ImportId = r.ImportId,
               @SourceId = r.SourceId, @ActiveEmail = r.ActiveEmail, @InactiveEmail = r.InactiveEmail,
               @ActiveUserId = r.ActiveUserId, @InactiveUserId = r.InactiveUserId
        FROM dbmerge.ReconciliationRequest AS r
        WHERE r.RequestId = @RequestId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: reconciliation request %d does not exist.', @RequestId);
            THROW 51520, @Message, 1;
        END;

        IF @DryRun = 0 AND (@Status <> 'processing' OR @ClaimMatches = 0)
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: request %d is %s and not claimed by this processor; nothing was merged (claim it with api.Reconciliation_Claim).',
                @RequestId, @Status);
            THROW 51522, @Message, 1;
        END;

        IF @DryRun = 1 AND @Status NOT IN ('ready', 'error')
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: request %d is %s; a dry run needs a ready (or error) request.', @RequestId, @Status);
            THROW 51523, @Message, 1;
        END;

        SET @Reason = CONCAT(N'reconciliation request ', @RequestId);

        /* ---- the run's history row: committed, status running, before the merge transaction ----------- */
        EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @InactiveUserId, @TargetUserId = @ActiveUserId,
             @RequestedBy = @Requester, @Reason = @Reason, @IsDryRun = @DryRun, @MergeRunId = @MergeRunId OUTPUT;

        /* ---- the merge: the core takes its locks in the documented order ------------------------------- */
        BEGIN TRANSACTION;

        EXEC dbmerge.User_MergeCore
             @MergeRunId = @MergeRunId,
             @Mode = 'merge',
             @SourceUserId = @InactiveUserId,
             @TargetUserId = @ActiveUserId,
             @IsDryRun = @DryRun,
             @LockTimeoutMs = @LockTimeoutMs,
             @MaxDurationMs = @MaxDurationMs,
             @BatchSize = 1000,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
            /* Same code path, rolled back; the summary lives in a variable and survives the rollback. */
            ROLLBACK TRANSACTION;
            SET @Outcome = 'dry-run';
        END
        ELSE
        BEGIN
            SET @Now = SYSUTCDATETIME();

            /* dbmerge.Outbox: the outcome to both addresses. */
            INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
            SELECT 'reconciliation.done',
                   CONCAT(N'reconciliation.done:', @RequestId, N':', s.Side),
                   (SELECT @RequestId AS requestId, @ImportId AS importId, @SourceId AS sourceId, s.Side AS side,
                           s.Email AS email, s.OtherEmail AS otherEmail, @MergeRunId AS mergeRunId
                    FOR JSON PATH, WITHOUT_ARRAY_WRAPPER)
            FROM (VALUES (CONVERT(varchar(8), 'active'), @ActiveEmail, @InactiveEmail),
                         (CONVERT(varchar(8), 'inactive'), @InactiveEmail, @ActiveEmail)) AS s (Side, Email, OtherEmail);

            /* The request, last: processing -> done, only while the claim is still ours. */
            UPDATE dbmerge.ReconciliationRequest
            SET PreviousStatus = Status, Status = 'done', StatusChangedAt = @Now, FinishedAt = @Now,
                MergeRunId = @MergeRunId, ErrorNumber = NULL, ErrorMessage = NULL
            WHERE RequestId = @RequestId AND Status = 'processing' AND ClaimId = @ClaimId;

            IF @@ROWCOUNT = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: the claim of request %d was taken while it was merged (claim timeout exceeded: see reconciliation.claim_timeout_minutes); the merge was rolled back.', @RequestId);
                THROW 51522, @Message, 1;
            END;

            COMMIT TRANSACTION;
            SET @Outcome = 'committed';
        END;

        EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = @Outcome, @ErrorNumber = NULL,
             @ErrorMessage = NULL, @SummaryJson = @SummaryJson;

        /* ---- result: the merge summary ------------------------------------------------------------------ */
        SELECT @RequestId AS RequestId, @MergeRunId AS MergeRunId, @DryRun AS DryRun,
               CONVERT(varchar(20), IIF(@DryRun = 1, @Status, 'done')) AS Status,
               j.SchemaName, j.TableName, j.ColumnName, j.Policy, j.Moved, j.Merged, j.Deleted, j.Conflicts
        FROM dbmerge.MergeSummary_Rows(@SummaryJson) AS j
        ORDER BY j.ApplyOrder;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        /* Failure logging, after the rollback: the run ends refused or failed (a no-op when the core already
           recorded it, with its summary so far), only when the run was started ... */
        SET @ErrorNumber = ERROR_NUMBER();
        SET @ErrorMessage = ERROR_MESSAGE();
        IF @MergeRunId IS NOT NULL
            EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber,
                 @ErrorMessage = @ErrorMessage, @SummaryJson = @SummaryJson;

        /* ... and the request's error, only while it is still this processor's claim (never for a dry run). */
        UPDATE dbmerge.ReconciliationRequest
        SET PreviousStatus = Status, Status = 'error', StatusChangedAt = SYSUTCDATETIME(), FinishedAt = SYSUTCDATETIME(),
            ErrorNumber = ERROR_NUMBER(), ErrorMessage = LEFT(ERROR_MESSAGE(), 2048),
            MergeRunId = ISNULL(@MergeRunId, MergeRunId)
        WHERE RequestId = @RequestId AND Status = 'processing' AND ClaimId = @ClaimId AND @DryRun = 0;

        THROW;
    END CATCH;
END;
GO
