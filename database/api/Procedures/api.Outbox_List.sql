SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Outbox_List
  Purpose:      outbox events, newest first, one keyset page at a time (pass the last OutboxId of a page as
                @BeforeOutboxId for the next); @PendingOnly = 1 only the undispatched ones, optionally of one
                @EventType. The payload is shown WITHOUT its "secret" member (HasSecret says whether one is still
                there): listing never reveals a token; only api.Outbox_Claim hands it to a drainer. Operator-only.
                Seeks: PK_dbmerge_Outbox backwards; pending: IX_dbmerge_Outbox_Undispatched; pending of a type:
                IX_dbmerge_Outbox_Undispatched_EventType. A type filter needs @PendingOnly = 1 (no index serves a
                type among all events). OPTION (RECOMPILE) compiles the plan for the filters given (and lets the
                filtered indexes match DispatchedAt IS NULL).
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   at most @Top rows: OutboxId bigint, EventType varchar(100), DedupeKey nvarchar(200),
                Payload nvarchar(max) (JSON without "secret"), HasSecret bit, CreatedAt datetime2(3),
                ClaimedAt datetime2(3) NULL, ClaimedBy nvarchar(128) NULL, Attempts int, DispatchedAt datetime2(3) NULL
  Errors:
                51530 the caller is not a member of DbMergeOperator or db_owner
                51531 @Top is not 1..1000, @PendingOnly is NULL, or @EventType is given without @PendingOnly = 1
  Example:      EXEC api.Outbox_List @PendingOnly = 1, @EventType = 'reconciliation.confirm', @BeforeOutboxId = NULL, @Top = 50;
*/
CREATE OR ALTER PROCEDURE api.Outbox_List
    @PendingOnly    bit = 0,
    @EventType      varchar(100) = NULL,
    @BeforeOutboxId bigint = NULL,
    @Top            int = 100
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_List: %s is not a member of DbMergeOperator or db_owner; the outbox is operator-only.', USER_NAME());
            THROW 51530, @Message, 1;
        END;

        IF @Top IS NULL OR @Top NOT BETWEEN 1 AND 1000 OR @PendingOnly IS NULL OR (@EventType IS NOT NULL AND @PendingOnly = 0)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Outbox_List: @Top must be 1..1000, @PendingOnly 0 or 1, and @EventType needs @PendingOnly = 1 (top %s, pending %s, type ''%s'').',
                ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'), ISNULL(CONVERT(nvarchar(12), @PendingOnly), N'NULL'), ISNULL(CONVERT(nvarchar(100), @EventType), N'NULL'));
            THROW 51531, @Message, 1;
        END;

        SELECT TOP (@Top)
               o.OutboxId, o.EventType, o.DedupeKey,
               JSON_MODIFY(o.Payload, '$.secret', NULL) AS Payload,
               CONVERT(bit, IIF(JSON_QUERY(o.Payload, '$.secret') IS NULL, 0, 1)) AS HasSecret,
               o.CreatedAt, o.ClaimedAt, o.ClaimedBy, o.Attempts, o.DispatchedAt
        FROM dbmerge.Outbox AS o
        WHERE (@BeforeOutboxId IS NULL OR o.OutboxId < @BeforeOutboxId)
          AND (@PendingOnly = 0 OR o.DispatchedAt IS NULL)
          AND (@EventType IS NULL OR o.EventType = @EventType)
        ORDER BY o.OutboxId DESC
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
