SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Collection_ClaimCore
  Purpose:
    The one implementation of a collection claim (issue 13, seeds/002), shared by api.Collection_ClaimSession
    and api.Collection_ClaimLegacy: moves to @UserId every collection of ONE source - the anonymous session
    @SessionId, or the legacy account @LegacyUserId, or (both NULL) every legacy account of the user - renaming
    the claimed ones whose name the user already has, and records the claim in dbmerge.CollectionClaim /
    dbmerge.CollectionClaimItem. A claim that finds nothing writes nothing (no empty claim row): @ClaimId NULL,
    @ClaimedCount 0. That is what makes claims idempotent: a repeat finds nothing left to claim.
    Legacy account of a user: another account with the same e-mail (case-insensitively: app.User.Email is
    Latin1_General_100_CI_AS), inactive (IsActive = 0) and never merged (MergedIntoUserId IS NULL).

  Name collisions (decided for issue 13; names are not unique in app.Collection, so this is the rule, not a
  constraint). Names are compared case-insensitively and accent-sensitively (Latin1_General_100_CI_AS, whatever
  the database collation), trailing spaces ignored (SQL = semantics). In ascending CollectionId order:
    1. a claimed collection KEEPS its name when no collection the user owned before the claim has that name and
       no claimed collection with a lower CollectionId has it;
    2. every other claimed collection is renamed 'Name (k)' (Name without trailing spaces), k the smallest
       number >= 2 such that 'Name (k)' is no name the user owned before the claim, no name kept in step 1 and
       no name given earlier in this step. So afterwards the claimed collections' names differ from each other
       and from the user's earlier names; both of two colliding collections are kept. When 'Name (k)' would
       exceed nvarchar(200), Name is cut (dbmerge.Collection_NamePrefix: never mid surrogate pair) to leave room
       for ' (k)' - the name never needs truncation, so there is no error 2628. Example: the user has
       'Reading list'; the session has 'Reading list', 'Poems', 'Poems' -> 'Reading list (2)', 'Poems', 'Poems (2)'.
    Set-based: the free numbers of each name (k >= 2 minus the numbers its '<Name> (<k>)' names already take) are
    ranked once against the colliding collections' ranks; a later round (rare: case-insensitive equality of
    strings of different length, e.g. 'ss' = 'ß', combined with truncation) moves any generated name that still
    collides to its next number, until none does.
    The user's own names are read, not locked: an application rename of one of the user's collections racing
    the claim can still produce two equal names (not an error: names may repeat).

  Locks, in the DbMerge lock order (COORDINATION §2, DESIGN §5):
    L1  the applock N'DbMerge.User:<id>' of every account involved (the user, the legacy accounts), Exclusive,
        transaction-owned, in ascending UserId - the applocks user merges take - so a claim serializes with a
        merge of either account even where the merge does not lock the user rows first (the applock-only merge of
        issue 9's predecessor): without them, a claim holding a user row and a merge holding the collections it
        moved could each wait for the other. Then, for a session claim only, the applock
        N'DbMerge.Session:<SHA-256 of the session id, hex>' (Exclusive, transaction-owned; taken by claims only,
        always after their DbMerge.User applocks): two claims of one session serialize here, before either reads
        the session's rows. The waits follow the caller's LOCK_TIMEOUT (@@LOCK_TIMEOUT, -1 = no limit): not
        granted in time -> 51564, nothing changed.
    L2  the app.User rows of the user and of the legacy accounts involved, exclusively, in ascending UserId, by
        one non-updating UPDATE (SET UpdatedAt = UpdatedAt: an UPDATE reads the current row and takes X under
        READ COMMITTED and READ COMMITTED SNAPSHOT; under optimized locking the row lock may end with the
        statement - see L3 - which is one reason claims and merges also serialize on L1) driven by the @Account table variable
        (clustered PRIMARY KEY, ascending) through nested loops (OPTION (LOOP JOIN, FORCE ORDER)), which takes
        the row locks in that order. The states it OUTPUTs are the re-check under the lock: a user merged away,
        deactivated or deleted since the unlocked read is refused (51552), an explicit legacy account that is no
        longer one is refused (51553 / 51554), and with @LegacyUserId NULL accounts that stopped being legacy are
        skipped. A user merge of either account takes the same applocks (L1) and locks the same rows before
        anything else (L2), so claim and merge serialize and cannot deadlock. The X lock of a non-updating UPDATE
        stops writers (their U/X requests wait), but NOT necessarily a locking READ COMMITTED reader: SQL Server
        skips the shared row lock on a page without uncommitted changes, and a non-updating update leaves the
        page clean (Paul White, "The Case of the Missing Shared Locks"). So an application insert of a
        collection for a locked account (its FK check is such a read) may not wait: inserted during a legacy
        claim it stays in the legacy account (a repeat claim takes it), and for the claiming user its name may
        repeat a claimed one (names may repeat).
    L3  app.Collection: the claimed rows, locked in keyset batches of @BatchSize (1000) lowest CollectionId first
        by a non-updating UPDATE (SET UpdatedAt = UpdatedAt) whose OUTPUT is the plan, and held to the end
        (without optimized locking; see below), so nothing changes them between the plan and the move. Why an UPDATE rather than SELECT WITH (UPDLOCK,
        READCOMMITTEDLOCK): an UPDATE is documented to select its rows from the current data, not from row
        versions, under READ COMMITTED SNAPSHOT (and, with optimized locking, to re-qualify a row after waiting
        for its lock), so what the plan reads is what it locked under every isolation setting; the table hints
        page says READCOMMITTEDLOCK is ignored beside UPDLOCK, which leaves a SELECT's semantics under RCSI to
        inference. Exactly one winner: two claims of one session serialize on the session's applock (L1), so
        the second reads the session's rows only after the first committed - it finds none and claims nothing,
        without an error, under READ COMMITTED, RCSI and optimized locking alike (its reads start after the
        commit). Row locks alone would not give that cleanly: the second's UPDATE, seeking the filtered index,
        holds U on a key of IX_app_Collection_AnonymousSessionId while it waits for the first's X on the row,
        and the first's move must delete that key - a deadlock. Two claims of one legacy account come from one
        user (one active account per e-mail) and serialize on its DbMerge.User applock (L1).
        Under optimized locking (Azure SQL Database: always on) row locks are released after each row and only
        the TID of a MODIFIED row protects it; whether a non-updating UPDATE stamps its TID is not documented.
        So the move does not rely on the plan's locks: it re-checks that each row still has the name and
        UpdatedAt the plan read (and is still the source's), and a row that changed is not moved and fails the
        post-condition (51563, rolled back) - never a lost update of a rename.
        Then the moves, keyset batches of 1000 rows by CollectionId.
        Then DbMerge's own tables: dbmerge.CollectionClaim, then dbmerge.CollectionClaimItem (batches of 1000).
    Before L1 the procedure only reads app.User (the user's e-mail, the legacy accounts' ids) to learn what to lock;
    such a read holds no lock afterwards (READ COMMITTED releases it, RCSI takes none), so it cannot close a cycle.
    Outside DbMerge's order: an application transaction that writes one of the user's collections and then inserts
    another collection for the user can deadlock with a claim under locking READ COMMITTED (the claim reads the
    user's names after locking the user row); one of them is chosen as victim (1205) and the client retries the
    claim (DbMergeClient: up to 3 attempts). Under RCSI the names are a versioned read and this cannot happen.
    Lock waits follow the caller's SET LOCK_TIMEOUT: an applock not granted in time is 51564, a row lock engine
    error 1222, which the api procedures' CATCH re-throws as 51564 (either way the transaction is rolled back,
    nothing changed, retry); and the client's command
    timeout (XACT_ABORT rolls back on attention).
    Escalation: the threshold is 5000 locks taken by ONE statement on one index (or table reference); locks
    an earlier statement of the transaction took do not count towards it (they are escalated with it only if a
    statement triggers it) - "Lock Escalation (Database Engine)". No statement touches more than 1000 collection
    rows (per index at most 2000 key locks: the move deletes an IX_app_Collection_OwnerUserId key and inserts
    one per row; 1000 clustered, 1000 IX_app_Collection_AnonymousSessionId) or more than 1001 user rows (51555
    beyond that). The instance-wide lock-memory threshold can still escalate a statement of a very large
    claim, which holds every claimed row's lock to the end.

  Index of every predicate:
    app.User       UserId = @UserId / the @Account join: PK_app_User (clustered seek).
                   Email = @Email AND IsActive = 0 AND MergedIntoUserId IS NULL AND UserId <> @UserId:
                   IX_app_User_Email (Email) INCLUDE (IsActive) - seek on Email, IsActive from the INCLUDE, a key
                   lookup per matching account for MergedIntoUserId (a handful of accounts share one e-mail; no
                   new index needed).
    app.Collection AnonymousSessionId = @SessionId AND AnonymousSessionId IS NOT NULL AND CollectionId > @From:
                   IX_app_Collection_AnonymousSessionId (filtered WHERE AnonymousSessionId IS NOT NULL), a range
                   seek on (AnonymousSessionId, CollectionId), covering for the boundary read. Does the filtered
                   index serve a parameter? Yes: with ANSI_NULLS ON (this file, and required for filtered
                   indexes) 'col = @p' is never true when col is NULL, so the predicate implies the filter for
                   every value of @p and a cached plan may use the index (unlike a filter such as Status = 'x'
                   against Status = @p). Observed e.g. at https://topanswers.xyz/databases?q=1661 (a
                   WHERE Val IS NOT NULL filtered index seeks for 'Val = @V' but not once 'OR (Val IS NULL AND @V IS
                   NULL)' is added); see also Paul White, "Optimizer Limitations with Filtered Indexes"
                   (sqlperformance.com, 2013). The redundant 'AND AnonymousSessionId IS NOT NULL' states the
                   filter literally so the match does not rely on that inference.
                   OwnerUserId = @Source AND CollectionId > @From / OwnerUserId = @UserId:
                   IX_app_Collection_OwnerUserId (OwnerUserId; CollectionId is part of the key), range seek;
                   key lookups for Name and UpdatedAt.
                   The moves join on CollectionId: PK_app_Collection (clustered seek per row).
    dbmerge        CollectionClaimItem by ClaimId: PK_dbmerge_CollectionClaimItem.
    #temp tables   each has the clustered key its joins use.

  Transaction: REQUIRES the caller's transaction (51562 without one); never begins, commits or rolls back one on
    success. On any error XACT_ABORT dooms the transaction and the CATCH rolls it back before re-throwing, so the
    caller sees @@TRANCOUNT = 0 (the nested pattern of dbmerge.User_MergeCore).
  Result set: none. OUTPUT: @ClaimId bigint (the dbmerge.CollectionClaim row written; NULL when nothing was
    claimed), @ClaimedCount int (collections moved), @RenamedCount int (of those, renamed). The caller reads
    dbmerge.CollectionClaimItem WHERE ClaimId = @ClaimId for the moved collections.
    Progress: severity-10 messages WITH NOWAIT (planned / moved counts).
  Errors:
    51550  @UserId or @RequestedBy missing, or both @SessionId and @LegacyUserId given
    51551  @SessionId blank or with a character outside printable ASCII
    51552  the user does not exist, is inactive or was merged away (re-checked under the lock)
    51553  the legacy account @LegacyUserId does not exist
    51554  @LegacyUserId is not a legacy account of the user: the user itself, another e-mail, active, or merged
    51555  more than 1000 legacy accounts share the user's e-mail: claim them one at a time (@LegacyUserId)
    51564  an applock (an account's DbMerge.User:<id>, the session's DbMerge.Session:<hash>) was not granted within the
           caller's LOCK_TIMEOUT (safe to retry)
    51562  called without an open transaction
    51563  post-condition: a locked, planned collection did not move (it changed since the plan read it), or the
           renaming did not converge; rolled back
    1222   (engine) a row lock wait exceeded the caller's LOCK_TIMEOUT: rolled back, nothing changed (the api
           procedures re-throw it as 51564)
  Example:
    BEGIN TRANSACTION;
    EXEC dbmerge.Collection_ClaimCore @UserId = 42, @SessionId = 'k3j4h5g6', @LegacyUserId = NULL,
         @RequestedBy = N'app', @ClaimId = @ClaimId OUTPUT, @ClaimedCount = @Count OUTPUT, @RenamedCount = @Renamed OUTPUT;
    COMMIT TRANSACTION;
*/
CREATE OR ALTER PROCEDURE dbmerge.Collection_ClaimCore
    @UserId       int,
    @SessionId    varchar(64) = NULL,
    @LegacyUserId int = NULL,
    @RequestedBy  nvarchar(128),
    @ClaimId      bigint = NULL OUTPUT,
    @ClaimedCount int = NULL OUTPUT,
    @RenamedCount int = NULL OUTPUT
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message       nvarchar(2048);
    DECLARE @Now           datetime2(3) = SYSUTCDATETIME();
    DECLARE @BatchSize     int = 1000;
    DECLARE @MaxLegacy     int = 1000;
    DECLARE @Kind          varchar(10) = IIF(@SessionId IS NULL, 'legacy', 'session');
    DECLARE @Email         nvarchar(254);
    DECLARE @UserFound     bit = 0;
    DECLARE @UserIsActive  bit;
    DECLARE @UserMergedInto int;
    DECLARE @LegacyFound   bit = 0;
    DECLARE @LegacyEmail   nvarchar(254);
    DECLARE @LegacyIsActive bit;
    DECLARE @LegacyMergedInto int;
    DECLARE @Source        int;
    DECLARE @From          int;
    DECLARE @To            int;
    DECLARE @Planned       int = 0;
    DECLARE @Moved         int = 0;
    DECLARE @Renamed       int = 0;
    DECLARE @Round         int = 0;
    DECLARE @MaxRounds     int;
    DECLARE @MaxNumber     int;
    DECLARE @Ordinal       int;
    DECLARE @AccountCount  int;
    DECLARE @Resource      nvarchar(255);
    DECLARE @LockResult    int;
    DECLARE @LockTimeout   int = @@LOCK_TIMEOUT;
    DECLARE @Account TABLE (UserId int NOT NULL PRIMARY KEY);
    DECLARE @Ordered TABLE (Ordinal int IDENTITY(1, 1) NOT NULL PRIMARY KEY, UserId int NOT NULL);
    DECLARE @Locked TABLE
    (
        UserId           int           NOT NULL PRIMARY KEY,
        Email            nvarchar(254) COLLATE Latin1_General_100_CI_AS NOT NULL,
        IsActive         bit           NOT NULL,
        MergedIntoUserId int           NULL
    );

    SET @ClaimId = NULL;
    SET @ClaimedCount = 0;
    SET @RenamedCount = 0;

    BEGIN TRY
        /* ==== 1. Check parameters and the caller's transaction ========================================== */
        IF @@TRANCOUNT = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: requires the caller''s transaction (user %s); call api.Collection_ClaimSession or api.Collection_ClaimLegacy.',
                ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51562, @Message, 1;
        END;

        IF @UserId IS NULL OR NULLIF(LTRIM(RTRIM(@RequestedBy)), N'') IS NULL OR (@SessionId IS NOT NULL AND @LegacyUserId IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: @UserId and @RequestedBy are required and at most one of @SessionId and @LegacyUserId may be given (user %s, legacy account %s).',
                ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LegacyUserId), N'NULL'));
            THROW 51550, @Message, 1;
        END;

        IF @SessionId IS NOT NULL AND (DATALENGTH(@SessionId) = 0 OR @SessionId COLLATE Latin1_General_100_BIN2 LIKE '%[^!-~]%')
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: the session id (length %d) is blank or has a character outside printable ASCII (user %d).',
                DATALENGTH(@SessionId), @UserId);
            THROW 51551, @Message, 1;
        END;

        /* ==== 2. L2: the accounts' app.User rows, exclusively, ascending UserId ========================== */
        /* Unlocked reads, only to know which rows to lock; everything is re-checked under the lock. */
        SELECT @Email = u.Email
        FROM app.[User] AS u                                   -- PK_app_User
        WHERE u.UserId = @UserId;

        IF @Email IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: user %d does not exist; only an active user may claim collections.', @UserId);
            THROW 51552, @Message, 1;
        END;

        INSERT INTO @Account (UserId) VALUES (@UserId);

        IF @SessionId IS NULL AND @LegacyUserId IS NOT NULL
        BEGIN
            IF @LegacyUserId = @UserId
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: account %d is not a legacy account of user %d: it is the user itself.', @LegacyUserId, @UserId);
                THROW 51554, @Message, 1;
            END;

            INSERT INTO @Account (UserId) VALUES (@LegacyUserId);
        END
        ELSE IF @SessionId IS NULL
        BEGIN
            INSERT INTO @Account (UserId)
            SELECT TOP (@MaxLegacy + 1) u.UserId
            FROM app.[User] AS u                               -- IX_app_User_Email: seek on Email, IsActive from INCLUDE, lookup for MergedIntoUserId
            WHERE u.Email = @Email
              AND u.IsActive = 0
              AND u.MergedIntoUserId IS NULL
              AND u.UserId <> @UserId
            ORDER BY u.UserId;

            IF (SELECT COUNT(*) FROM @Account) > @MaxLegacy + 1
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: more than %d legacy accounts share the e-mail of user %d; claim them one at a time with @LegacyUserId (api.Collection_ListLegacy lists them).',
                    @MaxLegacy, @UserId);
                THROW 51555, @Message, 1;
            END;
        END;

        /* L1: the accounts' applocks, ascending UserId. A loop over the (at most 1001) accounts, not over data:
           sp_getapplock takes one resource per call. */
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
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: %s was not granted within the lock timeout (%d ms; sp_getapplock returned %d): a user merge or another claim holds it (user %d). Nothing was changed; retry.',
                    @Resource, @LockTimeout, @LockResult, @UserId);
                THROW 51564, @Message, 1;
            END;
        END;

        /* L1, last, session claims only: the session's applock, so that two claims of one session by different
           users serialize BEFORE either reads the session's rows - the second reads them after the first
           committed and finds none. This does not depend on how row locks behave (plan shape, RCSI, optimized
           locking): claims that met only on the session's row locks could deadlock (the waiter's U lock on the
           IX_app_Collection_AnonymousSessionId key against the winner's move deleting that key). Named by the
           SHA-256 of the session id, never the id itself (sys.dm_tran_locks shows resource names; the id is a
           credential). Only claims take it, always after their DbMerge.User applocks: it closes no cycle. */
        IF @SessionId IS NOT NULL
        BEGIN
            SET @Resource = CONCAT(N'DbMerge.Session:', CONVERT(nvarchar(64), HASHBYTES('SHA2_256', @SessionId), 2));
            EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction',
                 @LockTimeout = @LockTimeout;
            IF @LockResult < 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: the session''s applock was not granted within the lock timeout (%d ms; sp_getapplock returned %d): another claim of the same session holds it (user %d). Nothing was changed; retry.',
                    @LockTimeout, @LockResult, @UserId);
                THROW 51564, @Message, 1;
            END;
        END;

        /* L2. The lock: a non-updating UPDATE takes X on each row (reading the current row, also under RCSI), in
           the @Account clustered-key order (nested loops, outer side first). Its OUTPUT is the state under the lock. */
        UPDATE u
           SET UpdatedAt = u.UpdatedAt
        OUTPUT inserted.UserId, inserted.Email, inserted.IsActive, inserted.MergedIntoUserId
        INTO @Locked (UserId, Email, IsActive, MergedIntoUserId)
        FROM @Account AS a
        INNER JOIN app.[User] AS u WITH (ROWLOCK)             -- PK_app_User seek per account
            ON u.UserId = a.UserId
        OPTION (LOOP JOIN, FORCE ORDER);

        SELECT @UserFound = 1, @Email = l.Email, @UserIsActive = l.IsActive, @UserMergedInto = l.MergedIntoUserId
        FROM @Locked AS l
        WHERE l.UserId = @UserId;

        IF @UserFound = 0 OR @UserIsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: user %d does not exist or is inactive (merged into %s); only an active user may claim collections.',
                @UserId, ISNULL(CONVERT(nvarchar(12), @UserMergedInto), N'nobody'));
            THROW 51552, @Message, 1;
        END;

        IF @SessionId IS NULL AND @LegacyUserId IS NOT NULL
        BEGIN
            SELECT @LegacyFound = 1, @LegacyEmail = l.Email, @LegacyIsActive = l.IsActive, @LegacyMergedInto = l.MergedIntoUserId
            FROM @Locked AS l
            WHERE l.UserId = @LegacyUserId;

            IF @LegacyFound = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: legacy account %d does not exist (user %d).', @LegacyUserId, @UserId);
                THROW 51553, @Message, 1;
            END;

            IF @LegacyEmail <> @Email COLLATE Latin1_General_100_CI_AS
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: account %d is not a legacy account of user %d: it has another e-mail.', @LegacyUserId, @UserId);
                THROW 51554, @Message, 1;
            END;

            IF @LegacyIsActive = 1
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: account %d is not a legacy account of user %d: it is active.', @LegacyUserId, @UserId);
                THROW 51554, @Message, 1;
            END;

            IF @LegacyMergedInto IS NOT NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: account %d is not a legacy account of user %d: it was merged into user %d.',
                    @LegacyUserId, @UserId, @LegacyMergedInto);
                THROW 51554, @Message, 1;
            END;
        END;

        /* All legacy accounts: one that stopped being a legacy account since the unlocked read is skipped (its
           row stays locked to the end, harmlessly). */
        DELETE FROM @Locked
        WHERE UserId <> @UserId
          AND NOT (Email = @Email AND IsActive = 0 AND MergedIntoUserId IS NULL);

        /* ==== 3. L3: plan - lock the collections to claim (current rows, X), in keyset batches ========== */
        CREATE TABLE #Plan
        (
            CollectionId  int           NOT NULL PRIMARY KEY CLUSTERED,
            SourceUserId  int           NULL,
            OldName       nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
            OldUpdatedAt  datetime2(3)  NOT NULL,
            GroupId       int           NULL,
            GroupRank     int           NULL,
            Number        int           NULL,
            NewName       nvarchar(200) COLLATE Latin1_General_100_CI_AS NULL,
            SettledRound  int           NULL,
            INDEX IX_Plan_OldName NONCLUSTERED (OldName, CollectionId)
        );

        IF @SessionId IS NOT NULL
        BEGIN
            SET @From = 0;                                     -- CollectionId is IDENTITY(1, 1)
            WHILE 1 = 1
            BEGIN
                SET @To = NULL;
                SELECT @To = MAX(b.CollectionId)
                FROM (SELECT TOP (@BatchSize) c.CollectionId
                      FROM app.Collection AS c                 -- IX_app_Collection_AnonymousSessionId (covering)
                      WHERE c.AnonymousSessionId = @SessionId
                        AND c.AnonymousSessionId IS NOT NULL
                        AND c.CollectionId > @From
                      ORDER BY c.CollectionId) AS b;

                IF @To IS NULL BREAK;

                UPDATE c
                   SET UpdatedAt = c.UpdatedAt                 -- changes nothing: takes X on the current rows
                OUTPUT inserted.CollectionId, inserted.OwnerUserId, inserted.Name, inserted.UpdatedAt
                INTO #Plan (CollectionId, SourceUserId, OldName, OldUpdatedAt)
                FROM app.Collection AS c WITH (ROWLOCK)        -- IX_app_Collection_AnonymousSessionId range seek
                WHERE c.AnonymousSessionId = @SessionId
                  AND c.AnonymousSessionId IS NOT NULL
                  AND c.CollectionId > @From
                  AND c.CollectionId <= @To;

                SET @From = @To;
            END;
        END
        ELSE
        BEGIN
            SET @Source = 0;                                   -- UserId is IDENTITY(1, 1)
            WHILE 1 = 1
            BEGIN
                SET @Source = (SELECT MIN(l.UserId) FROM @Locked AS l WHERE l.UserId > @Source AND l.UserId <> @UserId);
                IF @Source IS NULL BREAK;

                SET @From = 0;
                WHILE 1 = 1
                BEGIN
                    SET @To = NULL;
                    SELECT @To = MAX(b.CollectionId)
                    FROM (SELECT TOP (@BatchSize) c.CollectionId
                          FROM app.Collection AS c             -- IX_app_Collection_OwnerUserId (covering)
                          WHERE c.OwnerUserId = @Source
                            AND c.CollectionId > @From
                          ORDER BY c.CollectionId) AS b;

                    IF @To IS NULL BREAK;

                    UPDATE c
                       SET UpdatedAt = c.UpdatedAt             -- changes nothing: takes X on the current rows
                    OUTPUT inserted.CollectionId, inserted.OwnerUserId, inserted.Name, inserted.UpdatedAt
                    INTO #Plan (CollectionId, SourceUserId, OldName, OldUpdatedAt)
                    FROM app.Collection AS c WITH (ROWLOCK)    -- IX_app_Collection_OwnerUserId range seek
                    WHERE c.OwnerUserId = @Source
                      AND c.CollectionId > @From
                      AND c.CollectionId <= @To;

                    SET @From = @To;
                END;
            END;
        END;

        SET @Planned = (SELECT COUNT(*) FROM #Plan);
        RAISERROR(N'dbmerge.Collection_ClaimCore: %d collection(s) to claim for user %d', 10, 1, @Planned, @UserId) WITH NOWAIT;

        IF @Planned > 0
        BEGIN
            /* ==== 4. Names (temporary tables only) ====================================================== */
            CREATE TABLE #Taken
            (
                Name nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
                INDEX IX_Taken_Name CLUSTERED (Name)
            );
            CREATE TABLE #Group
            (
                GroupId int           NOT NULL IDENTITY(1, 1) PRIMARY KEY CLUSTERED,
                Base    nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
                Members int           NOT NULL,
                Blocked int           NOT NULL
            );
            CREATE TABLE #Variant
            (
                GroupId      int           NOT NULL,
                SuffixLength int           NOT NULL,
                Prefix       nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
                PRIMARY KEY CLUSTERED (GroupId, SuffixLength),
                INDEX IX_Variant_Prefix NONCLUSTERED (Prefix, SuffixLength)
            );
            CREATE TABLE #Blocked
            (
                GroupId int NOT NULL,
                Number  int NOT NULL,
                PRIMARY KEY CLUSTERED (GroupId, Number)
            );
            CREATE TABLE #Number (Number int NOT NULL PRIMARY KEY CLUSTERED);

            /* The names the user owns before the claim: a plain read (no lock held under READ COMMITTED, none
               taken under RCSI), so its size cannot escalate. */
            INSERT INTO #Taken (Name)
            SELECT c.Name
            FROM app.Collection AS c                           -- IX_app_Collection_OwnerUserId + key lookup for Name
            WHERE c.OwnerUserId = @UserId;

            /* Step 1: keepers - no earlier name of the user, lowest CollectionId among equal claimed names. */
            UPDATE p
               SET NewName = p.OldName,
                   SettledRound = 0
            FROM #Plan AS p
            WHERE NOT EXISTS (SELECT 1 FROM #Taken AS t WHERE t.Name = p.OldName)
              AND NOT EXISTS (SELECT 1 FROM #Plan AS q WHERE q.OldName = p.OldName AND q.CollectionId < p.CollectionId);

            INSERT INTO #Taken (Name)
            SELECT p.NewName FROM #Plan AS p WHERE p.SettledRound = 0;

            /* Step 2: the others, grouped by their name without trailing spaces (case-insensitively). */
            INSERT INTO #Group (Base, Members, Blocked)
            SELECT MIN(RTRIM(p.OldName)), COUNT(*), 0
            FROM #Plan AS p
            WHERE p.SettledRound IS NULL
            GROUP BY RTRIM(p.OldName);

            WITH ranked AS
            (
                SELECT p.GroupId AS PlanGroupId, p.GroupRank AS PlanGroupRank, g.GroupId,
                       ROW_NUMBER() OVER (PARTITION BY g.GroupId ORDER BY p.CollectionId) AS GroupRank
                FROM #Plan AS p
                INNER JOIN #Group AS g ON g.Base = RTRIM(p.OldName)
                WHERE p.SettledRound IS NULL
            )
            UPDATE ranked
               SET PlanGroupId = GroupId,
                   PlanGroupRank = CONVERT(int, GroupRank);

            /* Each group's prefix for every suffix length ' (k)' of a 1- to 9-digit k (4 to 12 characters). */
            INSERT INTO #Variant (GroupId, SuffixLength, Prefix)
            SELECT g.GroupId, s.SuffixLength, f.Prefix
            FROM #Group AS g
            CROSS JOIN (VALUES (4), (5), (6), (7), (8), (9), (10), (11), (12)) AS s (SuffixLength)
            CROSS APPLY dbmerge.Collection_NamePrefix(g.Base, 200 - s.SuffixLength) AS f;

            /* Numbers already taken: every taken name '<Prefix> (<k>)' (k >= 2 written canonically: ASCII digits,
               no leading zero) blocks k for the group whose prefix for that suffix length is <Prefix> - equal
               case-insensitively AND of the same length: '=' pads trailing spaces, so without the length a taken
               'Poems  (2)' (two spaces), which 'Poems (2)' does not equal, would block 2 and the claim would skip
               to 'Poems (3)' against the rule (smallest free k). Equal strings of different length ('ss' = 'ß')
               are left to the rounds below, as before. */
            INSERT INTO #Blocked (GroupId, Number)
            SELECT DISTINCT v.GroupId, x.Number
            FROM #Taken AS t
            CROSS APPLY (SELECT RTRIM(t.Name) AS Name) AS n
            CROSS APPLY (SELECT CHARINDEX(N'( ', REVERSE(n.Name) COLLATE Latin1_General_100_BIN2) - 2 AS Digits) AS d
            CROSS APPLY (SELECT CASE WHEN RIGHT(n.Name, 1) = N')' AND d.Digits BETWEEN 1 AND 9
                                     THEN REVERSE(SUBSTRING(REVERSE(n.Name), 2, d.Digits)) END AS DigitText) AS dt
            CROSS APPLY (SELECT TRY_CONVERT(int, dt.DigitText) AS Value) AS tv
            CROSS APPLY (SELECT CASE WHEN CONVERT(nvarchar(11), tv.Value) = dt.DigitText COLLATE Latin1_General_100_BIN2
                                     THEN tv.Value END AS Number,   -- only canonical ASCII digits: no sign, space or leading zero
                                d.Digits + 3 AS SuffixLength,
                                CASE WHEN dt.DigitText IS NOT NULL
                                     THEN LEFT(n.Name, LEN(n.Name) - (d.Digits + 3)) END AS Prefix) AS x
            INNER JOIN #Variant AS v ON v.Prefix = x.Prefix AND v.SuffixLength = x.SuffixLength
                                      AND DATALENGTH(v.Prefix) = DATALENGTH(x.Prefix)
            WHERE x.Number >= 2;

            UPDATE g
               SET Blocked = (SELECT COUNT(*) FROM #Blocked AS b WHERE b.GroupId = g.GroupId)
            FROM #Group AS g;

            /* Candidate numbers 2 .. Members + Blocked + 1: at least Members of them are free in each group. */
            SET @MaxNumber = ISNULL((SELECT MAX(g.Members + g.Blocked) FROM #Group AS g), 0);

            /* TOP with ORDER BY on the ROW_NUMBER column itself: which rows a TOP keeps is defined only by its
               ORDER BY, and ordering by the sequence column needs no sort (the rows come out in that order), so
               the TOP still stops after @MaxNumber rows of the 10^7 cross join. */
            WITH d AS (SELECT v.n FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS v (n)),
            r AS (SELECT ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS RowNumber
                  FROM d AS d1 CROSS JOIN d AS d2 CROSS JOIN d AS d3 CROSS JOIN d AS d4 CROSS JOIN d AS d5 CROSS JOIN d AS d6 CROSS JOIN d AS d7)
            INSERT INTO #Number (Number)
            SELECT TOP (@MaxNumber) CONVERT(int, r.RowNumber + 1)
            FROM r
            ORDER BY r.RowNumber;

            /* The r-th free number of a group goes to the group's r-th collection (CollectionId order). */
            WITH free AS
            (
                SELECT g.GroupId, n.Number,
                       ROW_NUMBER() OVER (PARTITION BY g.GroupId ORDER BY n.Number) AS FreeRank
                FROM #Group AS g
                INNER JOIN #Number AS n ON n.Number <= g.Members + g.Blocked + 1
                WHERE NOT EXISTS (SELECT 1 FROM #Blocked AS b WHERE b.GroupId = g.GroupId AND b.Number = n.Number)
            )
            UPDATE p
               SET Number = f.Number
            FROM #Plan AS p
            INNER JOIN free AS f ON f.GroupId = p.GroupId AND f.FreeRank = p.GroupRank
            WHERE p.SettledRound IS NULL;

            /* Rounds: build each unsettled name, settle those that collide with nothing, move the rest to their
               next number. The first round normally settles every name. */
            SET @MaxRounds = (SELECT COUNT(*) FROM #Taken) + @Planned + 1;
            WHILE EXISTS (SELECT 1 FROM #Plan AS p WHERE p.SettledRound IS NULL)
            BEGIN
                SET @Round += 1;
                IF @Round > @MaxRounds
                BEGIN
                    SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: renaming the claimed collections of user %d did not converge in %d rounds; nothing was changed.', @UserId, @MaxRounds);
                    THROW 51563, @Message, 1;
                END;

                UPDATE p
                   SET NewName = f.Prefix + s.Suffix
                FROM #Plan AS p
                CROSS APPLY (SELECT N' (' + CONVERT(nvarchar(11), p.Number) + N')' AS Suffix) AS s
                CROSS APPLY dbmerge.Collection_NamePrefix(RTRIM(p.OldName), 200 - LEN(s.Suffix)) AS f
                WHERE p.SettledRound IS NULL;

                UPDATE p
                   SET SettledRound = @Round
                FROM #Plan AS p
                WHERE p.SettledRound IS NULL
                  AND p.NewName IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM #Taken AS t WHERE t.Name = p.NewName)
                  AND NOT EXISTS (SELECT 1 FROM #Plan AS q
                                  WHERE q.SettledRound IS NULL AND q.NewName = p.NewName AND q.CollectionId < p.CollectionId);

                INSERT INTO #Taken (Name)
                SELECT p.NewName FROM #Plan AS p WHERE p.SettledRound = @Round;

                UPDATE #Plan
                   SET Number = Number + 1
                WHERE SettledRound IS NULL;
            END;

            SET @Renamed = (SELECT COUNT(*) FROM #Plan AS p WHERE p.SettledRound > 0);

            /* ==== 5. Move, keyset batches of @BatchSize rows ============================================ */
            CREATE TABLE #Moved
            (
                CollectionId int           NOT NULL PRIMARY KEY CLUSTERED,
                FromUserId   int           NULL,
                OldName      nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
                NewName      nvarchar(200) COLLATE Latin1_General_100_CI_AS NOT NULL,
                OldUpdatedAt datetime2(3)  NOT NULL,
                NewUpdatedAt datetime2(3)  NOT NULL
            );

            SET @From = 0;
            WHILE 1 = 1
            BEGIN
                SET @To = NULL;
                SELECT @To = MAX(b.CollectionId)
                FROM (SELECT TOP (@BatchSize) p.CollectionId FROM #Plan AS p WHERE p.CollectionId > @From ORDER BY p.CollectionId) AS b;

                IF @To IS NULL BREAK;

                UPDATE c
                   SET OwnerUserId = @UserId,
                       AnonymousSessionId = NULL,
                       Name = p.NewName,
                       UpdatedAt = @Now
                OUTPUT inserted.CollectionId, deleted.OwnerUserId, deleted.Name, inserted.Name, deleted.UpdatedAt, inserted.UpdatedAt
                INTO #Moved (CollectionId, FromUserId, OldName, NewName, OldUpdatedAt, NewUpdatedAt)
                FROM #Plan AS p
                INNER JOIN app.Collection AS c                 -- PK_app_Collection seek per planned row
                    ON c.CollectionId = p.CollectionId
                WHERE p.CollectionId > @From
                  AND p.CollectionId <= @To
                  AND ((@SessionId IS NOT NULL AND c.AnonymousSessionId = @SessionId)
                       OR (@SessionId IS NULL AND c.OwnerUserId = p.SourceUserId))
                  /* Still exactly what the plan read (the plan's locks should guarantee it; under optimized
                     locking they may not - header, L3): a row renamed or updated since is not moved, and the
                     post-condition below rolls the claim back instead of overwriting the change. */
                  AND c.Name = p.OldName COLLATE Latin1_General_100_BIN2
                  AND DATALENGTH(c.Name) = DATALENGTH(p.OldName)
                  AND c.UpdatedAt = p.OldUpdatedAt;

                SET @From = @To;
            END;

            /* ==== 6. Post-condition: every planned (locked) collection moved, unchanged since the plan ==== */
            SET @Moved = (SELECT COUNT(*) FROM #Moved);
            IF @Moved <> @Planned
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Collection_ClaimCore: %d collection(s) were locked for user %d but %d moved (a collection changed or moved since the plan read it); rolled back, nothing was changed.',
                    @Planned, @UserId, @Moved);
                THROW 51563, @Message, 1;
            END;

            /* ==== 7. Audit: the claim, then its items in batches ======================================== */
            INSERT INTO dbmerge.CollectionClaim (Kind, UserId, SessionIdHash, LegacyUserId, RequestedBy, ClaimedAt, CollectionCount, RenamedCount)
            VALUES (@Kind, @UserId, IIF(@SessionId IS NULL, NULL, CONVERT(binary(32), HASHBYTES('SHA2_256', @SessionId))),
                    @LegacyUserId, @RequestedBy, @Now, @Moved, @Renamed);

            SET @ClaimId = CONVERT(bigint, SCOPE_IDENTITY());

            SET @From = 0;
            WHILE 1 = 1
            BEGIN
                SET @To = NULL;
                SELECT @To = MAX(b.CollectionId)
                FROM (SELECT TOP (@BatchSize) m.CollectionId FROM #Moved AS m WHERE m.CollectionId > @From ORDER BY m.CollectionId) AS b;

                IF @To IS NULL BREAK;

                INSERT INTO dbmerge.CollectionClaimItem (ClaimId, CollectionId, FromUserId, ToUserId, OldName, NewName, OldUpdatedAt, NewUpdatedAt)
                SELECT @ClaimId, m.CollectionId, m.FromUserId, @UserId, m.OldName, m.NewName, m.OldUpdatedAt, m.NewUpdatedAt
                FROM #Moved AS m
                WHERE m.CollectionId > @From
                  AND m.CollectionId <= @To;

                SET @From = @To;
            END;

            SET @ClaimedCount = @Moved;
            SET @RenamedCount = @Renamed;
            RAISERROR(N'dbmerge.Collection_ClaimCore: claimed %d collection(s) for user %d (%d renamed)', 10, 1, @Moved, @UserId, @Renamed) WITH NOWAIT;
        END;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
