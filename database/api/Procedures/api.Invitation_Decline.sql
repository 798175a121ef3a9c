SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Invitation_Decline
  Purpose:
    The invited user declines a pending invitation: only the active user whose e-mail matches the
    invitation's (case-insensitively) may decline. The invitation becomes declined with InvitedUserId (who
    answered) and RespondedAt; a declined invitation can no longer be accepted. Declining again by the same
    user is a no-op (Changed = 0).
  Lock order (README "Lock order"): L2 the declining user's app.User row (UPDLOCK, HOLDLOCK), then L3 the invitation;
    a merge of the user serializes with it on the user row (the decline then finds the user merged away: 51303). A
    missing or inactive user is refused (51303) right after its row is locked, before the invitation (as accept).
    A merge and an unmerge U-lock the accounts merged into the source in L2 with both users (review 14), so such an
    account's decline serializes with them on its row. Defence in depth (as accept): this procedure runs at
    DEADLOCK_PRIORITY LOW, so in any deadlock with a merge (NORMAL) it is the victim, and against an unmerge (LOW too) the one cheaper to roll back is:
    1205, rolled back, nothing changed (its one write is the invitation's status, in its own transaction;
    DbMergeClient.DeclineInvitationAsync runs it again).
  Transaction: OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51313) before
    anything else, without touching the caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    InvitationId int, Status varchar(10) ('declined'), RespondedAt datetime2(3), Changed bit
  Errors:
    51300  the invitation does not exist
    51301  the invitation is not pending (accepted, revoked, or declined by another user)
    51302  the user's e-mail does not match the invitation's
    51303  the user does not exist or is inactive
    51312  @InvitationId or @UserId is missing
    51313  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    EXEC api.Invitation_Decline @InvitationId = 1001, @UserId = 42;
*/
CREATE OR ALTER PROCEDURE api.Invitation_Decline
    @InvitationId int,
    @UserId       int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction, and under IMPLICIT_TRANSACTIONS ON, with XACT_ABORT OFF, before the TRY
       and before any statement that reads or writes a table. THROW honours XACT_ABORT (with it ON the THROW would
       roll the caller's work back) and the CATCH below rolls back; this procedure must refuse rather than do either.
       Under IMPLICIT_TRANSACTIONS ON the first table access would open a transaction (and BEGIN TRANSACTION would
       then nest inside it, @@TRANCOUNT 2), so COMMIT would leave the work and its locks open in the caller's
       session: hence the @@OPTIONS test, and hence nothing before this guard touches a table. IF, SET, DECLARE and
       THROW open no implicit transaction, so @@TRANCOUNT is unchanged when the error reaches the caller. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Invitation_Decline: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, invitation %s, user %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
        THROW 51313, @OpenMessage, 1;
    END;

    /* Defence in depth (Lock order above): should a deadlock with a merge or unmerge still occur,
       this call may be the victim: cheaper to retry.
       The setting reverts when the procedure returns. */
    SET DEADLOCK_PRIORITY LOW;

    DECLARE @Message         nvarchar(2048);
    DECLARE @Found           bit = 0;
    DECLARE @InvitationEmail nvarchar(254);
    DECLARE @Status          varchar(10);
    DECLARE @InvitedUserId   int;
    DECLARE @RespondedAt     datetime2(3);
    DECLARE @UserEmail       nvarchar(254);
    DECLARE @UserIsActive    bit;
    DECLARE @Changed         bit = 0;

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @InvitationId IS NULL OR @UserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Decline: @InvitationId and @UserId are required (got invitation %s, user %s).',
                ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51312, @Message, 1;
        END;

        BEGIN TRANSACTION;

        /* 2. L2: the user row first (held to the end). */
        SELECT @UserEmail = u.Email, @UserIsActive = u.IsActive
        FROM app.[User] AS u WITH (UPDLOCK, HOLDLOCK)
        WHERE u.UserId = @UserId;

        /* A missing or inactive user (a merged-away account is inactive) is refused here, holding only its user row:
           a merge of the account it was merged into U-locks such rows in L2 with its source and target (review 14), so
           this call has waited for that merge on this row; it never locks an invitation while holding such a row. */
        IF @UserEmail IS NULL OR @UserIsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Decline: user %d does not exist or is inactive (invitation %d).', @UserId, @InvitationId);
            THROW 51303, @Message, 1;
        END;

        /* 3. L3: the invitation row. */
        SELECT @Found           = 1,
               @InvitationEmail = i.Email,
               @Status          = i.Status,
               @InvitedUserId   = i.InvitedUserId,
               @RespondedAt     = i.RespondedAt
        FROM app.Invitation AS i WITH (UPDLOCK, HOLDLOCK)
        WHERE i.InvitationId = @InvitationId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Decline: invitation %d does not exist.', @InvitationId);
            THROW 51300, @Message, 1;
        END;

        IF @UserEmail COLLATE Latin1_General_100_CI_AS <> @InvitationEmail COLLATE Latin1_General_100_CI_AS
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Decline: invitation %d is addressed to another e-mail than user %d''s; only the invited user may decline it.', @InvitationId, @UserId);
            THROW 51302, @Message, 1;
        END;

        IF CASE WHEN @Status = 'declined' AND @InvitedUserId = @UserId THEN 1 ELSE 0 END = 0
        BEGIN
            IF @Status <> 'pending'
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Invitation_Decline: invitation %d is %s, not pending (user %d).', @InvitationId, @Status, @UserId);
                THROW 51301, @Message, 1;
            END;

            /* 4. Decline. */
            SET @RespondedAt = SYSUTCDATETIME();
            SET @Status = 'declined';
            SET @Changed = 1;

            UPDATE app.Invitation
               SET Status        = @Status,
                   InvitedUserId = @UserId,
                   RespondedAt   = @RespondedAt
             WHERE InvitationId = @InvitationId
               AND Status = 'pending';
        END;

        COMMIT TRANSACTION;

        /* 5. Result. */
        SELECT @InvitationId AS InvitationId, @Status AS Status, @RespondedAt AS RespondedAt, @Changed AS Changed;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
