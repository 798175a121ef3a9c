SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Document_Move
  Purpose:
    Moves a document (with its whole subtree) relative to a target, with the meanings of django-treebeard's
    MP_Node.move(target, pos):
      first-child / last-child      the document becomes the first / last child of the target;
      left / right                  it is placed immediately before / after the target among the target's siblings;
      first-sibling / last-sibling  it becomes the first / last of the target's siblings.
    A sibling position relative to a ROOT target makes the document a root (the root level is its parent).
    Paths are django-treebeard materialized paths: 7-character base-36 steps (dbmerge.Path_Step), binary collation.

    Write only what must change (like treebeard): the gap the document leaves at its origin stays (order is all a
    path encodes); the destination step is chosen between the two siblings it must sit between, L and R, found
    among the new parent's children WITHOUT the document:
      - no R (last-child, last-sibling, right of the last sibling): step(L) + 1 (1 when there is no child yet);
      - a free step between L and R: step(R) - 1;
      - no free step: the document takes step(R), and the siblings from R up to the first free step (R, R+1, … —
        the "run"; the document's own vacated step counts as free) shift one step right with their subtrees.
    Rows of app.Document written per position (|X| = documents in X's subtree, X included; D the moved document):
      no-op (see below)                                       0
      an appending position, or a free step at the insertion  |D|
      no free step                                            |D| + Σ|run sibling|
        … and D comes from the same parent, right after the run (its vacated step ends the run): the run rotates
          through a parking step after the last child, so the smallest of D and the run siblings (D on a tie) is
          written twice:                                      |D| + Σ|run sibling| + min(|D|, smallest |run sibling|)
        … and D lies inside a run sibling (moved before its own ancestor): D's rows are written by the shift and
          again by the move:                                  Σ|run sibling| + |D|
    Result column PathsRewritten counts the documents whose path changed (|D| + Σ|run sibling|, D counted once);
    RowsWritten counts the row updates (the figures above). The run is never longer than needed: it ends at the
    first free step (treebeard's "only move siblings which need moving").
    What is bounded: every statement touches at most @BatchSize (1000) rows of app.Document, app.DocumentAccess or
    app.DocumentInvitation (keyset batches inside the one transaction; ~3 locks per rewritten document, below the
    5,000-lock escalation threshold per statement and index), so a 100,000-document subtree is rewritten with row
    locks only and never blocks an unrelated tree. The transaction holds those row locks until it commits.
    The unique index UQ_app_Document_Path holds at every statement: a subtree is only ever moved into a range that is
    empty at that moment (the destination step after the shift, or the parking step), and a shift sweeps its run in
    DESCENDING path order, so each batch's new paths (old + one step) are above every row not yet shifted and below
    none that was.

    Lookups and the indexes they seek on (descendants of P are exactly the paths in [P, P + '[') under the binary
    collation, '[' > 'Z', and a child sorts before its own descendants):
      the document, the target, parents, the old root       UQ_app_Document_Path (Path =) / PK_app_Document
      first / last child of P, sibling before / after X     UQ_app_Document_Path: one TOP (1) seek at the edge of a
                                                             range, reading one row (never a subtree); a second seek
                                                             when that row is the document itself
      the run (siblings from R while their steps are R, R+1, …)  UQ_app_Document_Path range from R, streamed and
                                                             stopped at the first break: reads the run siblings'
                                                             subtrees, i.e. only rows the shift rewrites
      subtree size and deepest path of D                    UQ_app_Document_Path range [D, D + '[')
      the path rewrite batches                              UQ_app_Document_Path ranges
      accesses / invitations of one document                IX_app_DocumentAccess_DocumentId (0050) /
                                                             UQ_app_DocumentInvitation_DocumentId_Email
      the effective role                                    dbmerge.Document_EffectiveRole (UQ_app_Document_Path =,
                                                             UQ_app_DocumentAccess_DocumentId_UserId)
      the move sequence                                     PK_dbmerge_DocumentMove
      the users whose rows a scope change writes            dbmerge.Document_MoveUsers (IX_app_DocumentAccess_DocumentId,
                                                             UQ_app_DocumentInvitation_DocumentId_Email, IX_app_User_Email)
    No (Depth, Path) or parent-path index is needed: every sibling lookup above is one seek on UQ_app_Document_Path,
    and another index on app.Document would add two key writes to every rewritten row.
    Every planning read of app.Document except the two PK reads of the document and the target is covered by
    UQ_app_Document_Path (Path + DocumentId), so an application write of other columns (a title) never blocks it:
    such a write locks the clustered row only. A boundary seek reads one row of the neighbouring sibling (at the
    root level, of the neighbouring tree); only a path write of that row (DbMerge's own, under its tree's applock)
    or an insert/delete there can make it wait, at most @LockTimeout.

    Scope change: when the document was a root, ends in another tree, or becomes a root, its own direct accesses
    (app.DocumentAccess) and pending invitations (app.DocumentInvitation) are deleted in the same transaction
    (descendants keep theirs). A document promoted to root receives the owners (users and teams) of its OLD root
    as 'owner'; a root that stays a root (re-ordered among the roots) keeps its owner rows as they are and loses
    the others.
    No-op: nothing is written (no access or invitation deleted, no path, no UpdatedAt, no outbox or history row) and
    NoOp = 1 when the document already is where the position puts it (same parent, and no sibling other than itself
    between L and R: e.g. a root moved left of the root it already precedes, first-sibling when already first), or
    when a sibling position is relative to the document itself or one of its descendants. Checked after the
    authorization below.
    History and outbox (same transaction, only when a move commits): a dbmerge.DocumentMove row numbered
    MoveSequence = 1, 2, … per document, and two dbmerge.Outbox events whose dedupe keys are deterministic, so a
    retried dispatch deduplicates:
      'collaboration.reset'  key collaboration.reset:<documentId>:<moveSequence>
                             {"documentId":..,"moveSequence":..,"accessesRemoved":true|false}
      'document.moved'       key document.moved:<documentId>:<moveSequence>
                             {"documentId":..,"moveSequence":..,"oldParentId":..|null,"newParentId":..|null,
                              "position":"..","targetDocumentId":..,"scopeChanged":true|false}

    Authorization: with @ActorUserId, the actor must exist, be active, and hold an effective role
    (dbmerge.Document_EffectiveRole: highest direct user grant on the document or an ancestor; team grants do
    not count) of administrator or owner (RoleRank >= 4) on the document, and on the target (child positions)
    or the target's parent (sibling positions). When the target is a root, a sibling position makes the
    document a root and only the requirement on the document applies. A NULL @ActorUserId (system move) is
    allowed only for members of DbMergeOperator or db_owner. Roles are evaluated before the move.

    Errors before writes: every check, including the resulting depth and path length (computed as numbers before
    any path is built, for every position, so a target at depth 36 gives 51207, never a truncation error 2628)
    and a step overflow, runs before the first write.
    Lock order (COORDINATION §2), as implemented:
      L1  applocks (transaction-owned, @LockTimeout ms). First, when the move changes scope (judged from the paths
          read before any lock), N'DbMerge.User:<id>' Shared, ascending UserId, for every user whose rows it writes
          (dbmerge.Document_MoveUsers: the users of the accesses it deletes, the accounts its deleted invitations
          are addressed to and their issuers, the owners a promoted root receives) — the applocks a user merge takes
          Exclusive before it writes those users' access and invitation rows. Shared: moves do not wait for each
          other on them.
          Under the tree locks the set is read again; a user not yet locked is locked then without waiting
          (@LockTimeout 0: a request that never waits closes no wait cycle), or the move fails with 51210.
          Then a move that involves the root level (the document is a
          root, or a sibling position relative to a root) takes N'DbMerge.Roots' Exclusive (root paths may shift:
          it excludes every other tree operation); any other move takes N'DbMerge.Roots' IntentExclusive, then
          N'DbMerge.Tree:' + <root path> Exclusive for the source and the target tree, ascending (one when equal).
          Moves in one tree serialize; moves in different trees run in parallel. The document's and the target's
          paths are re-read under the locks; if either now lies in another tree (or the root level became
          involved), 51213 (nothing changed; retry).
      L2  the app.User rows of the owners a promoted root receives, ascending UserId, UPDLOCK (before any write:
          their inserts' foreign-key checks then never wait for a merge holding those rows). The actor's row is
          read (not kept) before any write too. No app.User row is read after the first write.
      L3  app.DocumentAccess (delete, owner insert), then app.DocumentInvitation (delete), then app.Document (path
          rewrite), then dbmerge.DocumentMove and dbmerge.Outbox, the merge's table order. The table order alone
          does not keep a merge and a move apart (the merge locks one user's rows of app.DocumentAccess /
          app.DocumentInvitation across documents, the move one document's rows across users, in other orders):
          the DbMerge.User applocks above do. Residuals, both a possible 1205 (re-thrown; the transaction is
          rolled back, nothing changed): an application write that grants a user access to the document after the
          second read while a merge of that user runs; and app.Document itself: a merge re-points CreatorUserId of
          its source's documents in IX_app_Document_CreatorUserId order while this move rewrites paths in path
          order, and the creators of the rewritten rows are not applocked (that would read every rewritten row's
          clustered record once more). This procedure runs at DEADLOCK_PRIORITY LOW, so in such a deadlock the move
          is the victim (1205, rolled back, nothing changed; DbMergeClient.MoveDocumentAsync runs it again), never
          the merge, which has more work to lose.
      Every lock wait, applocks and row locks, reads before and after the applocks included, is bounded by
      @LockTimeout (SET LOCK_TIMEOUT for the procedure); a row lock not granted in time is 51210 like an applock.
  Transaction: OWNS its transaction; parameters are validated before BEGIN TRANSACTION. Called inside an open
    transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51214) before anything else, without touching the
    caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    DocumentId int, OldParentId int NULL, NewParentId int NULL (NULL = root level), ScopeChanged bit,
    AccessesDeleted int, InvitationsDeleted int, OwnersRestored int,
    DocumentsMoved int (documents in the moved subtree), SiblingsShifted int (run siblings shifted one step),
    PathsRewritten int (documents whose path changed), RowsWritten int (row updates of app.Document),
    MoveSequence int NULL (NULL for a no-op), NoOp bit
  Errors:
    51200  the document does not exist
    51201  the target document does not exist
    51202  the position is not one of first-child, last-child, left, right, first-sibling, last-sibling
    51203  the actor does not exist or is inactive
    51204  the actor is not administrator or owner of a document the move requires (the message names it)
    51205  @ActorUserId is NULL but the caller is not a member of DbMergeOperator (or db_owner)
    51206  a child position targets the document itself or one of its descendants
    51207  the result would be too deep (path > 252 characters, depth > 36) or a step would overflow 'ZZZZZZZ'
    51210  an applock or a row lock was not granted within @LockTimeout ms, or a user whose rows the move writes was
           found held by a user merge under the tree locks (nothing changed; safe to retry)
    51212  @DocumentId, @TargetDocumentId or a valid @LockTimeout is missing
    51213  the document or the target moved to another tree while waiting for the lock (safe to retry)
    51214  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (the caller's transaction is untouched)
    51215  a path rewrite wrote another number of rows than it planned (a path written outside api.Document_Create /
           api.Document_Move meanwhile); rolled back, nothing changed
  Example:
    EXEC api.Document_Move @DocumentId = 1004, @TargetDocumentId = 1002, @Position = 'left', @ActorUserId = 42;
*/
CREATE OR ALTER PROCEDURE api.Document_Move
    @DocumentId       int,
    @TargetDocumentId int,
    @Position         varchar(20),
    @ActorUserId      int = NULL,
    @LockTimeout      int = 5000
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Document_Move: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, document %s, target %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @DocumentId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetDocumentId), N'NULL'));
        THROW 51214, @OpenMessage, 1;
    END;

    /* A deadlock with a user merge on app.Document rows (see L3 above) makes this move the victim: cheaper to retry.
       The setting reverts when the procedure returns. */
    SET DEADLOCK_PRIORITY LOW;

    DECLARE @BatchSize          int = 1000;          -- rows per statement (~3 locks each on app.Document: < 5,000)
    DECLARE @MaxStep            bigint = 78364164095; -- 'ZZZZZZZ', the last step dbmerge.Path_Step can encode
    DECLARE @Message            nvarchar(2048);
    DECLARE @Now                datetime2(3);
    DECLARE @IsChild            bit;
    DECLARE @LockResult         int;
    DECLARE @RootLevel          bit;
    DECLARE @RootLevelNow       bit;
    DECLARE @Resource1          nvarchar(255);
    DECLARE @Resource2          nvarchar(255);
    DECLARE @DocPath            varchar(252);
    DECLARE @TgtPath            varchar(252);
    DECLARE @DocPathNow         varchar(252);
    DECLARE @TgtPathNow         varchar(252);
    DECLARE @DocLen             int;
    DECLARE @DocHi              varchar(253);
    DECLARE @TgtHi              varchar(253);
    DECLARE @OldParentPath      varchar(252);
    DECLARE @NewParentPath      varchar(252);
    DECLARE @ParentLen          int;
    DECLARE @ChildLen           int;
    DECLARE @ParentHi           varchar(253);
    DECLARE @OldParentId        int;
    DECLARE @NewParentId        int;
    DECLARE @OldRootId          int;
    DECLARE @TgtInSubtree       bit;
    DECLARE @IsActive           bit;
    DECLARE @Rank               tinyint;
    DECLARE @CheckId            int;
    DECLARE @LeftPath           varchar(252);
    DECLARE @RightPath          varchar(252);
    DECLARE @LeftNum            bigint;
    DECLARE @RightNum           bigint;
    DECLARE @DocNum             bigint;
    DECLARE @NewNum             bigint;
    DECLARE @NewPath            varchar(252);
    DECLARE @MaxSubtreeLen      int;
    DECLARE @DocumentsMoved     int = 0;
    DECLARE @Shift              bit = 0;
    DECLARE @BreakRn            bigint;
    DECLARE @RunLastNum         bigint;
    DECLARE @RunLastPath        varchar(252);
    DECLARE @RunHi              varchar(253);
    DECLARE @ShiftRows          int = 0;
    DECLARE @SiblingsShifted    int = 0;
    DECLARE @Cycle              bit = 0;
    DECLARE @DocInRun           bit = 0;
    DECLARE @DocCurrent         varchar(252);
    DECLARE @DocMemberNum       bigint;
    DECLARE @LastChildPath      varchar(252);
    DECLARE @ParkNum            bigint;
    DECLARE @ParkPath           varchar(252);
    DECLARE @ParkMember         varchar(252);
    DECLARE @ParkMemberRows     int;
    DECLARE @ParkMemberNum      bigint;
    DECLARE @RowsBelow          int;
    DECLARE @RowsAbove          int;
    DECLARE @Step               varchar(7);
    DECLARE @Step2              varchar(7);
    DECLARE @OpSeq              int;
    DECLARE @OpKind             char(5);
    DECLARE @OpFrom             varchar(253);
    DECLARE @OpFromLen          int;
    DECLARE @OpHi               varchar(253);
    DECLARE @OpNew              varchar(252);
    DECLARE @OpExpected         int;
    DECLARE @OpRows             int;
    DECLARE @Bound              varchar(252);
    DECLARE @Lower              varchar(253);
    DECLARE @Upper              varchar(253);
    DECLARE @Rows               int;
    DECLARE @PathsRewritten     int = 0;
    DECLARE @RowsWritten        int = 0;
    DECLARE @ScopeChanged       bit = 0;
    DECLARE @StaysRoot          bit = 0;
    DECLARE @BecomesRoot        bit = 0;
    DECLARE @AccessesDeleted    int = 0;
    DECLARE @InvitationsDeleted int = 0;
    DECLARE @OwnersRestored     int = 0;
    DECLARE @OwnerCount         int = 0;
    DECLARE @OwnerFrom          int;
    DECLARE @LockedUsers        int;
    DECLARE @PreParentPath      varchar(252);
    DECLARE @PreRootId          int;
    DECLARE @LockCount          int = 0;
    DECLARE @LockOrdinal        int;
    DECLARE @UserResource       nvarchar(255);
    DECLARE @MoveSequence       int;
    DECLARE @Payload            nvarchar(max);
    DECLARE @OldRootOwner TABLE
    (
        Seq    int           IDENTITY(1, 1) NOT NULL PRIMARY KEY,
        UserId int           NULL,
        Team   nvarchar(100) NULL
    );
    DECLARE @OwnerUser TABLE
    (
        UserId int NOT NULL PRIMARY KEY
    );
    DECLARE @LockUser TABLE                     -- the users whose DbMerge.User:<id> applocks the move holds
    (
        Ordinal int IDENTITY(1, 1) NOT NULL PRIMARY KEY,
        UserId  int NOT NULL UNIQUE
    );
    DECLARE @LateUser TABLE                     -- the same users found again after the tree locks, not yet locked
    (
        Ordinal int IDENTITY(1, 1) NOT NULL PRIMARY KEY,
        UserId  int NOT NULL
    );
    DECLARE @Op TABLE
    (
        Seq          int          NOT NULL PRIMARY KEY,
        Kind         char(5)      NOT NULL,   -- 'move ': OldPrefix subtree -> NewPrefix; 'shift': run range, each sibling + 1 step
        FromPath     varchar(253) COLLATE Latin1_General_BIN2 NOT NULL,
        HiPath       varchar(253) COLLATE Latin1_General_BIN2 NOT NULL,
        NewPrefix    varchar(252) COLLATE Latin1_General_BIN2 NULL,
        ExpectedRows int          NOT NULL
    );

    BEGIN TRY
        /* ---- 1. Check parameters (no transaction open). ------------------------------------------------------- */
        IF @DocumentId IS NULL OR @TargetDocumentId IS NULL OR @LockTimeout IS NULL OR @LockTimeout < -1
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: @DocumentId, @TargetDocumentId and @LockTimeout (>= -1) are required (got document %s, target %s, lock timeout %s).',
                ISNULL(CONVERT(nvarchar(12), @DocumentId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetDocumentId), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @LockTimeout), N'NULL'));
            THROW 51212, @Message, 1;
        END;

        IF @Position IS NULL OR @Position NOT IN ('first-child', 'last-child', 'left', 'right', 'first-sibling', 'last-sibling')
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: unknown position ''%s'' for document %d (first-child, last-child, left, right, first-sibling, last-sibling).',
                ISNULL(CONVERT(nvarchar(20), @Position), N'NULL'), @DocumentId);
            THROW 51202, @Message, 1;
        END;

        IF @ActorUserId IS NULL AND ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d without an actor requires membership of DbMergeOperator.', @DocumentId);
            THROW 51205, @Message, 1;
        END;

        SET @IsChild = CASE WHEN @Position IN ('first-child', 'last-child') THEN 1 ELSE 0 END;

        /* Every lock wait from here on (row locks of every read and write) is bounded like the applocks; 1222 is
           reported as 51210 by the CATCH. Restored when the procedure returns. */
        SET LOCK_TIMEOUT @LockTimeout;

        BEGIN TRANSACTION;

        /* ---- 2. Read both paths (PK_app_Document) to know which locks to take. ------------------------------- */
        SELECT @DocPath = d.Path FROM app.Document AS d WHERE d.DocumentId = @DocumentId;
        IF @DocPath IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: document %d does not exist.', @DocumentId);
            THROW 51200, @Message, 1;
        END;

        SELECT @TgtPath = d.Path FROM app.Document AS d WHERE d.DocumentId = @TargetDocumentId;
        IF @TgtPath IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: target document %d does not exist (moving document %d).', @TargetDocumentId, @DocumentId);
            THROW 51201, @Message, 1;
        END;

        /* ---- 2b. L1 user applocks: N'DbMerge.User:<id>' Shared, ascending UserId, before N'DbMerge.Roots' and the
                trees (COORDINATION §2). Only a move that changes scope writes rows belonging to or addressed to users:
                the users of the accesses it deletes, the accounts its deleted invitations address and their issuers,
                the owners a promoted root receives (dbmerge.Document_MoveUsers). A user merge takes its users' applocks Exclusive
                before it writes their access and invitation rows (it locks them per user, this move per document: the
                two would otherwise deadlock inside the table); Shared, so moves do not wait for each other on them.
                The set is read from the paths above, without locks held, and read again under the tree locks (13). */
        SET @PreParentPath = CASE WHEN @IsChild = 1 THEN @TgtPath ELSE LEFT(@TgtPath, DATALENGTH(@TgtPath) - 7) END;

        IF DATALENGTH(@DocPath) = 7 OR DATALENGTH(@PreParentPath) = 0 OR LEFT(@PreParentPath, 7) <> LEFT(@DocPath, 7)
        BEGIN
            SELECT @PreRootId = d.DocumentId FROM app.Document AS d WHERE d.Path = LEFT(@DocPath, 7);  -- UQ_app_Document_Path =

            INSERT INTO @LockUser (UserId)
            SELECT mu.UserId
            FROM dbmerge.Document_MoveUsers(@DocumentId, @PreRootId,
                     CASE WHEN DATALENGTH(@DocPath) = 7 AND DATALENGTH(@PreParentPath) = 0 THEN 1 ELSE 0 END,
                     CASE WHEN DATALENGTH(@DocPath) > 7 AND DATALENGTH(@PreParentPath) = 0 THEN 1 ELSE 0 END) AS mu
            ORDER BY mu.UserId;                      -- the IDENTITY follows the ORDER BY: applocks in ascending UserId

            SET @LockCount = @@ROWCOUNT;
            SET @LockOrdinal = 0;

            /* A loop over users, not over data: sp_getapplock takes one resource per call. */
            WHILE @LockOrdinal < @LockCount
            BEGIN
                SET @LockOrdinal += 1;
                SELECT @UserResource = CONCAT(N'DbMerge.User:', lu.UserId) FROM @LockUser AS lu WHERE lu.Ordinal = @LockOrdinal;

                EXEC @LockResult = sys.sp_getapplock @Resource = @UserResource, @LockMode = 'Shared',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;

                IF @LockResult < 0
                BEGIN
                    SET @Message = FORMATMESSAGE(N'api.Document_Move: could not lock %s (a user whose rows the move of document %d writes) within %d ms (result %d): a user merge holds it; nothing changed, retry.',
                        @UserResource, @DocumentId, @LockTimeout, @LockResult);
                    THROW 51210, @Message, 1;
                END;
            END;
        END;

        SET @RootLevel = CASE WHEN DATALENGTH(@DocPath) = 7 OR (@IsChild = 0 AND DATALENGTH(@TgtPath) = 7) THEN 1 ELSE 0 END;

        /* ---- 3. L1 applocks: root level Exclusive, or root level IntentExclusive + both trees ascending. ------ */
        IF @RootLevel = 1
            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'Exclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
        ELSE
        BEGIN
            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'IntentExclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;

            /* Ascending root path, compared in binary (the order every DbMerge procedure uses for these applocks). */
            SET @Resource1 = N'DbMerge.Tree:' + CONVERT(nvarchar(7), CASE WHEN LEFT(@DocPath, 7) COLLATE Latin1_General_BIN2 <= LEFT(@TgtPath, 7) THEN LEFT(@DocPath, 7) ELSE LEFT(@TgtPath, 7) END);
            SET @Resource2 = N'DbMerge.Tree:' + CONVERT(nvarchar(7), CASE WHEN LEFT(@DocPath, 7) COLLATE Latin1_General_BIN2 <= LEFT(@TgtPath, 7) THEN LEFT(@TgtPath, 7) ELSE LEFT(@DocPath, 7) END);

            IF @LockResult >= 0
                EXEC @LockResult = sys.sp_getapplock @Resource = @Resource1, @LockMode = 'Exclusive',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;

            IF @LockResult >= 0 AND @Resource2 <> @Resource1
                EXEC @LockResult = sys.sp_getapplock @Resource = @Resource2, @LockMode = 'Exclusive',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
        END;

        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: could not lock the trees of document %d and target %d within %d ms (result %d); nothing changed, retry.',
                @DocumentId, @TargetDocumentId, @LockTimeout, @LockResult);
            THROW 51210, @Message, 1;
        END;

        /* ---- 4. Re-read under the locks: a move that committed meanwhile may have changed the paths. --------- */
        SELECT @DocPathNow = d.Path FROM app.Document AS d WHERE d.DocumentId = @DocumentId;
        IF @DocPathNow IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: document %d does not exist.', @DocumentId);
            THROW 51200, @Message, 1;
        END;

        SELECT @TgtPathNow = d.Path FROM app.Document AS d WHERE d.DocumentId = @TargetDocumentId;
        IF @TgtPathNow IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: target document %d does not exist (moving document %d).', @TargetDocumentId, @DocumentId);
            THROW 51201, @Message, 1;
        END;

        SET @RootLevelNow = CASE WHEN DATALENGTH(@DocPathNow) = 7 OR (@IsChild = 0 AND DATALENGTH(@TgtPathNow) = 7) THEN 1 ELSE 0 END;

        IF @RootLevel = 0
           AND (@RootLevelNow = 1 OR LEFT(@DocPathNow, 7) <> LEFT(@DocPath, 7) OR LEFT(@TgtPathNow, 7) <> LEFT(@TgtPath, 7))
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: document %d or target %d moved to another tree while waiting for the lock; nothing changed, retry.', @DocumentId, @TargetDocumentId);
            THROW 51213, @Message, 1;
        END;

        SET @DocPath = @DocPathNow;
        SET @TgtPath = @TgtPathNow;
        SET @DocLen = DATALENGTH(@DocPath);
        SET @DocHi = @DocPath + '[';
        SET @TgtHi = @TgtPath + '[';
        SET @OldParentPath = LEFT(@DocPath, @DocLen - 7);
        SET @NewParentPath = CASE WHEN @IsChild = 1 THEN @TgtPath ELSE LEFT(@TgtPath, DATALENGTH(@TgtPath) - 7) END;
        SET @ParentLen = DATALENGTH(@NewParentPath);
        SET @ChildLen = @ParentLen + 7;
        SET @ParentHi = @NewParentPath + '[';
        SET @TgtInSubtree = CASE WHEN LEFT(@TgtPath, @DocLen) = @DocPath THEN 1 ELSE 0 END;

        /* Parents and the old root: equality seeks on UQ_app_Document_Path ('' matches no row: NULL = root level). */
        SELECT @OldParentId = d.DocumentId FROM app.Document AS d WHERE d.Path = @OldParentPath;
        SELECT @NewParentId = d.DocumentId FROM app.Document AS d WHERE d.Path = @NewParentPath;
        SELECT @OldRootId = d.DocumentId FROM app.Document AS d WHERE d.Path = LEFT(@DocPath, 7);

        /* ---- 5. Authorization (roles as they are before the move; the actor's row is read, not kept). -------- */
        IF @ActorUserId IS NOT NULL
        BEGIN
            SELECT @IsActive = u.IsActive FROM app.[User] AS u WHERE u.UserId = @ActorUserId;

            IF @IsActive IS NULL OR @IsActive = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Move: actor %d does not exist or is inactive (moving document %d).', @ActorUserId, @DocumentId);
                THROW 51203, @Message, 1;
            END;

            SET @Rank = NULL;
            SELECT @Rank = er.RoleRank FROM dbmerge.Document_EffectiveRole(@DocumentId, @ActorUserId) AS er;

            IF ISNULL(@Rank, 0) < 4
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Move: actor %d is not administrator or owner of document %d (the document being moved).', @ActorUserId, @DocumentId);
                THROW 51204, @Message, 1;
            END;

            /* Child positions: the target; sibling positions: the target's parent (none when the target is a root). */
            SET @CheckId = CASE WHEN @IsChild = 1 THEN @TargetDocumentId ELSE @NewParentId END;

            IF @CheckId IS NOT NULL
            BEGIN
                SET @Rank = NULL;
                SELECT @Rank = er.RoleRank FROM dbmerge.Document_EffectiveRole(@CheckId, @ActorUserId) AS er;

                IF ISNULL(@Rank, 0) < 4
                BEGIN
                    SET @Message = FORMATMESSAGE(N'api.Document_Move: actor %d is not administrator or owner of document %d (the new parent of document %d).', @ActorUserId, @CheckId, @DocumentId);
                    THROW 51204, @Message, 1;
                END;
            END;
        END;

        /* ---- 6. Own subtree: a sibling position relative to itself or a descendant is a no-op; a child one an error. */
        IF @IsChild = 1 AND @TgtInSubtree = 1
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: document %d cannot become a child of document %d, which is itself or one of its descendants.', @DocumentId, @TargetDocumentId);
            THROW 51206, @Message, 1;
        END;

        IF @TgtInSubtree = 0
        BEGIN
            /* ---- 7. The two siblings the document must sit between, among the new parent's children without it.
                   Each is one TOP (1) seek at the edge of a range of UQ_app_Document_Path: the first (last) path in a
                   range of P's descendants starts with P's first (last) child in it. When that child is the document
                   itself, one more seek past (before) its subtree. */
            IF @Position IN ('first-child', 'first-sibling')
            BEGIN
                SELECT TOP (1) @RightPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path > @NewParentPath AND d.Path < @ParentHi
                ORDER BY d.Path;
            END;

            IF @Position = 'right'
            BEGIN
                SET @LeftPath = @TgtPath;

                SELECT TOP (1) @RightPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path >= @TgtHi AND d.Path < @ParentHi
                ORDER BY d.Path;
            END;

            IF @RightPath = @DocPath
            BEGIN
                SET @RightPath = NULL;

                SELECT TOP (1) @RightPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path >= @DocHi AND d.Path < @ParentHi
                ORDER BY d.Path;
            END;

            IF @Position IN ('last-child', 'last-sibling')
            BEGIN
                SELECT TOP (1) @LeftPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path > @NewParentPath AND d.Path < @ParentHi
                ORDER BY d.Path DESC;
            END;

            IF @Position = 'left'
            BEGIN
                SET @RightPath = @TgtPath;

                SELECT TOP (1) @LeftPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path > @NewParentPath AND d.Path < @TgtPath
                ORDER BY d.Path DESC;
            END;

            IF @LeftPath = @DocPath
            BEGIN
                SET @LeftPath = NULL;

                SELECT TOP (1) @LeftPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path > @NewParentPath AND d.Path < @DocPath
                ORDER BY d.Path DESC;
            END;

            SET @LeftNum = 0;
            IF @LeftPath IS NOT NULL
                SELECT @LeftNum = sn.Number FROM dbmerge.Path_StepNumber(RIGHT(@LeftPath, 7)) AS sn;

            IF @RightPath IS NOT NULL
                SELECT @RightNum = sn.Number FROM dbmerge.Path_StepNumber(RIGHT(@RightPath, 7)) AS sn;

            SELECT @DocNum = sn.Number FROM dbmerge.Path_StepNumber(RIGHT(@DocPath, 7)) AS sn;
        END;

        /* ---- 8. No-op: relative to itself or a descendant, or already between L and R under the same parent. */
        IF @TgtInSubtree = 1
           OR (@OldParentPath = @NewParentPath AND @DocNum > @LeftNum AND (@RightNum IS NULL OR @DocNum < @RightNum))
        BEGIN
            COMMIT TRANSACTION;

            SELECT @DocumentId AS DocumentId, @OldParentId AS OldParentId, @OldParentId AS NewParentId,
                   CAST(0 AS bit) AS ScopeChanged, 0 AS AccessesDeleted, 0 AS InvitationsDeleted, 0 AS OwnersRestored,
                   0 AS DocumentsMoved, 0 AS SiblingsShifted, 0 AS PathsRewritten, 0 AS RowsWritten,
                   CAST(NULL AS int) AS MoveSequence, CAST(1 AS bit) AS NoOp;
            RETURN;
        END;

        /* ---- 9. Depth and length, as numbers before any path is built (UQ_app_Document_Path range of D). ------ */
        SELECT @MaxSubtreeLen = MAX(DATALENGTH(d.Path)), @DocumentsMoved = COUNT(*)
        FROM app.Document AS d
        WHERE d.Path >= @DocPath AND d.Path < @DocHi;

        IF @MaxSubtreeLen - @DocLen + @ChildLen > 252
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d (%s) relative to document %d would make a path of %d characters (depth %d): the maximum is 252 (depth 36).',
                @DocumentId, CONVERT(nvarchar(20), @Position), @TargetDocumentId, @MaxSubtreeLen - @DocLen + @ChildLen, (@MaxSubtreeLen - @DocLen + @ChildLen) / 7);
            THROW 51207, @Message, 1;
        END;

        /* ---- 10. The destination step. --------------------------------------------------------------------- */
        IF @RightNum IS NULL
            SET @NewNum = @LeftNum + 1;
        ELSE IF @RightNum - @LeftNum > 1
            SET @NewNum = @RightNum - 1;
        ELSE
        BEGIN
            SET @NewNum = @RightNum;
            SET @Shift = 1;
        END;

        IF @NewNum > @MaxStep
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d (%s) relative to document %d: the new parent has no step after ''ZZZZZZZ''.',
                @DocumentId, CONVERT(nvarchar(20), @Position), @TargetDocumentId);
            THROW 51207, @Message, 1;
        END;

        /* ---- 11. No free step: the run R, R+1, … up to the first free step (the document's own step is free).
                    The first sibling that breaks the sequence is found by streaming the range from R in path order
                    (UQ_app_Document_Path) and stopping there: it reads only the run siblings' subtrees, which the
                    shift rewrites anyway. No break: the run ends at the last child (without the document). */
        IF @Shift = 1
        BEGIN
            SELECT TOP (1) @BreakRn = s.Rn
            FROM
            (
                SELECT d.Path, sn.Number, ROW_NUMBER() OVER (ORDER BY d.Path) AS Rn
                FROM app.Document AS d
                CROSS APPLY dbmerge.Path_StepNumber(SUBSTRING(d.Path, @ParentLen + 1, 7)) AS sn
                WHERE d.Path >= @RightPath AND d.Path < @ParentHi
                  AND DATALENGTH(d.Path) = @ChildLen
                  AND d.DocumentId <> @DocumentId
            ) AS s
            WHERE s.Number <> @RightNum + s.Rn - 1
            ORDER BY s.Path;

            IF @BreakRn IS NOT NULL
                SET @RunLastNum = @RightNum + @BreakRn - 2;
            ELSE
            BEGIN
                SELECT TOP (1) @LastChildPath = LEFT(d.Path, @ChildLen)
                FROM app.Document AS d
                WHERE d.Path > @NewParentPath AND d.Path < @ParentHi
                ORDER BY d.Path DESC;

                IF @LastChildPath = @DocPath
                BEGIN
                    SET @LastChildPath = NULL;

                    SELECT TOP (1) @LastChildPath = LEFT(d.Path, @ChildLen)
                    FROM app.Document AS d
                    WHERE d.Path > @NewParentPath AND d.Path < @DocPath
                    ORDER BY d.Path DESC;
                END;

                SELECT @RunLastNum = sn.Number FROM dbmerge.Path_StepNumber(RIGHT(@LastChildPath, 7)) AS sn;
            END;

            IF @RunLastNum + 1 > @MaxStep
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d (%s) relative to document %d: the siblings that must shift reach step ''ZZZZZZZ''.',
                    @DocumentId, CONVERT(nvarchar(20), @Position), @TargetDocumentId);
                THROW 51207, @Message, 1;
            END;

            SELECT @Step = st.Step FROM dbmerge.Path_Step(@RunLastNum) AS st;
            SET @RunLastPath = @NewParentPath + @Step;
            SET @RunHi = @RunLastPath + '[';
            SET @SiblingsShifted = CONVERT(int, @RunLastNum - @RightNum + 1);

            SELECT @ShiftRows = COUNT(*)
            FROM app.Document AS d
            WHERE d.Path >= @RightPath AND d.Path < @RunHi;

            /* The document's vacated step ends the run: the run must rotate into it. */
            SET @Cycle = CASE WHEN @OldParentPath = @NewParentPath AND @DocNum = @RunLastNum + 1 THEN 1 ELSE 0 END;

            /* The document inside a run sibling (moved before its own ancestor): the shift carries it along. */
            /* Two variables compare in the database's default collation, where '[' may sort before the digits: binary here. */
            SET @DocInRun = CASE WHEN @DocLen > @ChildLen
                                  AND @DocPath COLLATE Latin1_General_BIN2 >= @RightPath
                                  AND @DocPath COLLATE Latin1_General_BIN2 < @RunHi THEN 1 ELSE 0 END;
        END;

        SET @Step = NULL;
        SELECT @Step = st.Step FROM dbmerge.Path_Step(@NewNum) AS st;
        SET @NewPath = @NewParentPath + @Step;

        /* ---- 12. Plan the path rewrite: ordered operations, each a range that is empty when it is written. ---- */
        IF @Shift = 0
        BEGIN
            INSERT INTO @Op (Seq, Kind, FromPath, HiPath, NewPrefix, ExpectedRows)
            VALUES (1, 'move', @DocPath, @DocHi, @NewPath, @DocumentsMoved);

            SET @PathsRewritten = @DocumentsMoved;
        END
        ELSE IF @Cycle = 0
        BEGIN
            SET @DocCurrent = @DocPath;

            IF @DocInRun = 1
            BEGIN
                SELECT @DocMemberNum = sn.Number FROM dbmerge.Path_StepNumber(SUBSTRING(@DocPath, @ParentLen + 1, 7)) AS sn;
                SELECT @Step2 = st.Step FROM dbmerge.Path_Step(@DocMemberNum + 1) AS st;
                SET @DocCurrent = @NewParentPath + @Step2 + SUBSTRING(@DocPath, @ChildLen + 1, 252);
            END;

            INSERT INTO @Op (Seq, Kind, FromPath, HiPath, NewPrefix, ExpectedRows)
            VALUES (1, 'shift', @RightPath, @RunHi, NULL, @ShiftRows),
                   (2, 'move', @DocCurrent, @DocCurrent + '[', @NewPath, @DocumentsMoved);

            SET @PathsRewritten = @ShiftRows + CASE WHEN @DocInRun = 1 THEN 0 ELSE @DocumentsMoved END;
        END
        ELSE
        BEGIN
            /* Rotation through a parking step after the last child (the document is a child of P, so the last
               child of P, the document included, is found by one seek). The smallest member is parked. */
            SELECT TOP (1) @LastChildPath = LEFT(d.Path, @ChildLen)
            FROM app.Document AS d
            WHERE d.Path > @NewParentPath AND d.Path < @ParentHi
            ORDER BY d.Path DESC;

            SELECT @ParkNum = sn.Number + 1 FROM dbmerge.Path_StepNumber(RIGHT(@LastChildPath, 7)) AS sn;

            IF @ParkNum > @MaxStep
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d (%s) relative to document %d: no free step after the last sibling to rotate the siblings through.',
                    @DocumentId, CONVERT(nvarchar(20), @Position), @TargetDocumentId);
                THROW 51207, @Message, 1;
            END;

            SELECT @Step2 = st.Step FROM dbmerge.Path_Step(@ParkNum) AS st;
            SET @ParkPath = @NewParentPath + @Step2;

            SELECT TOP (1) @ParkMember = m.Member, @ParkMemberRows = m.Documents
            FROM
            (
                SELECT LEFT(d.Path, @ChildLen) AS Member, COUNT(*) AS Documents
                FROM app.Document AS d
                WHERE d.Path >= @RightPath AND d.Path < @RunHi
                GROUP BY LEFT(d.Path, @ChildLen)
            ) AS m
            ORDER BY m.Documents, m.Member;

            IF @ParkMemberRows < @DocumentsMoved
            BEGIN
                /* Park member M; shift the members before it; place the document; shift the members after it
                   (the last one into the document's vacated step); put M back one step right of where it was. */
                SELECT @ParkMemberNum = sn.Number FROM dbmerge.Path_StepNumber(RIGHT(@ParkMember, 7)) AS sn;
                SELECT @Step2 = st.Step FROM dbmerge.Path_Step(@ParkMemberNum + 1) AS st;

                SELECT @RowsBelow = COUNT(*) FROM app.Document AS d WHERE d.Path >= @RightPath AND d.Path < @ParkMember;
                SET @RowsAbove = @ShiftRows - @RowsBelow - @ParkMemberRows;

                INSERT INTO @Op (Seq, Kind, FromPath, HiPath, NewPrefix, ExpectedRows)
                VALUES (1, 'move', @ParkMember, @ParkMember + '[', @ParkPath, @ParkMemberRows),
                       (2, 'shift', @RightPath, @ParkMember, NULL, @RowsBelow),
                       (3, 'move', @DocPath, @DocHi, @NewPath, @DocumentsMoved),
                       (4, 'shift', @ParkMember + '[', @RunHi, NULL, @RowsAbove),
                       (5, 'move', @ParkPath, @ParkPath + '[', @NewParentPath + @Step2, @ParkMemberRows);
            END
            ELSE
            BEGIN
                /* Park the document; shift the whole run (its last sibling into the vacated step); place it. */
                INSERT INTO @Op (Seq, Kind, FromPath, HiPath, NewPrefix, ExpectedRows)
                VALUES (1, 'move', @DocPath, @DocHi, @ParkPath, @DocumentsMoved),
                       (2, 'shift', @RightPath, @RunHi, NULL, @ShiftRows),
                       (3, 'move', @ParkPath, @ParkPath + '[', @NewPath, @DocumentsMoved);
            END;

            SET @PathsRewritten = @ShiftRows + @DocumentsMoved;
        END;

        /* ---- 13. Scope change, its users' applocks, the owners a promoted root receives (before the first write). */
        SET @ScopeChanged = CASE WHEN @DocLen = 7 OR @ParentLen = 0 OR LEFT(@NewParentPath, 7) <> LEFT(@DocPath, 7) THEN 1 ELSE 0 END;
        SET @StaysRoot = CASE WHEN @DocLen = 7 AND @ParentLen = 0 THEN 1 ELSE 0 END;
        SET @BecomesRoot = CASE WHEN @DocLen > 7 AND @ParentLen = 0 THEN 1 ELSE 0 END;

        /* L1 again, under the tree locks: a user whose rows the scope change writes and whose applock step 2b did
           not take (an access granted or re-pointed by a merge that committed meanwhile, or a scope that changed
           with the paths) gets it now, out of the L1 order but WITHOUT waiting (@LockTimeout = 0): a request that
           never waits closes no wait cycle. Not granted: a user merge holds that user; 51210, nothing changed, retry. */
        IF @ScopeChanged = 1
        BEGIN
            INSERT INTO @LateUser (UserId)
            SELECT mu.UserId
            FROM dbmerge.Document_MoveUsers(@DocumentId, @OldRootId, @StaysRoot, @BecomesRoot) AS mu
            WHERE NOT EXISTS (SELECT 1 FROM @LockUser AS lu WHERE lu.UserId = mu.UserId)
            ORDER BY mu.UserId;

            SET @LockCount = @@ROWCOUNT;
            SET @LockOrdinal = 0;

            WHILE @LockOrdinal < @LockCount
            BEGIN
                SET @LockOrdinal += 1;
                SELECT @UserResource = CONCAT(N'DbMerge.User:', lu.UserId) FROM @LateUser AS lu WHERE lu.Ordinal = @LockOrdinal;

                EXEC @LockResult = sys.sp_getapplock @Resource = @UserResource, @LockMode = 'Shared',
                     @LockOwner = 'Transaction', @LockTimeout = 0;

                IF @LockResult < 0
                BEGIN
                    SET @Message = FORMATMESSAGE(N'api.Document_Move: %s (a user whose rows the move of document %d writes, found after the tree locks) is held by a user merge (result %d); nothing changed, retry.',
                        @UserResource, @DocumentId, @LockResult);
                    THROW 51210, @Message, 1;
                END;
            END;
        END;

        IF @BecomesRoot = 1
        BEGIN
            INSERT INTO @OldRootOwner (UserId, Team)
            SELECT da.UserId, da.Team
            FROM app.DocumentAccess AS da            -- IX_app_DocumentAccess_DocumentId (covering)
            WHERE da.DocumentId = @OldRootId
              AND da.Role = 'owner'
            ORDER BY da.UserId, da.Team;

            SET @OwnerCount = @@ROWCOUNT;

            INSERT INTO @OwnerUser (UserId)
            SELECT o.UserId FROM @OldRootOwner AS o WHERE o.UserId IS NOT NULL;

            /* L2: the owners' user rows, ascending UserId (nested loops driven by @OwnerUser's key order). */
            IF @@ROWCOUNT > 0
                SELECT @LockedUsers = COUNT(*)
                FROM @OwnerUser AS ou
                JOIN app.[User] AS u WITH (UPDLOCK, ROWLOCK)
                  ON u.UserId = ou.UserId
                OPTION (FORCE ORDER, LOOP JOIN);
        END;

        SET @Now = SYSUTCDATETIME();

        /* ---- 14. L3 writes: DocumentAccess, DocumentInvitation (the document's own rows), then Document. ------ */
        IF @ScopeChanged = 1
        BEGIN
            WHILE 1 = 1
            BEGIN
                DELETE TOP (@BatchSize)
                FROM app.DocumentAccess                   -- IX_app_DocumentAccess_DocumentId
                WHERE DocumentId = @DocumentId
                  AND (@StaysRoot = 0 OR Role <> 'owner');

                SET @Rows = @@ROWCOUNT;
                SET @AccessesDeleted += @Rows;
                IF @Rows < @BatchSize BREAK;
            END;

            SET @OwnerFrom = 0;
            WHILE @OwnerFrom < @OwnerCount
            BEGIN
                INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role)
                SELECT @DocumentId, o.UserId, o.Team, 'owner'
                FROM @OldRootOwner AS o
                WHERE o.Seq > @OwnerFrom
                  AND o.Seq <= @OwnerFrom + @BatchSize;

                SET @OwnersRestored += @@ROWCOUNT;
                SET @OwnerFrom += @BatchSize;
            END;

            WHILE 1 = 1
            BEGIN
                DELETE TOP (@BatchSize)
                FROM app.DocumentInvitation               -- UQ_app_DocumentInvitation_DocumentId_Email
                WHERE DocumentId = @DocumentId;

                SET @Rows = @@ROWCOUNT;
                SET @InvitationsDeleted += @Rows;
                IF @Rows < @BatchSize BREAK;
            END;
        END;

        /* The path rewrite, operation by operation, in batches of @BatchSize rows on UQ_app_Document_Path ranges.
           'move ': rows in [From, Hi) get NewPrefix + the rest of their path; they leave the range (the new range is
                    disjoint and empty), so each batch takes the next @BatchSize rows from the start of the range.
           'shift': rows in [From, Hi) get their step at the new parent's level + 1, in DESCENDING path order: each
                    batch is bounded above by the lowest path of the previous one and its new paths lie above every
                    row not yet shifted, so no two rows ever share a path. */
        SET @OpSeq = 0;
        WHILE 1 = 1
        BEGIN
            SET @OpKind = NULL;

            SELECT TOP (1) @OpSeq = o.Seq, @OpKind = o.Kind, @OpFrom = o.FromPath, @OpHi = o.HiPath,
                           @OpNew = o.NewPrefix, @OpExpected = o.ExpectedRows
            FROM @Op AS o
            WHERE o.Seq > @OpSeq
            ORDER BY o.Seq;

            IF @OpKind IS NULL BREAK;

            SET @OpRows = 0;
            SET @OpFromLen = DATALENGTH(@OpFrom);

            IF @OpKind = 'move'
            BEGIN
                /* Each batch starts just past the previous one (@Bound + '0' is the smallest path above @Bound: '0' is
                   the lowest step character, and a shorter string compares as if padded with spaces, which sort below
                   it). Starting again at @OpFrom would re-read, batch after batch, the keys already moved away: they
                   stay in UQ_app_Document_Path as ghost records until this transaction commits, so a 100,000-document
                   subtree would step over ~5 million of them (twice per batch), a cost quadratic in the subtree. */
                SET @Lower = @OpFrom;

                WHILE 1 = 1
                BEGIN
                    SET @Bound = NULL;

                    SELECT @Bound = MAX(b.Path)
                    FROM
                    (
                        SELECT TOP (@BatchSize) d.Path
                        FROM app.Document AS d
                        WHERE d.Path >= @Lower AND d.Path < @OpHi
                        ORDER BY d.Path
                    ) AS b;

                    IF @Bound IS NULL BREAK;

                    UPDATE d
                       SET Path      = @OpNew + SUBSTRING(d.Path, @OpFromLen + 1, 252),
                           UpdatedAt = @Now
                    FROM app.Document AS d WITH (FORCESEEK)   -- UQ_app_Document_Path range: never a scan on a guessed estimate
                    WHERE d.Path >= @Lower AND d.Path <= @Bound;

                    SET @OpRows += @@ROWCOUNT;
                    IF @OpRows > @OpExpected BREAK;   -- never loops on: the check below reports it
                    SET @Lower = @Bound + '0';
                END;
            END
            ELSE
            BEGIN
                SET @Upper = @OpHi;

                WHILE 1 = 1
                BEGIN
                    SET @Bound = NULL;

                    SELECT @Bound = MIN(b.Path)
                    FROM
                    (
                        SELECT TOP (@BatchSize) d.Path
                        FROM app.Document AS d
                        WHERE d.Path >= @OpFrom AND d.Path < @Upper
                        ORDER BY d.Path DESC
                    ) AS b;

                    IF @Bound IS NULL BREAK;

                    UPDATE d
                       SET Path      = @NewParentPath + st.Step + SUBSTRING(d.Path, @ChildLen + 1, 252),
                           UpdatedAt = @Now
                    FROM app.Document AS d WITH (FORCESEEK)   -- UQ_app_Document_Path range, never a scan
                    CROSS APPLY dbmerge.Path_StepNumber(SUBSTRING(d.Path, @ParentLen + 1, 7)) AS sn
                    CROSS APPLY dbmerge.Path_Step(sn.Number + 1) AS st
                    WHERE d.Path >= @Bound AND d.Path < @Upper;

                    SET @OpRows += @@ROWCOUNT;
                    SET @Upper = @Bound;
                END;
            END;

            IF @OpRows <> @OpExpected
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d: step %d (%s of paths from %s) wrote %d rows, %d planned; a path was written outside api.Document_Create / api.Document_Move meanwhile. Rolled back, nothing changed.',
                    @DocumentId, @OpSeq, CONVERT(nvarchar(5), RTRIM(@OpKind)), CONVERT(nvarchar(253), @OpFrom), @OpRows, @OpExpected);
                THROW 51215, @Message, 1;
            END;

            SET @RowsWritten += @OpRows;
            RAISERROR(N'api.Document_Move: step %d (%s) rewrote %d paths.', 10, 1, @OpSeq, @OpKind, @OpRows) WITH NOWAIT;
        END;

        /* ---- 15. History and outbox (DbMerge's own tables, last in the lock order). -------------------------- */
        /* PK_dbmerge_DocumentMove (DocumentId, …) seek. No lock hint: moves of one document serialize on its tree's
           applock already, and a key-range lock here would make moves of unrelated documents wait for each other. */
        SELECT @MoveSequence = ISNULL(MAX(m.MoveSequence), 0) + 1
        FROM dbmerge.DocumentMove AS m
        WHERE m.DocumentId = @DocumentId;

        INSERT INTO dbmerge.DocumentMove
            (DocumentId, MoveSequence, MovedAt, ActorUserId, Position, TargetDocumentId, OldPath, NewPath, OldParentId, NewParentId,
             ScopeChanged, AccessesDeleted, InvitationsDeleted, OwnersRestored, DocumentsMoved, SiblingsShifted, PathsRewritten, RowsWritten)
        VALUES
            (@DocumentId, @MoveSequence, @Now, @ActorUserId, @Position, @TargetDocumentId, @DocPath, @NewPath, @OldParentId, @NewParentId,
             @ScopeChanged, @AccessesDeleted, @InvitationsDeleted, @OwnersRestored, @DocumentsMoved, @SiblingsShifted, @PathsRewritten, @RowsWritten);

        SET @Payload = (SELECT @DocumentId AS documentId,
                               @MoveSequence AS moveSequence,
                               CAST(CASE WHEN @AccessesDeleted > 0 THEN 1 ELSE 0 END AS bit) AS accessesRemoved
                        FOR JSON PATH, WITHOUT_ARRAY_WRAPPER);

        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
        VALUES ('collaboration.reset', CONCAT(N'collaboration.reset:', @DocumentId, N':', @MoveSequence), @Payload);

        SET @Payload = (SELECT @DocumentId AS documentId,
                               @MoveSequence AS moveSequence,
                               @OldParentId AS oldParentId,
                               @NewParentId AS newParentId,
                               @Position AS position,
                               @TargetDocumentId AS targetDocumentId,
                               @ScopeChanged AS scopeChanged
                        FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES);

        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
        VALUES ('document.moved', CONCAT(N'document.moved:', @DocumentId, N':', @MoveSequence), @Payload);

        COMMIT TRANSACTION;

        /* ---- 16. Result. ------------------------------------------------------------------------------------ */
        SELECT @DocumentId AS DocumentId,
               @OldParentId AS OldParentId,
               @NewParentId AS NewParentId,
               @ScopeChanged AS ScopeChanged,
               @AccessesDeleted AS AccessesDeleted,
               @InvitationsDeleted AS InvitationsDeleted,
               @OwnersRestored AS OwnersRestored,
               @DocumentsMoved AS DocumentsMoved,
               @SiblingsShifted AS SiblingsShifted,
               @PathsRewritten AS PathsRewritten,
               @RowsWritten AS RowsWritten,
               @MoveSequence AS MoveSequence,
               CAST(0 AS bit) AS NoOp;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        IF ERROR_NUMBER() = 1222
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: a row lock was not granted within %d ms (engine error 1222 at line %d) while moving document %s; nothing changed, retry.',
                @LockTimeout, ERROR_LINE(), ISNULL(CONVERT(nvarchar(12), @DocumentId), N'NULL'));
            THROW 51210, @Message, 1;
        END;
        THROW;
    END CATCH;
END;
GO
