SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Invitation_Revoke
  Purpose:
    Withdraws a pending invitation. Allowed for its sender, for an admin of the target organization, and for
    an editor of the target channel (the highest channel role); the actor must be an active user. A revoked
    invitation can no longer be accepted or declined. Revoking an already revoked invitation is a no-op
    (Changed = 0); an accepted or declined invitation cannot be revoked.
  Lock order (README "Lock order"): L2 the app.User rows of the acting user and of every account holding the
    invitation's address (active or not), ascending UserId (UPDLOCK, HOLDLOCK), then L3 the invitation, then reads of
    the actor's memberships. A merge of the actor serializes with it on the user row (the revoke then finds the actor
    merged away: 51303); so does a merge of an account holding the address (without the addressee's row, the revoke's
    lock on the invitation's row, then on its index entry, and the merge's lock on the index entry, then on the row,
    could deadlock: review 9). The address is read before the transaction (no lock kept); an invitation re-addressed by
    a merge between that read and the locks is locked under its new address's accounts only if a second merge of them
    has not started in between (else a possible 1205, nothing changed). An address held by an account merged into the
    merge's source: the merge (and an unmerge, for the accounts its run re-pointed) U-locks those accounts' rows in L2
    with the source and the target, ascending as this call, so the two serialize on the first user row both lock
    (review 14: the merge used to lock them last, at app.User.MergedIntoUserId, which closed a cycle with a revoke of
    an invitation the merge holds). Defence in depth: this procedure still runs at DEADLOCK_PRIORITY LOW, so in any
    deadlock with a merge the revoke is the victim (1205, rolled back, nothing changed: its one write is the
    invitation's status, in its own transaction; DbMergeClient.RevokeInvitationAsync runs it again), never the
    merge, which has more work to lose; against an unmerge (LOW too) the one cheaper to roll back is.
  Transaction: OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51313) before
    anything else, without touching the caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    InvitationId int, Status varchar(10) ('revoked'), RespondedAt datetime2(3), Changed bit
  Errors:
    51300  the invitation does not exist
    51301  the invitation is not pending (accepted or declined)
    51303  the acting user does not exist or is inactive
    51307  the acting user is neither the sender nor an organization admin / channel editor of the target
    51312  @InvitationId or @ActorUserId is missing
    51313  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    EXEC api.Invitation_Revoke @InvitationId = 1001, @ActorUserId = 7;
*/
CREATE OR ALTER PROCEDURE api.Invitation_Revoke
    @InvitationId int,
    @ActorUserId  int
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Invitation_Revoke: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, invitation %s, actor %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @ActorUserId), N'NULL'));
        THROW 51313, @OpenMessage, 1;
    END;

    /* Defence in depth (Lock order above): should a deadlock with a user merge still occur,
       this call is the victim: cheaper to retry.
       The setting reverts when the procedure returns. */
    SET DEADLOCK_PRIORITY LOW;

    DECLARE @Message        nvarchar(2048);
    DECLARE @Found          bit = 0;
    DECLARE @ChannelId      int;
    DECLARE @OrganizationId int;
    DECLARE @SenderUserId   int;
    DECLARE @Status         varchar(10);
    DECLARE @RespondedAt    datetime2(3);
    DECLARE @Changed        bit = 0;
    DECLARE @ActorIsActive  bit;
    DECLARE @AddressRead    nvarchar(254);
    DECLARE @LockedUsers    int;
    DECLARE @LockUser TABLE (UserId int NOT NULL PRIMARY KEY);  -- L2: the actor and the address's accounts, ascending

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @InvitationId IS NULL OR @ActorUserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Revoke: @InvitationId and @ActorUserId are required (got invitation %s, actor %s).',
                ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @ActorUserId), N'NULL'));
            THROW 51312, @Message, 1;
        END;

        /* The invitation's address, read before the transaction (PK_app_Invitation; no lock kept): whose rows L2 locks. */
        SELECT @AddressRead = i.Email FROM app.Invitation AS i WHERE i.InvitationId = @InvitationId;

        BEGIN TRANSACTION;

        /* 2. L2 first: the user rows of the actor and of every account holding the address (held to the end), ascending
              UserId (nested loops driven by @LockUser's key order); the accounts read through IX_app_User_Email
              (covering: no lock kept, no wait for a merge's lock on a user's clustered row). */
        INSERT INTO @LockUser (UserId)
        SELECT u.UserId FROM app.[User] AS u WHERE u.Email = @AddressRead
        UNION
        SELECT @ActorUserId;

        SELECT @LockedUsers = COUNT(*)
        FROM @LockUser AS lu
        JOIN app.[User] AS u WITH (UPDLOCK, HOLDLOCK, ROWLOCK)
          ON u.UserId = lu.UserId
        OPTION (FORCE ORDER, LOOP JOIN);

        SELECT @ActorIsActive = u.IsActive
        FROM app.[User] AS u WITH (UPDLOCK, HOLDLOCK)
        WHERE u.UserId = @ActorUserId;

        IF @ActorIsActive IS NULL OR @ActorIsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Revoke: acting user %d does not exist or is inactive (invitation %d).', @ActorUserId, @InvitationId);
            THROW 51303, @Message, 1;
        END;

        /* 3. L3: the invitation row. */
        SELECT @Found          = 1,
               @ChannelId      = i.ChannelId,
               @OrganizationId = i.OrganizationId,
               @SenderUserId   = i.SenderUserId,
               @Status         = i.Status,
               @RespondedAt    = i.RespondedAt
        FROM app.Invitation AS i WITH (UPDLOCK, HOLDLOCK)
        WHERE i.InvitationId = @InvitationId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Revoke: invitation %d does not exist.', @InvitationId);
            THROW 51300, @Message, 1;
        END;

        IF CASE WHEN @SenderUserId = @ActorUserId
                OR EXISTS (SELECT 1 FROM app.OrganizationMember AS om
                           WHERE om.OrganizationId = @OrganizationId AND om.UserId = @ActorUserId AND om.Role = 'admin')
                OR EXISTS (SELECT 1 FROM app.ChannelMember AS cm
                           WHERE cm.ChannelId = @ChannelId AND cm.UserId = @ActorUserId AND cm.Role = 'editor')
                THEN 1 ELSE 0 END = 0  /* a NULL sender (deleted) never matches: CASE makes UNKNOWN a refusal */
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Revoke: user %d may not revoke invitation %d (only its sender, an organization admin or a channel editor of its target may).', @ActorUserId, @InvitationId);
            THROW 51307, @Message, 1;
        END;

        IF @Status <> 'revoked'
        BEGIN
            IF @Status <> 'pending'
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Invitation_Revoke: invitation %d is %s, not pending (actor %d).', @InvitationId, @Status, @ActorUserId);
                THROW 51301, @Message, 1;
            END;

            /* 4. Revoke. */
            SET @RespondedAt = SYSUTCDATETIME();
            SET @Status = 'revoked';
            SET @Changed = 1;

            UPDATE app.Invitation
               SET Status      = @Status,
                   RespondedAt = @RespondedAt
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
