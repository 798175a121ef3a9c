SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Collection_ClaimLegacy
  Purpose:
    "Migrate data" (seeds/002): moves to @UserId the collections of a legacy account of the user - another
    account with the same e-mail (case-insensitive), inactive and never merged - atomically (one transaction).
    @LegacyUserId names one legacy account; NULL claims from every legacy account of the user's e-mail (none:
    nothing to claim, not an error). An account that is not a legacy account of the user is refused with its
    number, naming it, and nothing changes: 51553 it does not exist, 51554 it is the user itself, has another
    e-mail, is active, or was merged. Only an active user may claim (51552).
    Idempotent: claiming again claims nothing and is not an error (zero rows, @ClaimedCount 0, no audit row).
    The move is recorded in dbmerge.CollectionClaim / dbmerge.CollectionClaimItem (claim id, from-user, to-user,
    old and new name, who, when) so that an operator can list it (api.CollectionClaim_List, dbmerge collections
    claims) and undo it (api.Collection_UndoClaim, dbmerge collections undo-claim).
    Dry run (@DryRun = 1): the same code path, rolled back; the result shows what would be claimed and renamed
    (@ClaimId NULL: the audit row was rolled back too).
    Name collisions: a claimed collection whose name the user already has (case-insensitively), or that an
    earlier claimed collection keeps, is kept and renamed 'Name (2)', 'Name (3)', ... (the full rule, and
    truncation to nvarchar(200), in dbmerge.Collection_ClaimCore); Renamed = 1 and OriginalName say which.
    The work is dbmerge.Collection_ClaimCore; this procedure validates, owns the transaction and returns the result.
    Locks (in the DbMerge lock order, details in dbmerge.Collection_ClaimCore): L1 the applocks
    DbMerge.User:<id> of the user and of the legacy accounts, ascending UserId (as user merges take them); L2
    their app.User rows, exclusively, ascending UserId, re-checked under the lock (an account merged
    meanwhile is refused, or skipped when @LegacyUserId is NULL); L3 their collections, locked (X on the
    current rows, by a non-updating UPDATE: current data under RCSI too) in keyset batches, moved in batches of
    1000; then the audit tables. A user merge of either account takes the same applocks and user rows first, so
    the two serialize and cannot deadlock. Seeks: legacy accounts on IX_app_User_Email (Email) INCLUDE (IsActive)
    with a key lookup for MergedIntoUserId; their collections and the
    user's names on IX_app_Collection_OwnerUserId. Lock waits follow the caller's SET LOCK_TIMEOUT: a lock not granted
    in time (an applock, or a row lock: engine error 1222, re-thrown by the CATCH) is 51564.
  Transaction: OWNS its transaction; parameters are validated before it begins. Called inside an open
    transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51556) before anything else, without touching the
    caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set: one row per collection claimed (or, for a dry run, that would be), ordered by CollectionId:
    CollectionId int, Name nvarchar(200) (its name now), OriginalName nvarchar(200) (its name in the legacy
    account), Renamed bit, FromUserId int (the legacy account it came from). Zero rows: nothing to claim.
    OUTPUT: @ClaimId bigint (the dbmerge.CollectionClaim row; NULL when nothing was claimed or for a dry run),
    @ClaimedCount int (collections claimed, or that would be).
  Errors:
    51550  @UserId or @DryRun is missing, or @LegacyUserId is not positive
    51552  the user does not exist, is inactive or was merged away (from dbmerge.Collection_ClaimCore)
    51553  the legacy account does not exist (from dbmerge.Collection_ClaimCore)
    51554  the account is not a legacy account of the user: itself, another e-mail, active, or merged (from the core)
    51555  more than 1000 legacy accounts share the e-mail: claim them one at a time (from the core)
    51556  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (the caller's transaction is untouched)
    51563  post-condition failed; rolled back (from dbmerge.Collection_ClaimCore)
    51564  a lock was not granted within the caller's LOCK_TIMEOUT: an applock DbMerge.User:<id> (from the core) or a
           row lock (engine error 1222, re-thrown); nothing changed, retry
  Example:
    DECLARE @ClaimId bigint, @Count int;
    EXEC api.Collection_ClaimLegacy @UserId = 42, @LegacyUserId = NULL, @DryRun = 0, @RequestedBy = N'migrate data',
         @ClaimId = @ClaimId OUTPUT, @ClaimedCount = @Count OUTPUT;
*/
CREATE OR ALTER PROCEDURE api.Collection_ClaimLegacy
    @UserId       int,
    @LegacyUserId int = NULL,
    @DryRun       bit = 0,
    @RequestedBy  nvarchar(128) = NULL,
    @ClaimId      bigint = NULL OUTPUT,
    @ClaimedCount int = NULL OUTPUT
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or implicit-transaction mode, where the first statement would open
       one) with XACT_ABORT OFF, before the TRY: THROW honours XACT_ABORT (with it ON the THROW would roll the
       caller's work back) and the CATCH below rolls back; this procedure must refuse rather than do either. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Collection_ClaimLegacy: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, user %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
        THROW 51556, @OpenMessage, 1;
    END;

    DECLARE @Message   nvarchar(2048);
    DECLARE @Renamed   int;
    DECLARE @Requester nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @Result TABLE
    (
        CollectionId int           NOT NULL PRIMARY KEY,
        Name         nvarchar(200) NOT NULL,
        OriginalName nvarchar(200) NOT NULL,
        Renamed      bit           NOT NULL,
        FromUserId   int           NULL
    );

    SET @ClaimId = NULL;
    SET @ClaimedCount = 0;

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @UserId IS NULL OR @DryRun IS NULL OR @LegacyUserId <= 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ClaimLegacy: @UserId and @DryRun are required and @LegacyUserId, when given, is a user id (got user %s, legacy account %s, dry run %s).',
                ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LegacyUserId), N'NULL'),
                ISNULL(CONVERT(nvarchar(1), @DryRun), N'NULL'));
            THROW 51550, @Message, 1;
        END;

        /* 2.-4. Locks, work, post-conditions: dbmerge.Collection_ClaimCore (L2 user rows, L3 collections, audit). */
        BEGIN TRANSACTION;

        EXEC dbmerge.Collection_ClaimCore
             @UserId = @UserId,
             @SessionId = NULL,
             @LegacyUserId = @LegacyUserId,
             @RequestedBy = @Requester,
             @ClaimId = @ClaimId OUTPUT,
             @ClaimedCount = @ClaimedCount OUTPUT,
             @RenamedCount = @Renamed OUTPUT;

        /* The result survives a dry run's rollback in this table variable. */
        INSERT INTO @Result (CollectionId, Name, OriginalName, Renamed, FromUserId)
        SELECT i.CollectionId, i.NewName, i.OldName,
               CONVERT(bit, IIF(i.NewName = i.OldName COLLATE Latin1_General_100_BIN2 AND DATALENGTH(i.NewName) = DATALENGTH(i.OldName), 0, 1)),
               i.FromUserId
        FROM dbmerge.CollectionClaimItem AS i                  -- PK_dbmerge_CollectionClaimItem (ClaimId, CollectionId)
        WHERE i.ClaimId = @ClaimId;

        IF @DryRun = 1
        BEGIN
            ROLLBACK TRANSACTION;
            SET @ClaimId = NULL;
        END
        ELSE
            COMMIT TRANSACTION;

        /* 5. Result. */
        SELECT r.CollectionId, r.Name, r.OriginalName, r.Renamed, r.FromUserId
        FROM @Result AS r
        ORDER BY r.CollectionId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        IF ERROR_NUMBER() = 1222
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ClaimLegacy: a row lock was not granted within the caller''s lock timeout (%d ms; engine error 1222 at line %d) while claiming legacy collections for user %s; nothing changed, retry.',
                @@LOCK_TIMEOUT, ERROR_LINE(), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51564, @Message, 1;
        END;
        THROW;
    END CATCH;
END;
GO
