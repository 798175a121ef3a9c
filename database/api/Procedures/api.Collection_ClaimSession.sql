SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Collection_ClaimSession
  Purpose:
    At login: every collection owned by the anonymous session @SessionId becomes @UserId's, atomically (one
    transaction), and is returned (seeds/002: "Import existing collections"). Only an active user may claim.
    Idempotent: claiming again claims nothing and is not an error (zero rows, @ClaimedCount 0, no audit row).
    Two users claiming one session at once: exactly one gets the collections, the other gets none, and its
    result says so (@ClaimedCount 0, @ClaimedByUserId = the winner). The work is dbmerge.Collection_ClaimCore;
    this procedure validates, owns the transaction and returns the result.
    Name collisions: a claimed collection whose name the user already has (case-insensitively) is kept and
    renamed 'Name (2)', 'Name (3)', ... (the full rule, and truncation to nvarchar(200), in
    dbmerge.Collection_ClaimCore); Renamed = 1 and OriginalName say which.
    Session id: 1 to 64 characters, each printable ASCII '!' .. '~' (no spaces: varchar comparison ignores
    trailing spaces, so 'abc ' would claim the collections of 'abc'), compared byte for byte
    (app.Collection.AnonymousSessionId is varchar(64) Latin1_General_100_BIN2). The parameter is nvarchar(4000)
    so that an over-long or non-ASCII value is refused (51551) instead of silently cut or converted to '?'; it is
    never echoed in messages (a session id is a credential). The audit keeps only its SHA-256.
    Locks (in the DbMerge lock order, details in dbmerge.Collection_ClaimCore): L1 the user's applock
    DbMerge.User:<id> (as user merges take it), then the session's applock DbMerge.Session:<SHA-256 of the id>
    (a concurrent claim of the same session waits there and, once the first committed, finds nothing); L2 the
    user's app.User row exclusively; L3 the session's collections, locked (X on the current rows, by a
    non-updating UPDATE: current data under RCSI too) in keyset batches lowest CollectionId first, moved in
    batches of 1000; then dbmerge.CollectionClaim / CollectionClaimItem. Seeks: the session's rows on the
    filtered IX_app_Collection_AnonymousSessionId (WHERE AnonymousSessionId IS NOT NULL): 'AnonymousSessionId =
    @SessionId' implies the filter for every parameter value under ANSI_NULLS ON, so a cached plan may seek it
    (and the predicate also states 'AnonymousSessionId IS NOT NULL' literally); the user's names on
    IX_app_Collection_OwnerUserId; the latest claim of the session (@ClaimedByUserId) on
    IX_dbmerge_CollectionClaim_SessionIdHash (filtered WHERE SessionIdHash IS NOT NULL, same reasoning).
    Lock waits follow the caller's SET LOCK_TIMEOUT and command timeout; a lock not granted in time (an applock,
    or a row lock: engine error 1222, re-thrown by the CATCH) is 51564; nothing changes on either.
  Transaction: OWNS its transaction; parameters are validated before it begins. Called inside an open
    transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51556) before anything else, without touching the
    caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set: one row per collection claimed by this call, ordered by CollectionId (zero rows: nothing claimed):
    CollectionId int, Name nvarchar(200) (its name now), OriginalName nvarchar(200) (its name in the session),
    Renamed bit, FromUserId int NULL (always NULL for a session claim; same shape as api.Collection_ClaimLegacy)
    OUTPUT: @ClaimId bigint (the dbmerge.CollectionClaim row; NULL when nothing was claimed), @ClaimedCount int,
    @ClaimedByUserId int (the user holding the session's collections: @UserId when this call claimed some, else
    the user of the session's latest earlier claim - another user after a lost race, @UserId after a repeat -
    and NULL when the session was never claimed, e.g. it has no collections).
  Errors:
    51550  @UserId is missing
    51551  @SessionId is missing, blank, longer than 64 characters or has a character outside '!' .. '~'
    51552  the user does not exist, is inactive or was merged away (from dbmerge.Collection_ClaimCore)
    51556  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (the caller's transaction is untouched)
    51563  post-condition failed; rolled back (from dbmerge.Collection_ClaimCore)
    51564  a lock was not granted within the caller's LOCK_TIMEOUT: the applock DbMerge.User:<id> or DbMerge.Session:<hash>
           (from the core) or a row lock (engine error 1222, re-thrown); nothing changed, retry
  Example:
    DECLARE @ClaimId bigint, @Count int, @By int;
    EXEC api.Collection_ClaimSession @SessionId = N'k3j4h5g6', @UserId = 42, @RequestedBy = N'web login',
         @ClaimId = @ClaimId OUTPUT, @ClaimedCount = @Count OUTPUT, @ClaimedByUserId = @By OUTPUT;
*/
CREATE OR ALTER PROCEDURE api.Collection_ClaimSession
    @SessionId       nvarchar(4000),
    @UserId          int,
    @RequestedBy     nvarchar(128) = NULL,
    @ClaimId         bigint = NULL OUTPUT,
    @ClaimedCount    int = NULL OUTPUT,
    @ClaimedByUserId int = NULL OUTPUT
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or implicit-transaction mode, where the first statement would open
       one) with XACT_ABORT OFF, before the TRY: THROW honours XACT_ABORT (with it ON the THROW would roll the
       caller's work back) and the CATCH below rolls back; this procedure must refuse rather than do either. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Collection_ClaimSession: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, user %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
        THROW 51556, @OpenMessage, 1;
    END;

    DECLARE @Message     nvarchar(2048);
    DECLARE @Session     varchar(64);
    DECLARE @SessionHash binary(32);
    DECLARE @Renamed     int;
    DECLARE @Requester   nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
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
    SET @ClaimedByUserId = NULL;

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @UserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ClaimSession: @UserId is required (got NULL).');
            THROW 51550, @Message, 1;
        END;

        IF @SessionId IS NULL OR DATALENGTH(@SessionId) = 0 OR DATALENGTH(@SessionId) > 128
           OR @SessionId COLLATE Latin1_General_100_BIN2 LIKE N'%[^!-~]%'
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ClaimSession: @SessionId must be 1 to 64 printable ASCII characters (''!'' to ''~'', no spaces) (user %d, %s).',
                @UserId, IIF(@SessionId IS NULL, N'got NULL', CONCAT(N'got ', DATALENGTH(@SessionId) / 2, N' characters')));
            THROW 51551, @Message, 1;
        END;

        SET @Session = CONVERT(varchar(64), @SessionId);       -- printable ASCII only: converts losslessly
        SET @SessionHash = CONVERT(binary(32), HASHBYTES('SHA2_256', @Session));

        /* 2.-4. Locks, work, post-conditions: dbmerge.Collection_ClaimCore (L2 user row, L3 collections, audit). */
        BEGIN TRANSACTION;

        EXEC dbmerge.Collection_ClaimCore
             @UserId = @UserId,
             @SessionId = @Session,
             @LegacyUserId = NULL,
             @RequestedBy = @Requester,
             @ClaimId = @ClaimId OUTPUT,
             @ClaimedCount = @ClaimedCount OUTPUT,
             @RenamedCount = @Renamed OUTPUT;

        INSERT INTO @Result (CollectionId, Name, OriginalName, Renamed, FromUserId)
        SELECT i.CollectionId, i.NewName, i.OldName,
               CONVERT(bit, IIF(i.NewName = i.OldName COLLATE Latin1_General_100_BIN2 AND DATALENGTH(i.NewName) = DATALENGTH(i.OldName), 0, 1)),
               i.FromUserId
        FROM dbmerge.CollectionClaimItem AS i                  -- PK_dbmerge_CollectionClaimItem (ClaimId, CollectionId)
        WHERE i.ClaimId = @ClaimId;

        COMMIT TRANSACTION;

        /* 5. Who holds the session's collections (the latest claim of this session). */
        IF @ClaimedCount > 0
            SET @ClaimedByUserId = @UserId;
        ELSE
            SELECT TOP (1) @ClaimedByUserId = c.UserId
            FROM dbmerge.CollectionClaim AS c                  -- IX_dbmerge_CollectionClaim_SessionIdHash (filtered, covering)
            WHERE c.SessionIdHash = @SessionHash
              AND c.SessionIdHash IS NOT NULL
            ORDER BY c.ClaimId DESC;

        /* 6. Result. */
        SELECT r.CollectionId, r.Name, r.OriginalName, r.Renamed, r.FromUserId
        FROM @Result AS r
        ORDER BY r.CollectionId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        IF ERROR_NUMBER() = 1222
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ClaimSession: a row lock was not granted within the caller''s lock timeout (%d ms; engine error 1222 at line %d) while claiming a session for user %s; nothing changed, retry.',
                @@LOCK_TIMEOUT, ERROR_LINE(), ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51564, @Message, 1;
        END;
        THROW;
    END CATCH;
END;
GO
