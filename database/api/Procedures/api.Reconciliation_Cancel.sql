SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Cancel
  Purpose:      cancels a reconciliation request that is pending-confirmation or ready (-> cancelled, terminal):
                its tokens stop working (51513) and it is never merged. A request being processed, done, in error,
                expired or already cancelled cannot be cancelled (51521, the message says its status). The inactive
                account may then be requested again under a new id. Operator-only.
  Transaction:  none of its own: one UPDATE of the request row by its primary key, atomic on its own. A
                processor's claim of the same request serializes with it on the row: whichever commits first
                wins, the other sees the changed status.
  Result set:   one row: RequestId int, Status varchar(20) ('cancelled'), PreviousStatus varchar(20),
                StatusChangedAt datetime2(3), CancelledBy nvarchar(128), CancelReason nvarchar(400) NULL
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51520 no reconciliation request has the id @RequestId
                51521 the request is not pending-confirmation or ready
                51524 @Reason is longer than 400 characters
  Example:      EXEC api.Reconciliation_Cancel @RequestId = 17, @Reason = N'the person asked us to stop', @CancelledBy = N'ops';
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Cancel
    @RequestId   int,
    @Reason      nvarchar(4000) = NULL,
    @CancelledBy nvarchar(128) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    DECLARE @Who     nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@CancelledBy)), N''), ORIGINAL_LOGIN());
    DECLARE @Status  varchar(20);
    DECLARE @Now     datetime2(3);
    DECLARE @Cancelled TABLE
    (
        RequestId       int            NOT NULL,
        Status          varchar(20)    NOT NULL,
        PreviousStatus  varchar(20)    NULL,
        StatusChangedAt datetime2(3)   NOT NULL,
        CancelledBy     nvarchar(128)  NULL,
        CancelReason    nvarchar(400)  NULL
    );

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Cancel: %s is not a member of DbMergeOperator or db_owner; cancelling reconciliation requests is operator-only (request %s).',
                USER_NAME(), ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
            THROW 51500, @Message, 1;
        END;

        IF LEN(@Reason) > 400
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Cancel: @Reason is at most 400 characters (got %d; request %s).',
                LEN(@Reason), ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
            THROW 51524, @Message, 1;
        END;

        SET @Now = SYSUTCDATETIME();

        /* The transition, on the primary key: only from pending-confirmation or ready. */
        UPDATE r
        SET r.PreviousStatus = r.Status, r.Status = 'cancelled', r.StatusChangedAt = @Now, r.FinishedAt = @Now,
            r.CancelledBy = @Who, r.CancelReason = NULLIF(LTRIM(RTRIM(@Reason)), N'')
        OUTPUT inserted.RequestId, inserted.Status, inserted.PreviousStatus, inserted.StatusChangedAt, inserted.CancelledBy, inserted.CancelReason
        INTO @Cancelled (RequestId, Status, PreviousStatus, StatusChangedAt, CancelledBy, CancelReason)
        FROM dbmerge.ReconciliationRequest AS r
        WHERE r.RequestId = @RequestId AND r.Status IN ('pending-confirmation', 'ready');

        IF NOT EXISTS (SELECT 1 FROM @Cancelled)
        BEGIN
            SELECT @Status = r.Status FROM dbmerge.ReconciliationRequest AS r WHERE r.RequestId = @RequestId;

            IF @Status IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_Cancel: reconciliation request %s does not exist.', ISNULL(CONVERT(nvarchar(12), @RequestId), N'NULL'));
                THROW 51520, @Message, 1;
            END;

            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Cancel: request %d is %s; only a pending-confirmation or ready request can be cancelled.', @RequestId, @Status);
            THROW 51521, @Message, 1;
        END;

        SELECT c.RequestId, c.Status, c.PreviousStatus, c.StatusChangedAt, c.CancelledBy, c.CancelReason
        FROM @Cancelled AS c;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
