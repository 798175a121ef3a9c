SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Outbox_Claim
  Purpose:      a drainer claims up to @Max undispatched outbox events, oldest first, optionally of one type:
                events never claimed, and events claimed longer ago than the setting outbox.retry_delay_seconds
                whose claim was never completed (the drainer died or lost its connection before
                api.Outbox_MarkDispatched). Each claimed event gets ClaimedAt, ClaimedBy and Attempts + 1. The claim
                commits at once; the drainer then writes each event and only after it is written and flushed
                marks it dispatched (at-least-once: a consumer discards repeats by DedupeKey). Several drainers
                can run at once: the claim reads WITH (READPAST, UPDLOCK, ROWLOCK), so rows another drainer is
                claiming are skipped, not waited for, and a committed claim keeps the rows away from every other
                drainer until the retry delay has passed. The payload is returned whole, including a "secret"
                member (a confirmation token) when it has one: only a drainer sees it. Operator-only.
                Seeks: IX_dbmerge_Outbox_Undispatched (OutboxId) WHERE DispatchedAt IS NULL, or with @EventType
                IX_dbmerge_Outbox_Undispatched_EventType (EventType, OutboxId) WHERE DispatchedAt IS NULL; both
                include ClaimedAt for the retry test. At most 1,000 rows per call.
                Every row carries ReclaimableAt, when its claim lapses (ClaimedAt + outbox.retry_delay_seconds, the
                server's clock): from then on another drainer may claim and write the event again, so a drainer must
                not start writing an event of the batch once that much time may have passed since its claim (the
                runner's OutboxDrainer stops at 90 % of the delay and leaves the rest claimed for a retry): that is
                what keeps two running drainers from writing the same event.
  Transaction:  none of its own: one UPDATE, atomic and committed on its own (the claim must be visible to other
                drainers before this one writes anything).
  Result set:   up to @Max rows by OutboxId: OutboxId bigint, EventType varchar(100), DedupeKey nvarchar(200),
                Payload nvarchar(max) (JSON), CreatedAt datetime2(3), ClaimedAt datetime2(3), Attempts int,
                ReclaimableAt datetime2(3)
  Errors:
                51530 the caller is not a member of DbMergeOperator or db_owner
                51531 @Max is not 1..1000, @EventType is blank, or the setting outbox.retry_delay_seconds is invalid
  Example:      EXEC api.Outbox_Claim @Max = 100, @EventType = 'reconciliation.confirm', @ClaimedBy = N'mailer@host';
*/
CREATE OR ALTER PROCEDURE api.Outbox_Claim
    @Max       int = 100,
    @EventType varchar(100) = NULL,
    @ClaimedBy nvarchar(128) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message     nvarchar(2048);
    DECLARE @Who         nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@ClaimedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @DelayText   nvarchar(2000);
    DECLARE @Delay       int;
    DECLARE @Now         datetime2(3);
    DECLARE @RetryBefore datetime2(3);
    DECLARE @Claimed TABLE
    (
        OutboxId  bigint          NOT NULL PRIMARY KEY,
        EventType varchar(100)    NOT NULL,
        DedupeKey nvarchar(200)   NOT NULL,
        Payload   nvarchar(max)   NOT NULL,
        CreatedAt datetime2(3)    NOT NULL,
        ClaimedAt datetime2(3)    NOT NULL,
        Attempts  int             NOT NULL
    );

    BEGIN TRY
        /* ---- check parameters ---------------------------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_Claim: %s is not a member of DbMergeOperator or db_owner; draining the outbox is operator-only.', USER_NAME());
            THROW 51530, @Message, 1;
        END;

        SELECT @DelayText = s.Value FROM dbmerge.Setting AS s WHERE s.Name = 'outbox.retry_delay_seconds';
        SET @Delay = TRY_CONVERT(int, @DelayText);

        IF @Max IS NULL OR @Max NOT BETWEEN 1 AND 1000 OR (@EventType IS NOT NULL AND LEN(@EventType) = 0)
           OR @Delay IS NULL OR @Delay NOT BETWEEN 1 AND 86400
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_Claim: @Max must be 1..1000, @EventType NULL or not blank, and the setting outbox.retry_delay_seconds 1..86400 (max %s, retry delay %s).',
                ISNULL(CONVERT(nvarchar(12), @Max), N'NULL'), ISNULL(LEFT(@DelayText, 20), N'NULL'));
            THROW 51531, @Message, 1;
        END;

        SET @Now = SYSUTCDATETIME();
        SET @RetryBefore = DATEADD(SECOND, -@Delay, @Now);

        /* ---- claim: the oldest undispatched events whose claim is free ------------------------------- */
        IF @EventType IS NULL
        BEGIN
            WITH NextEvents AS
            (
                SELECT TOP (@Max) o.OutboxId, o.EventType, o.DedupeKey, o.Payload, o.CreatedAt, o.ClaimedAt, o.ClaimedBy, o.Attempts
                FROM dbmerge.Outbox AS o WITH (READPAST, UPDLOCK, ROWLOCK, INDEX (IX_dbmerge_Outbox_Undispatched))
                WHERE o.DispatchedAt IS NULL
                  AND (o.ClaimedAt IS NULL OR o.ClaimedAt < @RetryBefore)
                ORDER BY o.OutboxId
            )
            UPDATE NextEvents
            SET ClaimedAt = @Now, ClaimedBy = @Who, Attempts = Attempts + 1
            OUTPUT inserted.OutboxId, inserted.EventType, inserted.DedupeKey, inserted.Payload, inserted.CreatedAt, inserted.ClaimedAt, inserted.Attempts
            INTO @Claimed (OutboxId, EventType, DedupeKey, Payload, CreatedAt, ClaimedAt, Attempts);
        END
        ELSE
        BEGIN
            WITH NextEvents AS
            (
                SELECT TOP (@Max) o.OutboxId, o.EventType, o.DedupeKey, o.Payload, o.CreatedAt, o.ClaimedAt, o.ClaimedBy, o.Attempts
                FROM dbmerge.Outbox AS o WITH (READPAST, UPDLOCK, ROWLOCK, INDEX (IX_dbmerge_Outbox_Undispatched_EventType))
                WHERE o.DispatchedAt IS NULL
                  AND o.EventType = @EventType
                  AND (o.ClaimedAt IS NULL OR o.ClaimedAt < @RetryBefore)
                ORDER BY o.OutboxId
            )
            UPDATE NextEvents
            SET ClaimedAt = @Now, ClaimedBy = @Who, Attempts = Attempts + 1
            OUTPUT inserted.OutboxId, inserted.EventType, inserted.DedupeKey, inserted.Payload, inserted.CreatedAt, inserted.ClaimedAt, inserted.Attempts
            INTO @Claimed (OutboxId, EventType, DedupeKey, Payload, CreatedAt, ClaimedAt, Attempts);
        END;

        /* ---- result ---------------------------------------------------------------------------------- */
        SELECT c.OutboxId, c.EventType, c.DedupeKey, c.Payload, c.CreatedAt, c.ClaimedAt, c.Attempts,
               DATEADD(SECOND, @Delay, c.ClaimedAt) AS ReclaimableAt
        FROM @Claimed AS c
        ORDER BY c.OutboxId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
