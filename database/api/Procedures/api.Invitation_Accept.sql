SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Invitation_Accept
  Purpose:
    The invited user accepts an invitation. Only the active user whose e-mail matches the invitation's
    (case-insensitively, whatever the database collation) may accept. The share mode maps to the member role:
    view -> viewer, edit -> editor, admin -> admin (organizations only; admin on a channel is inapplicable).
    The membership (app.OrganizationMember or app.ChannelMember) is written once, with its final role, by one
    statement: UPDATE ... WITH (UPDLOCK, SERIALIZABLE) that matches the existing row whatever its role and
    keeps the higher of the existing and the new role (never downgrades), then INSERT only when no row exists.
    There is never an intermediate row without a valid role, and an existing higher role never falls into the
    INSERT branch. The invitation becomes accepted with InvitedUserId and RespondedAt.
    Idempotent: accepting again by the same user changes nothing and returns AlreadyAccepted = 1 with the
    current membership role. The invitation row is locked (UPDLOCK, HOLDLOCK), so concurrent accepts of one
    invitation serialize: one writes, the others see it accepted and return AlreadyAccepted = 1.
  Lock order (README "Lock order", the one order of every DbMerge procedure): L2 the accepting user's app.User row
    (UPDLOCK, HOLDLOCK), then L3 the invitation, then the membership (app.OrganizationMember / app.ChannelMember).
    A user merge locks both users' rows first and then the same tables in the same order, so an accept and a merge
    of one user serialize on the user row and can never deadlock: an accept that waited for a merge of its user
    finds the user merged away (inactive) and refuses with 51303. A missing or inactive user is refused (51303) right
    after its row is locked, before the invitation (a merge and an unmerge U-lock the accounts merged into the source
    in L2 with both users, review 14, so such an account's accept serializes with them on its row; refusing it first
    also keeps it from ever waiting for an invitation with that row held). Defence in depth: this procedure runs at
    DEADLOCK_PRIORITY LOW, so in any deadlock with a merge (NORMAL) it is the victim, and against an unmerge (LOW too) the
    one cheaper to roll back is: 1205, rolled back, nothing changed (membership and invitation are written in the one
    transaction; DbMergeClient.AcceptInvitationAsync runs it again, and a repeated accept is idempotent anyway).
  Transaction: OWNS its transaction (lock user and invitation, check, write membership, mark accepted: all or nothing).
    Called inside an open transaction it refuses (51313) before anything else, without touching the caller's
    transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    InvitationId int, TargetKind varchar(12) ('channel' | 'organization'), TargetId int, UserId int,
    Role varchar(20) (the membership role after the call), MembershipCreated bit, RoleUpgraded bit,
    AlreadyAccepted bit
  Errors:
    51300  the invitation does not exist
    51301  the invitation is not pending (declined, revoked, or accepted by another user)
    51302  the user's e-mail does not match the invitation's
    51303  the user does not exist or is inactive
    51304  the invitation's share mode is unknown
    51305  the share mode is inapplicable to the target (admin on a channel)
    51309  the stored invitation targets both or neither of a channel and an organization (a row written
           before CK_app_Invitation_ExactlyOneTarget existed: see dbmerge constraints validate)
    51312  @InvitationId or @UserId is missing
    51313  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    EXEC api.Invitation_Accept @InvitationId = 1001, @UserId = 42;
*/
CREATE OR ALTER PROCEDURE api.Invitation_Accept
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Invitation_Accept: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, invitation %s, user %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
        THROW 51313, @OpenMessage, 1;
    END;

    /* Defence in depth (Lock order above): should a deadlock with a merge or unmerge still occur,
       this call may be the victim: cheaper to retry.
       The setting reverts when the procedure returns. */
    SET DEADLOCK_PRIORITY LOW;

    DECLARE @Message           nvarchar(2048);
    DECLARE @Found             bit = 0;
    DECLARE @ChannelId         int;
    DECLARE @OrganizationId    int;
    DECLARE @InvitationEmail   nvarchar(254);
    DECLARE @ShareMode         varchar(10);
    DECLARE @Status            varchar(10);
    DECLARE @InvitedUserId     int;
    DECLARE @UserEmail         nvarchar(254);
    DECLARE @UserIsActive      bit;
    DECLARE @TargetKind        varchar(12);
    DECLARE @TargetId          int;
    DECLARE @NewRole           varchar(20);
    DECLARE @NewRank           tinyint;
    DECLARE @Role              varchar(20);
    DECLARE @MembershipCreated bit = 0;
    DECLARE @RoleUpgraded      bit = 0;
    DECLARE @AlreadyAccepted   bit = 0;
    DECLARE @Membership TABLE
    (
        OldRole varchar(20) NULL,
        NewRole varchar(20) NOT NULL
    );

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @InvitationId IS NULL OR @UserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: @InvitationId and @UserId are required (got invitation %s, user %s).',
                ISNULL(CONVERT(nvarchar(12), @InvitationId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51312, @Message, 1;
        END;

        BEGIN TRANSACTION;

        /* 2. L2: the user row first (held to the end): serializes with a merge of this user. */
        SELECT @UserEmail = u.Email, @UserIsActive = u.IsActive
        FROM app.[User] AS u WITH (UPDLOCK, HOLDLOCK)
        WHERE u.UserId = @UserId;

        /* A missing or inactive user (a merged-away account is inactive) is refused here, holding only its user row:
           a merge of the account it was merged into U-locks such rows in L2 with its source and target (review 14), so
           this call has waited for that merge on this row; it never locks an invitation while holding such a row. */
        IF @UserEmail IS NULL OR @UserIsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: user %d does not exist or is inactive (invitation %d).', @UserId, @InvitationId);
            THROW 51303, @Message, 1;
        END;

        /* 3. L3: the invitation row: concurrent accepts of one invitation serialize here. */
        SELECT @Found           = 1,
               @ChannelId       = i.ChannelId,
               @OrganizationId  = i.OrganizationId,
               @InvitationEmail = i.Email,
               @ShareMode       = i.ShareMode,
               @Status          = i.Status,
               @InvitedUserId   = i.InvitedUserId
        FROM app.Invitation AS i WITH (UPDLOCK, HOLDLOCK)
        WHERE i.InvitationId = @InvitationId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: invitation %d does not exist.', @InvitationId);
            THROW 51300, @Message, 1;
        END;

        IF @UserEmail COLLATE Latin1_General_100_CI_AS <> @InvitationEmail COLLATE Latin1_General_100_CI_AS
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: invitation %d is addressed to another e-mail than user %d''s; only the invited user may accept it.', @InvitationId, @UserId);
            THROW 51302, @Message, 1;
        END;

        IF (@ChannelId IS NULL AND @OrganizationId IS NULL) OR (@ChannelId IS NOT NULL AND @OrganizationId IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: invitation %d targets both or neither of a channel (%s) and an organization (%s).', @InvitationId,
                ISNULL(CONVERT(nvarchar(12), @ChannelId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @OrganizationId), N'NULL'));
            THROW 51309, @Message, 1;
        END;

        SET @TargetKind = CASE WHEN @ChannelId IS NOT NULL THEN 'channel' ELSE 'organization' END;
        SET @TargetId = COALESCE(@ChannelId, @OrganizationId);

        IF @Status = 'accepted' AND @InvitedUserId = @UserId
        BEGIN
            /* Idempotent repeat: report the current membership, change nothing. */
            SET @AlreadyAccepted = 1;
            SELECT @Role = m.Role FROM app.ChannelMember AS m WHERE m.ChannelId = @ChannelId AND m.UserId = @UserId;
            SELECT @Role = m.Role FROM app.OrganizationMember AS m WHERE m.OrganizationId = @OrganizationId AND m.UserId = @UserId;
        END
        ELSE
        BEGIN
            IF @Status <> 'pending'
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: invitation %d is %s, not pending (user %d).', @InvitationId, @Status, @UserId);
                THROW 51301, @Message, 1;
            END;

            /* 4. Share mode -> role. */
            SET @NewRole = CASE @ShareMode WHEN 'view' THEN 'viewer' WHEN 'edit' THEN 'editor' WHEN 'admin' THEN 'admin' END;

            IF @NewRole IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: invitation %d has unknown share mode ''%s''.', @InvitationId, ISNULL(CONVERT(nvarchar(10), @ShareMode), N'NULL'));
                THROW 51304, @Message, 1;
            END;

            IF @TargetKind = 'channel'
                SELECT @NewRank = r.RoleRank FROM app.ChannelRole AS r WHERE r.Role = @NewRole;
            ELSE
                SELECT @NewRank = r.RoleRank FROM app.OrganizationRole AS r WHERE r.Role = @NewRole;

            IF @NewRank IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Invitation_Accept: share mode ''%s'' of invitation %d is not applicable to %s %d.', CONVERT(nvarchar(10), @ShareMode), @InvitationId, @TargetKind, @TargetId);
                THROW 51305, @Message, 1;
            END;

            /* 5. Membership (after the invitation: L3 order), written once: keep the higher role; insert only when no row exists. */
            IF @TargetKind = 'channel'
            BEGIN
                UPDATE m
                   SET Role      = CASE WHEN cr.RoleRank < @NewRank THEN @NewRole ELSE m.Role END,
                       UpdatedAt = CASE WHEN cr.RoleRank < @NewRank THEN SYSUTCDATETIME() ELSE m.UpdatedAt END
                OUTPUT deleted.Role, inserted.Role INTO @Membership (OldRole, NewRole)
                FROM app.ChannelMember AS m WITH (UPDLOCK, SERIALIZABLE)
                JOIN app.ChannelRole AS cr ON cr.Role = m.Role
                WHERE m.ChannelId = @ChannelId
                  AND m.UserId = @UserId;

                IF @@ROWCOUNT = 0
                    INSERT INTO app.ChannelMember (ChannelId, UserId, Role)
                    OUTPUT CAST(NULL AS varchar(20)), inserted.Role INTO @Membership (OldRole, NewRole)
                    VALUES (@ChannelId, @UserId, @NewRole);
            END
            ELSE
            BEGIN
                UPDATE m
                   SET Role      = CASE WHEN cr.RoleRank < @NewRank THEN @NewRole ELSE m.Role END,
                       UpdatedAt = CASE WHEN cr.RoleRank < @NewRank THEN SYSUTCDATETIME() ELSE m.UpdatedAt END
                OUTPUT deleted.Role, inserted.Role INTO @Membership (OldRole, NewRole)
                FROM app.OrganizationMember AS m WITH (UPDLOCK, SERIALIZABLE)
                JOIN app.OrganizationRole AS cr ON cr.Role = m.Role
                WHERE m.OrganizationId = @OrganizationId
                  AND m.UserId = @UserId;

                IF @@ROWCOUNT = 0
                    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role)
                    OUTPUT CAST(NULL AS varchar(20)), inserted.Role INTO @Membership (OldRole, NewRole)
                    VALUES (@OrganizationId, @UserId, @NewRole);
            END;

            SELECT @Role              = mb.NewRole,
                   @MembershipCreated = CASE WHEN mb.OldRole IS NULL THEN 1 ELSE 0 END,
                   @RoleUpgraded      = CASE WHEN mb.OldRole IS NOT NULL AND mb.OldRole <> mb.NewRole THEN 1 ELSE 0 END
            FROM @Membership AS mb;

            /* 6. The invitation is accepted by this user. */
            UPDATE app.Invitation
               SET Status        = 'accepted',
                   InvitedUserId = @UserId,
                   RespondedAt   = SYSUTCDATETIME()
             WHERE InvitationId = @InvitationId
               AND Status = 'pending';
        END;

        COMMIT TRANSACTION;

        /* 7. Result. */
        SELECT @InvitationId AS InvitationId,
               @TargetKind AS TargetKind,
               @TargetId AS TargetId,
               @UserId AS UserId,
               @Role AS Role,
               @MembershipCreated AS MembershipCreated,
               @RoleUpgraded AS RoleUpgraded,
               @AlreadyAccepted AS AlreadyAccepted;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
