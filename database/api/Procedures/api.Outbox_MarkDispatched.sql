SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Outbox_MarkDispatched
  Purpose:      marks events dispatched after the drainer has written and flushed them: DispatchedAt is set and
                the payload's "secret" member (the plain confirmation token and the link that carries it) is
                erased, so a token exists in the database only while its event is undispatched. Events already
                dispatched (another drainer retried them after the retry delay) are left as they are. At most
                1,000 ids per call, joined to the primary key. Operator-only.
  Transaction:  none of its own: one UPDATE, atomic on its own.
  Result set:   one row: Requested int (ids passed), Marked int (events marked now), AlreadyDispatched int
  Errors:
                51530 the caller is not a member of DbMergeOperator or db_owner
                51531 more than 1,000 ids
  Example:      DECLARE @Ids dbmerge.OutboxIdList; INSERT INTO @Ids (OutboxId) VALUES (41), (42);
                EXEC api.Outbox_MarkDispatched @OutboxIds = @Ids;
*/
CREATE OR ALTER PROCEDURE api.Outbox_MarkDispatched
    @OutboxIds dbmerge.OutboxIdList READONLY
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message   nvarchar(2048);
    DECLARE @Requested int;
    DECLARE @Marked TABLE (OutboxId bigint NOT NULL PRIMARY KEY);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_MarkDispatched: %s is not a member of DbMergeOperator or db_owner; draining the outbox is operator-only.', USER_NAME());
            THROW 51530, @Message, 1;
        END;

        SET @Requested = (SELECT COUNT(*) FROM @OutboxIds);

        IF @Requested > 1000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_MarkDispatched: at most 1000 ids per call (got %d).', @Requested);
            THROW 51531, @Message, 1;
        END;

        /* PK_dbmerge_Outbox: one seek per id. JSON_MODIFY with NULL removes the member (lax mode). */
        UPDATE o
        SET o.DispatchedAt = SYSUTCDATETIME(),
            o.Payload = JSON_MODIFY(o.Payload, '$.secret', NULL)
        OUTPUT inserted.OutboxId INTO @Marked (OutboxId)
        FROM dbmerge.Outbox AS o
        JOIN @OutboxIds AS i ON i.OutboxId = o.OutboxId
        WHERE o.DispatchedAt IS NULL
        OPTION (RECOMPILE);

        SELECT @Requested AS Requested,
               (SELECT COUNT(*) FROM @Marked) AS Marked,
               @Requested - (SELECT COUNT(*) FROM @Marked) AS AlreadyDispatched;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
