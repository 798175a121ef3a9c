SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Confirm
  Purpose:      one address of a reconciliation request confirms with the one-time token its e-mail carried
                (the confirmation page of the application calls this; `dbmerge reconciliations confirm` too).
                The token is 64 hexadecimal characters (32 random bytes, case-insensitive); only its SHA-256 is
                stored, and it is looked up by that hash (UQ_dbmerge_ReconciliationToken_TokenHash). That side is
                marked confirmed and the token used (single use); when both sides are confirmed the request
                becomes ready (pending-confirmation -> ready) and the next `reconciliations process` merges it.
                Callable by the application (DbMergeApp): a token is its own authorization.
                A wrong, used or expired token is refused with its own number and a message of the same shape
                that names no request, user or address: nothing about any request is revealed, and nothing
                changes. Timing: a malformed token fails before the lookup, every other token costs one index
                seek by hash before its outcome is known; the secret is never compared character by character
                (the index compares hashes), so response time tells nothing useful about a 256-bit token.
  Transaction:  OWNS its transaction. Called inside an open transaction or with IMPLICIT_TRANSACTIONS ON it
                refuses (51501) without touching the caller's transaction.
  Lock order:   dbmerge.ReconciliationRequest row, then its dbmerge.ReconciliationToken row (UPDLOCK, ROWLOCK:
                two confirmations of one token, or of both sides at once, serialize on the request row; the
                second re-reads the token under the lock and sees it used). No applock, no user row.
  Result set:   one row: RequestId int, Side varchar(8) ('active' | 'inactive'), Status varchar(20)
                ('pending-confirmation' | 'ready'), ActiveConfirmed bit, InactiveConfirmed bit, BecameReady bit
  Errors:
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51510 the token is not valid (missing, malformed, or no token has this hash)
                51511 the token was already used
                51512 the token has expired (the request expired before both sides confirmed)
                51513 the token's request no longer awaits confirmation (it was cancelled)
  Example:      EXEC api.Reconciliation_Confirm @Token = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Confirm
    @Token varchar(100)
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: THROW
       honours XACT_ABORT (with it ON the THROW would roll the caller's work back) and the CATCH below rolls back. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Reconciliation_Confirm: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.', @@TRANCOUNT);
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message             nvarchar(2048);
    DECLARE @Clean               varchar(100) = LOWER(LTRIM(RTRIM(@Token)));
    DECLARE @Bytes               binary(32);
    DECLARE @Hash                binary(32);
    DECLARE @RequestId           int;
    DECLARE @Side                varchar(8);
    DECLARE @TokenLocked         bit = 0;
    DECLARE @UsedAt              datetime2(3);
    DECLARE @Status              varchar(20);
    DECLARE @ExpiresAt           datetime2(3);
    DECLARE @ActiveConfirmedAt   datetime2(3);
    DECLARE @InactiveConfirmedAt datetime2(3);
    DECLARE @BothConfirmed       bit = 0;
    DECLARE @Now                 datetime2(3);
    DECLARE @Confirmed TABLE
    (
        RequestId         int          NOT NULL,
        Status            varchar(20)  NOT NULL,
        ActiveConfirmed   bit          NOT NULL,
        InactiveConfirmed bit          NOT NULL
    );

    BEGIN TRY
        /* ---- check parameters: 64 hex characters, else the same refusal as an unknown token ----------- */
        IF LEN(@Clean) = 64 AND @Clean COLLATE Latin1_General_100_BIN2 NOT LIKE '%[^0-9a-f]%'
            SET @Bytes = TRY_CONVERT(binary(32), @Clean, 2);

        IF @Bytes IS NOT NULL
            SET @Hash = CONVERT(binary(32), HASHBYTES('SHA2_256', @Bytes));

        /* Plain read by hash (UQ_dbmerge_ReconciliationToken_TokenHash); re-read under the locks below. */
        IF @Hash IS NOT NULL
            SELECT @RequestId = t.RequestId, @Side = t.Side
            FROM dbmerge.ReconciliationToken AS t
            WHERE t.TokenHash = @Hash;

        IF @RequestId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Confirm: the token is not valid (%s); nothing changed.', N'unknown');
            THROW 51510, @Message, 1;
        END;

        /* ---- take locks: the request row, then its token row ------------------------------------------ */
        BEGIN TRANSACTION;

        SELECT @Status = r.Status, @ExpiresAt = r.ExpiresAt,
               @ActiveConfirmedAt = r.ActiveConfirmedAt, @InactiveConfirmedAt = r.InactiveConfirmedAt
        FROM dbmerge.ReconciliationRequest AS r WITH (UPDLOCK, ROWLOCK)
        WHERE r.RequestId = @RequestId;

        SELECT @TokenLocked = 1, @UsedAt = t.UsedAt
        FROM dbmerge.ReconciliationToken AS t WITH (UPDLOCK, ROWLOCK)
        WHERE t.RequestId = @RequestId AND t.Side = @Side AND t.TokenHash = @Hash;

        SET @Now = SYSUTCDATETIME();

        IF @TokenLocked = 0 OR @Status IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Confirm: the token is not valid (%s); nothing changed.', N'unknown');
            THROW 51510, @Message, 1;
        END;

        IF @UsedAt IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Confirm: the token is not valid (%s); nothing changed.', N'already used');
            THROW 51511, @Message, 1;
        END;

        IF @Status = 'expired' OR (@Status = 'pending-confirmation' AND @ExpiresAt <= @Now)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Confirm: the token is not valid (%s); nothing changed.', N'expired');
            THROW 51512, @Message, 1;
        END;

        IF @Status <> 'pending-confirmation'
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Confirm: the token is not valid (%s); nothing changed.', N'no longer awaited');
            THROW 51513, @Message, 1;
        END;

        /* ---- the work: confirm the side; both sides confirmed -> ready ------------------------------- */
        SET @BothConfirmed = IIF((@Side = 'active' OR @ActiveConfirmedAt IS NOT NULL) AND (@Side = 'inactive' OR @InactiveConfirmedAt IS NOT NULL), 1, 0);

        UPDATE r
        SET r.ActiveConfirmedAt = IIF(@Side = 'active', @Now, r.ActiveConfirmedAt),
            r.InactiveConfirmedAt = IIF(@Side = 'inactive', @Now, r.InactiveConfirmedAt),
            r.PreviousStatus = IIF(@BothConfirmed = 1, r.Status, r.PreviousStatus),
            r.Status = IIF(@BothConfirmed = 1, 'ready', r.Status),
            r.StatusChangedAt = IIF(@BothConfirmed = 1, @Now, r.StatusChangedAt)
        OUTPUT inserted.RequestId, inserted.Status,
               IIF(inserted.ActiveConfirmedAt IS NULL, 0, 1), IIF(inserted.InactiveConfirmedAt IS NULL, 0, 1)
        INTO @Confirmed (RequestId, Status, ActiveConfirmed, InactiveConfirmed)
        FROM dbmerge.ReconciliationRequest AS r
        WHERE r.RequestId = @RequestId AND r.Status = 'pending-confirmation';

        UPDATE dbmerge.ReconciliationToken
        SET UsedAt = @Now
        WHERE RequestId = @RequestId AND Side = @Side AND UsedAt IS NULL;

        COMMIT TRANSACTION;

        /* ---- result ---------------------------------------------------------------------------------- */
        SELECT c.RequestId, @Side AS Side, c.Status, c.ActiveConfirmed, c.InactiveConfirmed, @BothConfirmed AS BecameReady
        FROM @Confirmed AS c;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
