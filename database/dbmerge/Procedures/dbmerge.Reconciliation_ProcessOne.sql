SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Reconciliation_ProcessOne
  Purpose:      merges one reconciliation request: its inactive account into its active account, through the
                merge core (dbmerge.User_MergeCore) with the reason 'reconciliation request <id>'. This is the ONE
                place reconciliation calls the merge core; it is written against the core's contract of
                migration 0011 / dbmerge.User_MergeCore as on main before merge v2: the caller allocates the run id
                from dbmerge.MergeRunSequence and owns the transaction, the core locks both users (applocks
                DbMerge.User:<id>, ascending), re-checks them under the locks, applies every policy, writes the
                committed (or dry-run) dbmerge.MergeRun row and the journal, and on failure rolls the transaction
                back before re-throwing; the caller writes the refused/failed (or dry-run) history row after the
                rollback, as api.User_Merge does.
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
                committed it as processing) and the addresses come from the request, not from app.User. Then the
                merge core's order (L1 applocks DbMerge.User:<id> ascending, L2 user rows, L3 the application
                tables in the documented order, dbmerge.MergeRun, dbmerge.MergeJournal), then dbmerge.Outbox (the
                done events), then the request row (processing -> done). The failure path after the rollback
                writes dbmerge.MergeRun, then the request row. No lock is ever taken out of that order.
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
                      @LockTimeoutMs 0..600000)
                51100-51111 from dbmerge.User_MergeCore (e.g. 51104 the inactive account was merged meanwhile,
                      51106 refused collision, 51108 a user lock timed out): recorded on the request, re-thrown
  Example:      EXEC dbmerge.Reconciliation_ProcessOne @RequestId = 17, @ClaimId = 'C0FFEE00-0000-0000-0000-000000000017',
                     @DryRun = 0, @LockTimeoutMs = 10000, @RequestedBy = N'ops';
*/
CREATE OR ALTER PROCEDURE dbmerge.Reconciliation_ProcessOne
    @RequestId     int,
    @ClaimId       uniqueidentifier,
    @DryRun        bit,
    @LockTimeoutMs int,
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
    DECLARE @StartedAt      datetime2(3);
    DECLARE @Now            datetime2(3);
    DECLARE @SummaryJson    nvarchar(max);
    DECLARE @CoreCalled     bit = 0;

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF @RequestId IS NULL OR @DryRun IS NULL OR (@DryRun = 0 AND @ClaimId IS NULL) OR (@DryRun = 1 AND @ClaimId IS NOT NULL)
           OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Reconciliation_ProcessOne: @RequestId and @DryRun are required, @ClaimId is required for a real run and must be NULL for a dry run, @LockTimeoutMs 0..600000 (request %s, dry run %s, lock timeout %s).',
                ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @DryRun), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
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
        SET @StartedAt = SYSUTCDATETIME();
        SET @MergeRunId = NEXT VALUE FOR dbmerge.MergeRunSequence;

        /* ---- the merge: the core takes its locks in the documented order ------------------------------- */
        BEGIN TRANSACTION;

        SET @CoreCalled = 1;
        EXEC dbmerge.User_MergeCore
             @MergeRunId = @MergeRunId,
             @SourceUserId = @InactiveUserId,
             @TargetUserId = @ActiveUserId,
             @Reason = @Reason,
             @RequestedBy = @Requester,
             @IsDryRun = @DryRun,
             @StartedAt = @StartedAt,
             @LockTimeoutMs = @LockTimeoutMs,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
            /* Same code path, rolled back; the summary lives in a variable and survives the rollback. */
            ROLLBACK TRANSACTION;

            INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, FinishedAt, SummaryJson)
            VALUES (@MergeRunId, @InactiveUserId, @ActiveUserId, @Requester, @Reason, 1, 'dry-run', @StartedAt, SYSUTCDATETIME(), @SummaryJson);
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
        END;

        /* ---- result: the merge summary ------------------------------------------------------------------ */
        SELECT @RequestId AS RequestId, @MergeRunId AS MergeRunId, @DryRun AS DryRun,
               CONVERT(varchar(20), IIF(@DryRun = 1, @Status, 'done')) AS Status,
               j.SchemaName, j.TableName, j.ColumnName, j.Policy, j.Moved, j.Merged, j.Deleted, j.Conflicts
        FROM OPENJSON(@SummaryJson)
             WITH (ApplyOrder smallint, SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128), Policy varchar(20),
                   Moved int, Merged int, Deleted int, Conflicts int) AS j
        ORDER BY j.ApplyOrder;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        /* Failure logging, after the rollback: the run's history row (a 51xxx refusal is 'refused'), as
           api.User_Merge writes it, only when the merge was attempted ... */
        INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, FinishedAt, ErrorNumber, ErrorMessage, SummaryJson)
        SELECT @MergeRunId, @InactiveUserId, @ActiveUserId, @Requester, @Reason, @DryRun,
               IIF(ERROR_NUMBER() BETWEEN 51000 AND 51999 AND ERROR_NUMBER() <> 51107, 'refused', 'failed'),
               @StartedAt, SYSUTCDATETIME(), ERROR_NUMBER(), LEFT(ERROR_MESSAGE(), 2048), @SummaryJson
        WHERE @CoreCalled = 1;

        /* ... and the request's error, only while it is still this processor's claim (never for a dry run). */
        UPDATE dbmerge.ReconciliationRequest
        SET PreviousStatus = Status, Status = 'error', StatusChangedAt = SYSUTCDATETIME(), FinishedAt = SYSUTCDATETIME(),
            ErrorNumber = ERROR_NUMBER(), ErrorMessage = LEFT(ERROR_MESSAGE(), 2048),
            MergeRunId = IIF(@CoreCalled = 1, @MergeRunId, MergeRunId)
        WHERE RequestId = @RequestId AND Status = 'processing' AND ClaimId = @ClaimId AND @DryRun = 0;

        THROW;
    END CATCH;
END;
GO
