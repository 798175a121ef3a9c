SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Invitation_Create
  Purpose:
    Invites an e-mail address to exactly one channel or organization with a share mode (view | edit | admin;
    admin only for organizations), sent by an active user. A second PENDING invitation of the same e-mail
    (compared case-insensitively: the column's collation is CI) to the same target is refused; the check is
    race-safe (UPDLOCK, SERIALIZABLE range lock inside the transaction, so two concurrent calls serialize and
    the second sees the first). An invitation e-mail event ('invitation.created') is written to dbmerge.Outbox
    in the same transaction.
  Transaction: OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51313) before
    anything else, without touching the caller's transaction (XACT_ABORT is switched off for that refusal only).
  Lock order (README "Lock order"): L2 the app.User rows of the sender and of every account holding the invited
    address (active or not: a merge re-addresses a legacy account's invitations too), ascending UserId (UPDLOCK,
    HOLDLOCK), then L3 the invitations of the e-mail (key range), then dbmerge.Outbox. A merge holding the sender makes
    this call wait, then refuse (51310); a merge of an account holding the address (its source or its target) makes it
    wait until the merge has re-addressed that address's invitations (without the addressee's row, this call's
    key-range locks on the address's pending invitations and the merge's row locks there, taken in other orders, could
    deadlock: review 9). An address held by an account merged into the merge's source: the merge (and an unmerge,
    for the accounts its run re-pointed) U-locks those accounts' rows in L2 with the source and the target, in the same
    ascending order as this call, so the two serialize on the first user row both lock (review 14: the merge used to
    lock them last, at app.User.MergedIntoUserId, which closed a cycle with this call). Defence in depth: this
    procedure still runs at DEADLOCK_PRIORITY LOW, so in any deadlock with a merge the call is the victim (1205,
    rolled back, nothing changed: the invitation and its outbox event are written in the one transaction;
    DbMergeClient.CreateInvitationAsync runs it again), never the merge, which has more work to lose; against an
    unmerge (LOW too) the one cheaper to roll back is.
  Result set (one row):
    InvitationId int, TargetKind varchar(12) ('channel' | 'organization'), TargetId int, Email nvarchar(254),
    ShareMode varchar(10), SenderUserId int, Status varchar(10) ('pending'), CreatedAt datetime2(3)
  Errors:
    51304  @ShareMode is not view, edit or admin
    51305  @ShareMode admin for a channel (admin exists only for organizations)
    51306  a pending invitation of this e-mail to this target already exists
    51308  the channel or organization does not exist
    51309  both or neither of @ChannelId and @OrganizationId were given
    51310  the sender does not exist or is inactive
    51311  @Email is missing, blank or not an e-mail address (no '@')
    51312  @SenderUserId is missing
    51313  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    EXEC api.Invitation_Create @ChannelId = NULL, @OrganizationId = 7, @Email = N'ada@example.org',
         @ShareMode = 'admin', @SenderUserId = 42;
*/
CREATE OR ALTER PROCEDURE api.Invitation_Create
    @ChannelId      int = NULL,
    @OrganizationId int = NULL,
    @Email          nvarchar(254),
    @ShareMode      varchar(10),
    @SenderUserId   int
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Invitation_Create: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, channel %s, organization %s, sender %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @ChannelId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @OrganizationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @SenderUserId), N'NULL'));
        THROW 51313, @OpenMessage, 1;
    END;

    /* Defence in depth (Lock order above): should a deadlock with a user merge still occur,
       this call is the victim: cheaper to retry.
       The setting reverts when the procedure returns. */
    SET DEADLOCK_PRIORITY LOW;

    DECLARE @Message    nvarchar(2048);
    DECLARE @TargetKind varchar(12) = CASE WHEN @ChannelId IS NOT NULL THEN 'channel' ELSE 'organization' END;
    DECLARE @TargetId   int = COALESCE(@ChannelId, @OrganizationId);
    DECLARE @ExistingId int;
    DECLARE @SenderIsActive bit;
    DECLARE @LockedUsers int;
    DECLARE @LockUser TABLE (UserId int NOT NULL PRIMARY KEY);  -- L2: the sender and the address's accounts, ascending
    DECLARE @Created TABLE
    (
        InvitationId int          NOT NULL,
        Email        nvarchar(254) NOT NULL,
        ShareMode    varchar(10)  NOT NULL,
        SenderUserId int          NULL,
        Status       varchar(10)  NOT NULL,
        CreatedAt    datetime2(3) NOT NULL
    );

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF (@ChannelId IS NULL AND @OrganizationId IS NULL) OR (@ChannelId IS NOT NULL AND @OrganizationId IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: exactly one of @ChannelId and @OrganizationId is required (got channel %s, organization %s).',
                ISNULL(CONVERT(nvarchar(12), @ChannelId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @OrganizationId), N'NULL'));
            THROW 51309, @Message, 1;
        END;

        SET @Email = LTRIM(RTRIM(@Email));
        IF @Email IS NULL OR LEN(@Email) = 0 OR CHARINDEX(N'@', @Email) < 2
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: @Email ''%s'' is not an e-mail address (%s %d).',
                ISNULL(@Email, N'NULL'), @TargetKind, @TargetId);
            THROW 51311, @Message, 1;
        END;

        SET @ShareMode = LOWER(LTRIM(RTRIM(@ShareMode)));
        IF @ShareMode IS NULL OR @ShareMode NOT IN ('view', 'edit', 'admin')
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: unknown @ShareMode ''%s'' for %s; allowed: view, edit, admin (admin for organizations only).',
                ISNULL(CONVERT(nvarchar(10), @ShareMode), N'NULL'), @Email);
            THROW 51304, @Message, 1;
        END;

        IF @ShareMode = 'admin' AND @ChannelId IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: share mode admin is not applicable to channel %d (%s); use view or edit.', @ChannelId, @Email);
            THROW 51305, @Message, 1;
        END;

        IF @SenderUserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: @SenderUserId is required (%s %d, %s).', @TargetKind, @TargetId, @Email);
            THROW 51312, @Message, 1;
        END;

        IF (@ChannelId IS NOT NULL AND NOT EXISTS (SELECT 1 FROM app.Channel AS c WHERE c.ChannelId = @ChannelId))
           OR (@OrganizationId IS NOT NULL AND NOT EXISTS (SELECT 1 FROM app.Organization AS o WHERE o.OrganizationId = @OrganizationId))
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: %s %d does not exist.', @TargetKind, @TargetId);
            THROW 51308, @Message, 1;
        END;

        BEGIN TRANSACTION;

        /* 2. Lock order (README "Lock order"): L2 first, the user rows of the sender and of every account holding the
              address (UPDLOCK, HOLDLOCK: held to the end), ascending UserId (nested loops driven by @LockUser's key
              order), then the invitations (L3). The accounts are read through IX_app_User_Email (covering: no lock is
              kept, and a merge's exclusive lock on a user's clustered row does not make this read wait). A merge of the
              sender holds its row exclusively: this call waits for it, then finds the sender merged away and refuses
              (51310) instead of writing an invitation from a merged-away user. A merge of an account holding the
              address waits for this call or this call for it, before either touches the address's invitations. */
        INSERT INTO @LockUser (UserId)
        SELECT u.UserId FROM app.[User] AS u WHERE u.Email = @Email
        UNION
        SELECT @SenderUserId;

        SELECT @LockedUsers = COUNT(*)
        FROM @LockUser AS lu
        JOIN app.[User] AS u WITH (UPDLOCK, HOLDLOCK, ROWLOCK)
          ON u.UserId = lu.UserId
        OPTION (FORCE ORDER, LOOP JOIN);

        SELECT @SenderIsActive = u.IsActive
        FROM app.[User] AS u WITH (UPDLOCK, HOLDLOCK)
        WHERE u.UserId = @SenderUserId;

        IF @SenderIsActive IS NULL OR @SenderIsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: sender user %d does not exist or is inactive.', @SenderUserId);
            THROW 51310, @Message, 1;
        END;

        /* 3. Lock the (e-mail, pending) key range and refuse a duplicate pending invitation to the same target. */
        SELECT @ExistingId = i.InvitationId
        FROM app.Invitation AS i WITH (UPDLOCK, SERIALIZABLE, INDEX (IX_app_Invitation_Email_Status_ChannelId_OrganizationId))
        WHERE i.Email = @Email
          AND i.Status = 'pending'
          AND (i.ChannelId = @ChannelId OR i.OrganizationId = @OrganizationId);

        IF @ExistingId IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Create: invitation %d of %s to %s %d is already pending.', @ExistingId, @Email, @TargetKind, @TargetId);
            THROW 51306, @Message, 1;
        END;

        /* 4. Write the invitation and its e-mail event. */
        INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode, SenderUserId, Status)
        OUTPUT inserted.InvitationId, inserted.Email, inserted.ShareMode, inserted.SenderUserId, inserted.Status, inserted.CreatedAt
          INTO @Created (InvitationId, Email, ShareMode, SenderUserId, Status, CreatedAt)
        VALUES (@ChannelId, @OrganizationId, @Email, @ShareMode, @SenderUserId, 'pending');

        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
        SELECT 'invitation.created',
               N'invitation.created:' + CONVERT(nvarchar(12), c.InvitationId),
               (SELECT c.InvitationId AS invitationId, @TargetKind AS targetKind, @TargetId AS targetId,
                       c.Email AS email, c.ShareMode AS shareMode, c.SenderUserId AS senderUserId
                FOR JSON PATH, WITHOUT_ARRAY_WRAPPER)
        FROM @Created AS c;

        COMMIT TRANSACTION;

        /* 5. Result. */
        SELECT c.InvitationId, @TargetKind AS TargetKind, @TargetId AS TargetId, c.Email, c.ShareMode,
               c.SenderUserId, c.Status, c.CreatedAt
        FROM @Created AS c;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
