SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Collection_UndoClaim
  Purpose:
    Operator undo of a legacy claim (api.Collection_ClaimLegacy): every collection of claim @ClaimId goes back to
    the legacy account it came from with exactly its name and UpdatedAt from before the claim
    (dbmerge.CollectionClaimItem.FromUserId / OldName / OldUpdatedAt), and the claim is marked undone (UndoneAt,
    UndoneBy). All or nothing, and only when nothing changed since the claim: every collection must still have
    what the claim left (OwnerUserId = the claiming user, no session, Name = NewName exactly - binary, same length
    - and UpdatedAt = NewUpdatedAt), else it refuses with 51559 naming the first changed collection and how many
    changed (deleted, moved to another owner - e.g. by a later user merge -, renamed, or updated), changing
    nothing. An account the claim took collections from that no longer exists or was merged since is refused too
    (51560): its collections would belong to a merged-away account. (A reactivated account gets them back.)
    A session claim cannot be undone (51558): the session id is not kept (only its hash), and the session ended
    with the login. Undoing an undone claim changes nothing and returns AlreadyUndone = 1 (idempotent).
    Dry run (@DryRun = 1): the same checks and restore, rolled back; the row shows what would be restored.
    Operator-only: the caller must be a member of DbMergeOperator or db_owner (51561); DbMergeApp may execute
    schema api, so the procedure checks.
    Locks, in the DbMerge lock order: the claim and its items are first read (no lock held under READ
    COMMITTED, none taken under RCSI) into #Items to learn the accounts; L1 their applocks DbMerge.User:<id>,
    Exclusive, ascending UserId (as user merges take them; not granted within the caller's LOCK_TIMEOUT: 51564);
    L2 the app.User rows of the claiming
    user and of every from-account, exclusively, ascending UserId (the non-updating UPDATE of
    dbmerge.Collection_ClaimCore: X under READ COMMITTED, RCSI and optimized locking alike), so undo, claims and
    user merges of these accounts serialize - a second undo of the same claim waits here and then sees it undone;
    L3 the claimed collections in keyset batches of 1000: locked by a non-updating UPDATE (X on the current rows,
    under RCSI too - see dbmerge.Collection_ClaimCore), compared with what the claim left, held to the end, then
    restored in batches of 1000, each row only if it still has exactly what the claim left (under optimized
    locking a non-updating UPDATE's lock may not outlast its statement; a row changed in between fails the
    post-condition, 51563, rolled back); then dbmerge.CollectionClaim (UndoneAt). Lock waits follow the caller's
    SET LOCK_TIMEOUT (51564: an applock, or a row lock's 1222 re-thrown by the CATCH). At most 1000 collection rows (3000 key locks) or 1001 user rows per statement.
    Seeks: the claim on PK_dbmerge_CollectionClaim; its items on PK_dbmerge_CollectionClaimItem (ClaimId,
    CollectionId); users on PK_app_User; collections on PK_app_Collection.
  Transaction: OWNS its transaction; parameters are validated before it begins. Called inside an open
    transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51556) before anything else, without touching the
    caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    ClaimId bigint, Kind varchar(10), UserId int (the user who had claimed), RestoredCount int (collections given
    back by this call, or that would be for a dry run; 0 when already undone), AlreadyUndone bit, DryRun bit,
    UndoneAt datetime2(3) NULL, UndoneBy nvarchar(128) NULL (the claim's undo; NULL for a dry run that found it
    not undone)
  Errors:
    51550  @ClaimId is missing or not positive, or @DryRun is missing
    51556  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (the caller's transaction is untouched)
    51557  no claim has that id
    51558  the claim is a session claim: it cannot be undone
    51559  a collection changed since the claim (the message names the first and the count); nothing changed
    51560  an account the collections came from no longer exists or was merged since; nothing changed
    51561  the caller is not a member of DbMergeOperator (or db_owner)
    51563  post-condition failed (a checked collection did not restore - it changed after the check -, or the claim
           row did not update); rolled back
    51564  a lock was not granted within the caller's LOCK_TIMEOUT: an applock DbMerge.User:<id>, or a row lock
           (engine error 1222, re-thrown by the CATCH); nothing changed, retry
  Example:
    EXEC api.Collection_UndoClaim @ClaimId = 17, @DryRun = 1, @RequestedBy = N'ops: ticket 4711';
*/
CREATE OR ALTER PROCEDURE api.Collection_UndoClaim
    @ClaimId     bigint,
    @DryRun      bit = 0,
    @RequestedBy nvarchar(128) = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or implicit-transaction mode, where the first statement would open
       one) with XACT_ABORT OFF, before the TRY: THROW honours XACT_ABORT (with it ON the THROW would roll the
       caller's work back) and the CATCH below rolls back; this procedure must refuse rather than do either. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Collection_UndoClaim: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, claim %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(20), @ClaimId), N'NULL'));
        THROW 51556, @OpenMessage, 1;
    END;

    DECLARE @Message       nvarchar(2048);
    DECLARE @Now           datetime2(3) = SYSUTCDATETIME();
    DECLARE @BatchSize     int = 1000;
    DECLARE @Requester     nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @Found         bit = 0;
    DECLARE @Kind          varchar(10);
    DECLARE @ToUserId      int;
    DECLARE @UndoneAt      datetime2(3);
    DECLARE @UndoneBy      nvarchar(128);
    DECLARE @AlreadyUndone bit = 0;
    DECLARE @Items         int = 0;
    DECLARE @Restored      int = 0;
    DECLARE @Changed       int = 0;
    DECLARE @FirstChanged  int;
    DECLARE @FirstProblem  nvarchar(30);
    DECLARE @BadAccount    int;
    DECLARE @BadMergedInto int;
    DECLARE @From          int;
    DECLARE @To            int;
    DECLARE @Ordinal       int;
    DECLARE @AccountCount  int;
    DECLARE @Resource      nvarchar(255);
    DECLARE @LockResult    int;
    DECLARE @LockTimeout   int = @@LOCK_TIMEOUT;
    DECLARE @Account TABLE (UserId int NOT NULL PRIMARY KEY);
    DECLARE @Ordered TABLE (Ordinal int IDENTITY(1, 1) NOT NULL PRIMARY KEY, UserId int NOT NULL);
    DECLARE @Locked TABLE (UserId int NOT NULL PRIMARY KEY, MergedIntoUserId int NULL);

    BEGIN TRY
        /* 1. Check parameters and the caller's role (no transaction open). */
        IF @ClaimId IS NULL OR @ClaimId <= 0 OR @DryRun IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: @ClaimId (a claim id) and @DryRun are required (got claim %s, dry run %s).',
                ISNULL(CONVERT(nvarchar(20), @ClaimId), N'NULL'), ISNULL(CONVERT(nvarchar(1), @DryRun), N'NULL'));
            THROW 51550, @Message, 1;
        END;

        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: undoing claim %I64d requires membership of DbMergeOperator.', @ClaimId);
            THROW 51561, @Message, 1;
        END;

        BEGIN TRANSACTION;

        /* 2. The claim and its items (reads; no lock held). */
        SELECT @Found = 1, @Kind = c.Kind, @ToUserId = c.UserId
        FROM dbmerge.CollectionClaim AS c                      -- PK_dbmerge_CollectionClaim
        WHERE c.ClaimId = @ClaimId;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: claim %I64d does not exist.', @ClaimId);
            THROW 51557, @Message, 1;
        END;

        IF @Kind <> 'legacy'
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: claim %I64d is a %s claim; only legacy claims can be undone (the session id is not kept).',
                @ClaimId, CONVERT(nvarchar(10), @Kind));
            THROW 51558, @Message, 1;
        END;

        CREATE TABLE #Items
        (
            CollectionId int           NOT NULL PRIMARY KEY CLUSTERED,
            FromUserId   int           NOT NULL,
            OldName      nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
            NewName      nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
            OldUpdatedAt datetime2(3)  NOT NULL,
            NewUpdatedAt datetime2(3)  NOT NULL
        );
        CREATE TABLE #Changed
        (
            CollectionId int          NOT NULL PRIMARY KEY CLUSTERED,
            Problem      nvarchar(30) NOT NULL
        );

        INSERT INTO #Items (CollectionId, FromUserId, OldName, NewName, OldUpdatedAt, NewUpdatedAt)
        SELECT i.CollectionId, i.FromUserId, i.OldName, i.NewName, i.OldUpdatedAt, i.NewUpdatedAt
        FROM dbmerge.CollectionClaimItem AS i                  -- PK_dbmerge_CollectionClaimItem (ClaimId, CollectionId)
        WHERE i.ClaimId = @ClaimId
          AND i.FromUserId IS NOT NULL;

        SET @Items = (SELECT COUNT(*) FROM #Items);

        /* 3. L1: the accounts' applocks DbMerge.User:<id>, ascending UserId (a loop over at most 1001 accounts,
           not over data: sp_getapplock takes one resource per call); L2: their rows, exclusively, ascending UserId. */
        INSERT INTO @Account (UserId)
        SELECT @ToUserId
        UNION
        SELECT i.FromUserId FROM #Items AS i;

        INSERT INTO @Ordered (UserId)
        SELECT a.UserId FROM @Account AS a ORDER BY a.UserId;  -- IDENTITY follows the ORDER BY

        SET @Ordinal = 0;
        SET @AccountCount = (SELECT COUNT(*) FROM @Ordered);
        WHILE @Ordinal < @AccountCount
        BEGIN
            SET @Ordinal += 1;
            SELECT @Resource = CONCAT(N'DbMerge.User:', o.UserId) FROM @Ordered AS o WHERE o.Ordinal = @Ordinal;

            EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction',
                 @LockTimeout = @LockTimeout;
            IF @LockResult < 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: %s was not granted within the lock timeout (%d ms; sp_getapplock returned %d): a user merge or a claim holds it (claim %I64d). Nothing was changed; retry.',
                    @Resource, @LockTimeout, @LockResult, @ClaimId);
                THROW 51564, @Message, 1;
            END;
        END;

        UPDATE u
           SET UpdatedAt = u.UpdatedAt
        OUTPUT inserted.UserId, inserted.MergedIntoUserId INTO @Locked (UserId, MergedIntoUserId)
        FROM @Account AS a
        INNER JOIN app.[User] AS u WITH (ROWLOCK)             -- PK_app_User seek per account
            ON u.UserId = a.UserId
        OPTION (LOOP JOIN, FORCE ORDER);

        /* Under the lock: a concurrent undo of this claim committed before we got here. */
        SELECT @UndoneAt = c.UndoneAt, @UndoneBy = c.UndoneBy
        FROM dbmerge.CollectionClaim AS c                      -- PK_dbmerge_CollectionClaim
        WHERE c.ClaimId = @ClaimId;

        IF @UndoneAt IS NOT NULL
            SET @AlreadyUndone = 1;
        ELSE
        BEGIN
            /* 4. Every from-account still exists and was not merged. */
            SELECT TOP (1) @BadAccount = a.UserId, @BadMergedInto = l.MergedIntoUserId
            FROM @Account AS a
            LEFT JOIN @Locked AS l ON l.UserId = a.UserId
            WHERE a.UserId <> @ToUserId
              AND (l.UserId IS NULL OR l.MergedIntoUserId IS NOT NULL)
            ORDER BY a.UserId;

            IF @BadAccount IS NOT NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: account %d, from which claim %I64d took collections, %s since; nothing was changed.',
                    @BadAccount, @ClaimId, IIF(@BadMergedInto IS NULL, N'no longer exists', CONCAT(N'was merged into user ', @BadMergedInto)));
                THROW 51560, @Message, 1;
            END;

            /* 5. L3: lock every collection of the claim and compare it with what the claim left. */
            SET @From = 0;
            WHILE 1 = 1
            BEGIN
                SET @To = NULL;
                SELECT @To = MAX(b.CollectionId)
                FROM (SELECT TOP (@BatchSize) i.CollectionId FROM #Items AS i WHERE i.CollectionId > @From ORDER BY i.CollectionId) AS b;

                IF @To IS NULL BREAK;

                /* Lock the current rows first (X, a non-updating UPDATE: current data under RCSI too), then
                   compare: the comparison reads rows this transaction holds. */
                UPDATE c
                   SET UpdatedAt = c.UpdatedAt
                FROM #Items AS i
                INNER JOIN app.Collection AS c WITH (ROWLOCK)  -- PK_app_Collection seek per item
                    ON c.CollectionId = i.CollectionId
                WHERE i.CollectionId > @From
                  AND i.CollectionId <= @To;

                INSERT INTO #Changed (CollectionId, Problem)
                SELECT i.CollectionId,
                       CASE WHEN c.CollectionId IS NULL THEN N'deleted'
                            WHEN c.OwnerUserId IS NULL OR c.OwnerUserId <> @ToUserId THEN N'moved to another owner'
                            WHEN c.Name <> i.NewName COLLATE Latin1_General_100_BIN2 OR DATALENGTH(c.Name) <> DATALENGTH(i.NewName) THEN N'renamed'
                            ELSE N'updated'
                       END
                FROM #Items AS i
                LEFT JOIN app.Collection AS c                  -- PK_app_Collection seek per item (locked above; missing = deleted)
                    ON c.CollectionId = i.CollectionId
                WHERE i.CollectionId > @From
                  AND i.CollectionId <= @To
                  AND (c.CollectionId IS NULL
                       OR c.OwnerUserId IS NULL
                       OR c.OwnerUserId <> @ToUserId
                       OR c.AnonymousSessionId IS NOT NULL
                       OR c.Name <> i.NewName COLLATE Latin1_General_100_BIN2
                       OR DATALENGTH(c.Name) <> DATALENGTH(i.NewName)
                       OR c.UpdatedAt <> i.NewUpdatedAt);

                SET @From = @To;
            END;

            SET @Changed = (SELECT COUNT(*) FROM #Changed);
            IF @Changed > 0
            BEGIN
                SELECT TOP (1) @FirstChanged = ch.CollectionId, @FirstProblem = ch.Problem
                FROM #Changed AS ch
                ORDER BY ch.CollectionId;

                SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: collection %d of claim %I64d was %s since the claim (%d of %d collections changed); nothing was changed.',
                    @FirstChanged, @ClaimId, @FirstProblem, @Changed, @Items);
                THROW 51559, @Message, 1;
            END;

            /* 6. Restore, keyset batches. */
            SET @From = 0;
            WHILE 1 = 1
            BEGIN
                SET @To = NULL;
                SELECT @To = MAX(b.CollectionId)
                FROM (SELECT TOP (@BatchSize) i.CollectionId FROM #Items AS i WHERE i.CollectionId > @From ORDER BY i.CollectionId) AS b;

                IF @To IS NULL BREAK;

                UPDATE c
                   SET OwnerUserId = i.FromUserId,
                       Name = i.OldName,
                       UpdatedAt = i.OldUpdatedAt
                FROM #Items AS i
                INNER JOIN app.Collection AS c                 -- PK_app_Collection seek per item
                    ON c.CollectionId = i.CollectionId
                WHERE i.CollectionId > @From
                  AND i.CollectionId <= @To
                  /* Still exactly what the claim left, as checked above (the check's locks should guarantee it;
                     under optimized locking they may not): a row changed in between is not restored, and the
                     post-condition below rolls the undo back instead of overwriting the change. */
                  AND c.OwnerUserId = @ToUserId
                  AND c.AnonymousSessionId IS NULL
                  AND c.Name = i.NewName COLLATE Latin1_General_100_BIN2
                  AND DATALENGTH(c.Name) = DATALENGTH(i.NewName)
                  AND c.UpdatedAt = i.NewUpdatedAt;

                SET @Restored += @@ROWCOUNT;
                SET @From = @To;
            END;

            /* 7. Post-conditions, then the claim is undone. */
            IF @Restored <> @Items
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: %d collection(s) of claim %I64d were checked but %d restored (a collection changed after the check); rolled back, nothing was changed.',
                    @Items, @ClaimId, @Restored);
                THROW 51563, @Message, 1;
            END;

            UPDATE dbmerge.CollectionClaim
               SET UndoneAt = @Now,
                   UndoneBy = @Requester
             WHERE ClaimId = @ClaimId
               AND UndoneAt IS NULL;

            IF @@ROWCOUNT <> 1
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: claim %I64d could not be marked undone; rolled back, nothing was changed.', @ClaimId);
                THROW 51563, @Message, 1;
            END;

            IF @DryRun = 0
            BEGIN
                SET @UndoneAt = @Now;
                SET @UndoneBy = @Requester;
            END;
        END;

        IF @DryRun = 1
            ROLLBACK TRANSACTION;
        ELSE
            COMMIT TRANSACTION;

        /* 8. Result. */
        SELECT @ClaimId AS ClaimId,
               @Kind AS Kind,
               @ToUserId AS UserId,
               @Restored AS RestoredCount,
               @AlreadyUndone AS AlreadyUndone,
               @DryRun AS DryRun,
               @UndoneAt AS UndoneAt,
               @UndoneBy AS UndoneBy;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        IF ERROR_NUMBER() = 1222
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_UndoClaim: a row lock was not granted within the caller''s lock timeout (%d ms; engine error 1222 at line %d) while undoing claim %s; nothing changed, retry.',
                @@LOCK_TIMEOUT, ERROR_LINE(), ISNULL(CONVERT(nvarchar(20), @ClaimId), N'NULL'));
            THROW 51564, @Message, 1;
        END;
        THROW;
    END CATCH;
END;
GO
