SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Claim
  Purpose:      a processor claims the next request to merge: the ready request with the lowest id
                (ready -> processing), or, with @RetryErrors = 1 and no ready request left, the lowest error
                request whose error was recorded before @RetryErrorsBefore (error -> processing: a retry after
                its cause was fixed). A run passes the ServerNow of its first claim as @RetryErrorsBefore of the
                next ones (NULL means now), so each error is retried at most once per run, by the server's clock. The claim commits at once with a new ClaimId, ClaimedAt, ClaimedBy and
                Attempts + 1, so the merge that follows (api.Reconciliation_Process) runs with no lock on the
                request row: the merge takes its own locks in the documented order, and a processor that dies
                leaves a visible processing row instead of a blocked one. Two processors never claim the same
                request: the claim reads WITH (READPAST, UPDLOCK, ROWLOCK), so a row another processor is
                claiming is skipped, not waited for, and a claimed row is no longer ready. Operator-only.
                Before claiming, two bounded sweeps (at most 500 and 100 rows, READPAST):
                  expiry     pending-confirmation requests whose ExpiresAt has passed -> expired
                             (IX_dbmerge_ReconciliationRequest_PendingExpiresAt);
                  abandoned  processing requests claimed longer ago than reconciliation.claim_timeout_minutes
                             -> error 51522 (the processor was killed or timed out; its merge transaction was
                             rolled back with it, since done is written in that transaction)
                             (IX_dbmerge_ReconciliationRequest_Status, Status = 'processing').
                The claim itself seeks IX_dbmerge_ReconciliationRequest_Status (Status, RequestId).
  Transaction:  none of its own: each of its three UPDATE statements is atomic and commits on its own (a claim
                must be visible before the merge starts). Inside a caller's transaction the claim would stay
                uncommitted, and api.Reconciliation_Process refuses to run in one (51501).
  Result set:   one row: RequestId int NULL (NULL: nothing to claim), ClaimId uniqueidentifier NULL,
                SourceId nvarchar(100), ActiveEmail nvarchar(254), InactiveEmail nvarchar(254), ActiveUserId int,
                InactiveUserId int, Attempts int, IsRetry bit (the other columns NULL when nothing was claimed),
                ExpiredCount int, AbandonedCount int, ServerNow datetime2(3)
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51507 the setting reconciliation.claim_timeout_minutes is missing or invalid (1..1440)
                51524 @RetryErrors is NULL
  Example:      EXEC api.Reconciliation_Claim @RetryErrors = 0, @RetryErrorsBefore = NULL, @ClaimedBy = N'ops@host';
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Claim
    @RetryErrors       bit           = 0,
    @RetryErrorsBefore datetime2(3)  = NULL,
    @ClaimedBy         nvarchar(128) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message        nvarchar(2048);
    DECLARE @Who            nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@ClaimedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @TimeoutText    nvarchar(2000);
    DECLARE @TimeoutMinutes int;
    DECLARE @Now            datetime2(3);
    DECLARE @AbandonedSince datetime2(3);
    DECLARE @ExpiredCount   int = 0;
    DECLARE @AbandonedCount int = 0;
    DECLARE @Claimed TABLE
    (
        RequestId      int               NOT NULL,
        ClaimId        uniqueidentifier  NOT NULL,
        SourceId       nvarchar(100)     NOT NULL,
        ActiveEmail    nvarchar(254)     NOT NULL,
        InactiveEmail  nvarchar(254)     NOT NULL,
        ActiveUserId   int               NOT NULL,
        InactiveUserId int               NOT NULL,
        Attempts       int               NOT NULL,
        IsRetry        bit               NOT NULL
    );

    BEGIN TRY
        /* ---- check parameters ---------------------------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Claim: %s is not a member of DbMergeOperator or db_owner; processing reconciliation requests is operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        IF @RetryErrors IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Claim: @RetryErrors must be 0 or 1 (got NULL).');
            THROW 51524, @Message, 1;
        END;

        SELECT @TimeoutText = s.Value FROM dbmerge.Setting AS s WHERE s.Name = 'reconciliation.claim_timeout_minutes';
        SET @TimeoutMinutes = TRY_CONVERT(int, @TimeoutText);

        IF @TimeoutMinutes IS NULL OR @TimeoutMinutes NOT BETWEEN 1 AND 1440
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Claim: the setting reconciliation.claim_timeout_minutes must be 1..1440 (got %s); see dbmerge settings set.',
                ISNULL(LEFT(@TimeoutText, 20), N'NULL'));
            THROW 51507, @Message, 1;
        END;

        SET @Now = SYSUTCDATETIME();
        SET @AbandonedSince = DATEADD(MINUTE, -@TimeoutMinutes, @Now);

        /* ---- sweep: expired confirmations (at most 500 rows; a request being confirmed is skipped) ----- */
        UPDATE TOP (500) r
        SET r.PreviousStatus = r.Status, r.Status = 'expired', r.StatusChangedAt = @Now, r.FinishedAt = @Now
        FROM dbmerge.ReconciliationRequest AS r WITH (READPAST, ROWLOCK)
        WHERE r.Status = 'pending-confirmation' AND r.ExpiresAt <= @Now;
        SET @ExpiredCount = @@ROWCOUNT;

        /* ---- sweep: abandoned claims (at most 100 rows) ---------------------------------------------- */
        UPDATE TOP (100) r
        SET r.PreviousStatus = r.Status, r.Status = 'error', r.StatusChangedAt = @Now, r.FinishedAt = @Now,
            r.ErrorNumber = 51522,
            r.ErrorMessage = FORMATMESSAGE(N'api.Reconciliation_Claim: the claim of request %d by %s at %s was not finished within %d minutes (the processor was killed or timed out); its merge was rolled back. Retry with dbmerge reconciliations process --retry-errors.',
                r.RequestId, ISNULL(r.ClaimedBy, N'?'), CONVERT(nvarchar(30), r.ClaimedAt, 126), @TimeoutMinutes)
        FROM dbmerge.ReconciliationRequest AS r WITH (READPAST, ROWLOCK)
        WHERE r.Status = 'processing' AND r.ClaimedAt < @AbandonedSince;
        SET @AbandonedCount = @@ROWCOUNT;

        /* ---- claim: the lowest ready request, else (retry) the lowest error recorded before the run ---- */
        WITH NextReady AS
        (
            SELECT TOP (1) r.RequestId, r.SourceId, r.ActiveEmail, r.InactiveEmail, r.ActiveUserId, r.InactiveUserId,
                   r.Status, r.PreviousStatus, r.StatusChangedAt, r.ClaimId, r.ClaimedAt, r.ClaimedBy, r.Attempts
            FROM dbmerge.ReconciliationRequest AS r WITH (READPAST, UPDLOCK, ROWLOCK)
            WHERE r.Status = 'ready'
            ORDER BY r.RequestId
        )
        UPDATE NextReady
        SET PreviousStatus = Status, Status = 'processing', StatusChangedAt = @Now,
            ClaimId = NEWID(), ClaimedAt = @Now, ClaimedBy = @Who, Attempts = Attempts + 1
        OUTPUT inserted.RequestId, inserted.ClaimId, inserted.SourceId, inserted.ActiveEmail, inserted.InactiveEmail,
               inserted.ActiveUserId, inserted.InactiveUserId, inserted.Attempts, 0
        INTO @Claimed (RequestId, ClaimId, SourceId, ActiveEmail, InactiveEmail, ActiveUserId, InactiveUserId, Attempts, IsRetry);

        IF @@ROWCOUNT = 0 AND @RetryErrors = 1
        BEGIN
            WITH NextError AS
            (
                SELECT TOP (1) r.RequestId, r.SourceId, r.ActiveEmail, r.InactiveEmail, r.ActiveUserId, r.InactiveUserId,
                       r.Status, r.PreviousStatus, r.StatusChangedAt, r.ClaimId, r.ClaimedAt, r.ClaimedBy, r.Attempts
                FROM dbmerge.ReconciliationRequest AS r WITH (READPAST, UPDLOCK, ROWLOCK)
                WHERE r.Status = 'error' AND r.StatusChangedAt < COALESCE(@RetryErrorsBefore, @Now)
                ORDER BY r.RequestId
            )
            UPDATE NextError
            SET PreviousStatus = Status, Status = 'processing', StatusChangedAt = @Now,
                ClaimId = NEWID(), ClaimedAt = @Now, ClaimedBy = @Who, Attempts = Attempts + 1
            OUTPUT inserted.RequestId, inserted.ClaimId, inserted.SourceId, inserted.ActiveEmail, inserted.InactiveEmail,
                   inserted.ActiveUserId, inserted.InactiveUserId, inserted.Attempts, 1
            INTO @Claimed (RequestId, ClaimId, SourceId, ActiveEmail, InactiveEmail, ActiveUserId, InactiveUserId, Attempts, IsRetry);
        END;

        /* ---- result: always one row ------------------------------------------------------------------ */
        SELECT c.RequestId, c.ClaimId, c.SourceId, c.ActiveEmail, c.InactiveEmail, c.ActiveUserId, c.InactiveUserId,
               c.Attempts, c.IsRetry, @ExpiredCount AS ExpiredCount, @AbandonedCount AS AbandonedCount, @Now AS ServerNow
        FROM (VALUES (1)) AS one (n)
        LEFT JOIN @Claimed AS c ON 1 = 1;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
