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
    Afterwards the children of the old parent and of the new parent carry gap-free ordered steps 1, 2, 3, ...
    (base 36, 7 characters: '0000001', '0000002', ...).

    Path rewrite (set-based, one UPDATE statement, cost linear in the rows whose path changes):
      @Sibling holds the new parent's children except the document ('N', old ordinal k by path) and, when the
      parent changes, the old parent's children except the document ('O'). The document's slot p is 1
      (first-*), m + 1 (last-*, m = number of 'N' siblings), k(target) (left) or k(target) + 1 (right); an 'N'
      sibling gets k + 1 when k >= p, else k; an 'O' sibling gets its rank among the remaining ones.
      The parents' final paths: when the new parent is a proper ancestor of the old parent, the old parent lies
      under exactly one 'N' sibling and its final path follows that sibling's new step (and vice versa with an
      'O' sibling); otherwise both parents keep their paths. (The new parent is never inside the moved subtree:
      that is an error for child positions and a no-op for sibling positions.)
      @Remap(OldPrefix, NewPrefix) gets one entry per sibling whose prefix changes plus the document itself:
      NewPrefix = <final parent path> + Path_Step(new ordinal). Every document under an entry takes the LONGEST
      matching OldPrefix (an 'O' sibling or the document may lie under an 'N' sibling, and vice versa), so
      each row is rewritten exactly once: Path = NewPrefix + the rest of its old path. The rows of an entry are
      found by a range seek on UQ_app_Document_Path: descendants of X are the paths in [X, X + '[') under the
      binary collation ('[' sorts after 'Z'). Uniqueness of Path is checked for the statement as a whole, so
      paths exchanged between siblings never collide mid-statement.

    Scope change: when the document was a root, ends in another tree, or becomes a root, its own direct
    accesses (app.DocumentAccess) and pending invitations (app.DocumentInvitation) are deleted in the same
    transaction (descendants keep theirs); the owners (users and teams) of its OLD root are captured first, and
    a document that becomes a root receives them as 'owner' (a root re-ordered among roots therefore keeps
    only its owners). Cleanup runs before the path rewrite: any later failure rolls everything back.
    Outbox (same transaction, only when the move commits; none for a no-op):
      'collaboration.reset' {"documentId":..,"accessesRemoved":true|false}
      'document.moved'      {"documentId":..,"oldParentId":..|null,"newParentId":..|null,"position":".."}

    Authorization: with @ActorUserId, the actor must exist, be active, and hold an effective role
    (dbmerge.Document_EffectiveRole: highest direct user grant on the document or an ancestor; team grants do
    not count) of administrator or owner (RoleRank >= 4) on the document, and on the target (child positions)
    or the target's parent (sibling positions). When the target is a root, a sibling position makes the
    document a root and only the requirement on the document applies. A NULL @ActorUserId (system move) is
    allowed only for members of DbMergeOperator or db_owner. Roles are evaluated before the move.
    No-op: a sibling position relative to the document itself or one of its descendants changes nothing and
    writes no outbox row (NoOp = 1), after the checks above.

    Concurrency (Transaction-owned applocks, @LockTimeout ms, shared with api.Document_Create):
      - a move that changes the root level (the document is a root, or becomes one) takes N'DbMerge.Roots'
        Exclusive: root paths may be renumbered, so it excludes every other tree operation;
      - any other move takes N'DbMerge.Roots' IntentExclusive, then N'DbMerge.Tree:' + <root path>
        Exclusive for the source and the target tree, in ascending order of root path (one lock when equal).
      Moves in one tree serialize; moves in different trees run in parallel. The document's and the target's
      paths are re-read after locking; if either now lies in another tree (or the root level became involved),
      51213 is raised (nothing changed; retry).
  Transaction: OWNS its transaction; parameters are validated before BEGIN TRANSACTION. Called inside an open
    transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses (51214) before anything else, without touching the
    caller's transaction (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    DocumentId int, OldParentId int NULL, NewParentId int NULL (NULL = root level), ScopeChanged bit,
    AccessesDeleted int, InvitationsDeleted int, OwnersRestored int,
    DocumentsMoved int (documents in the moved subtree), PathsRewritten int (all rows whose path changed,
    including renumbered siblings' subtrees), NoOp bit
  Errors:
    51200  the document does not exist
    51201  the target document does not exist
    51202  the position is not one of first-child, last-child, left, right, first-sibling, last-sibling
    51203  the actor does not exist or is inactive
    51204  the actor is not administrator or owner of a document the move requires (the message names it)
    51205  @ActorUserId is NULL but the caller is not a member of DbMergeOperator (or db_owner)
    51206  a child position targets the document itself or one of its descendants
    51207  the result would be too deep (path > 252 characters, depth > 36) or a step would overflow
    51210  an applock could not be acquired within @LockTimeout ms (safe to retry)
    51212  @DocumentId, @TargetDocumentId or a valid @LockTimeout is missing
    51213  the document or the target moved to another tree while waiting for the lock (safe to retry)
    51214  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
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

    DECLARE @Message            nvarchar(2048);
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
    DECLARE @OldParentPath      varchar(252);
    DECLARE @NewParentPath      varchar(252);
    DECLARE @OldParentFinal     varchar(252);
    DECLARE @NewParentFinal     varchar(252);
    DECLARE @OldParentId        int;
    DECLARE @NewParentId        int;
    DECLARE @OldRootId          int;
    DECLARE @TgtInSubtree       bit;
    DECLARE @IsActive           bit;
    DECLARE @Rank               tinyint;
    DECLARE @CheckId            int;
    DECLARE @SiblingCount       int;
    DECLARE @Slot               int;
    DECLARE @DocStep            varchar(7);
    DECLARE @MaxSubtreeLen      int;
    DECLARE @DocumentsMoved     int = 0;
    DECLARE @PathsRewritten     int = 0;
    DECLARE @ScopeChanged       bit = 0;
    DECLARE @AccessesDeleted    int = 0;
    DECLARE @InvitationsDeleted int = 0;
    DECLARE @OwnersRestored     int = 0;
    DECLARE @Payload            nvarchar(max);
    DECLARE @Sibling TABLE
    (
        Path       varchar(252) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY,
        Kind       char(1)      NOT NULL,   -- 'N' new parent's child, 'O' old parent's child
        OldOrdinal int          NOT NULL,
        NewOrdinal int          NULL
    );
    DECLARE @Remap TABLE
    (
        OldPrefix varchar(252) COLLATE Latin1_General_BIN2 NOT NULL PRIMARY KEY,
        NewPrefix varchar(252) COLLATE Latin1_General_BIN2 NULL
    );
    DECLARE @OldRootOwner TABLE
    (
        UserId int           NULL,
        Team   nvarchar(100) NULL
    );

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
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

        BEGIN TRANSACTION;

        /* 2. Read both paths (unlocked) to know which locks to take. */
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

        SET @RootLevel = CASE WHEN DATALENGTH(@DocPath) = 7 OR (@IsChild = 0 AND DATALENGTH(@TgtPath) = 7) THEN 1 ELSE 0 END;

        /* 3. Applocks: root level Exclusive, or root level IntentExclusive + both trees in ascending root order. */
        IF @RootLevel = 1
            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'Exclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
        ELSE
        BEGIN
            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'IntentExclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;

            SET @Resource1 = N'DbMerge.Tree:' + CONVERT(nvarchar(7), CASE WHEN LEFT(@DocPath, 7) <= LEFT(@TgtPath, 7) THEN LEFT(@DocPath, 7) ELSE LEFT(@TgtPath, 7) END);
            SET @Resource2 = N'DbMerge.Tree:' + CONVERT(nvarchar(7), CASE WHEN LEFT(@DocPath, 7) <= LEFT(@TgtPath, 7) THEN LEFT(@TgtPath, 7) ELSE LEFT(@DocPath, 7) END);

            IF @LockResult >= 0
                EXEC @LockResult = sys.sp_getapplock @Resource = @Resource1, @LockMode = 'Exclusive',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;

            IF @LockResult >= 0 AND @Resource2 <> @Resource1
                EXEC @LockResult = sys.sp_getapplock @Resource = @Resource2, @LockMode = 'Exclusive',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
        END;

        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: could not lock the trees of document %d and target %d within %d ms (result %d); retry.',
                @DocumentId, @TargetDocumentId, @LockTimeout, @LockResult);
            THROW 51210, @Message, 1;
        END;

        /* 4. Re-read under the locks: a move that committed meanwhile may have changed the paths. */
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
        SET @OldParentPath = LEFT(@DocPath, @DocLen - 7);
        SET @NewParentPath = CASE WHEN @IsChild = 1 THEN @TgtPath ELSE LEFT(@TgtPath, DATALENGTH(@TgtPath) - 7) END;
        SET @TgtInSubtree = CASE WHEN LEFT(@TgtPath, @DocLen) = @DocPath THEN 1 ELSE 0 END;

        SELECT @OldParentId = d.DocumentId FROM app.Document AS d WHERE d.Path = @OldParentPath;
        SELECT @NewParentId = d.DocumentId FROM app.Document AS d WHERE d.Path = @NewParentPath;
        SELECT @OldRootId = d.DocumentId FROM app.Document AS d WHERE d.Path = LEFT(@DocPath, 7);

        /* 5. Authorization (roles as they are before the move). */
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

        /* 6. No-op and own-subtree checks. */
        IF @IsChild = 0 AND @TgtInSubtree = 1
        BEGIN
            COMMIT TRANSACTION;

            SELECT @DocumentId AS DocumentId, @OldParentId AS OldParentId, @OldParentId AS NewParentId,
                   CAST(0 AS bit) AS ScopeChanged, 0 AS AccessesDeleted, 0 AS InvitationsDeleted, 0 AS OwnersRestored,
                   0 AS DocumentsMoved, 0 AS PathsRewritten, CAST(1 AS bit) AS NoOp;
            RETURN;
        END;

        IF @IsChild = 1 AND @TgtInSubtree = 1
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: document %d cannot become a child of document %d, which is itself or one of its descendants.', @DocumentId, @TargetDocumentId);
            THROW 51206, @Message, 1;
        END;

        /* 7. Siblings: the new parent's children ('N', without the document) ... */
        INSERT INTO @Sibling (Path, Kind, OldOrdinal)
        SELECT d.Path, 'N', ROW_NUMBER() OVER (ORDER BY d.Path)
        FROM app.Document AS d
        WHERE d.Path > @NewParentPath
          AND d.Path < @NewParentPath + '['
          AND DATALENGTH(d.Path) = DATALENGTH(@NewParentPath) + 7
          AND d.Path <> @DocPath;

        SET @SiblingCount = @@ROWCOUNT;

        SET @Slot = CASE @Position
                        WHEN 'first-child'   THEN 1
                        WHEN 'first-sibling' THEN 1
                        WHEN 'last-child'    THEN @SiblingCount + 1
                        WHEN 'last-sibling'  THEN @SiblingCount + 1
                    END;

        IF @Position IN ('left', 'right')
            SELECT @Slot = s.OldOrdinal + CASE WHEN @Position = 'right' THEN 1 ELSE 0 END
            FROM @Sibling AS s
            WHERE s.Path = @TgtPath;

        UPDATE @Sibling SET NewOrdinal = OldOrdinal + CASE WHEN OldOrdinal >= @Slot THEN 1 ELSE 0 END;

        /* ... and, when the parent changes, the old parent's remaining children ('O'). */
        IF @OldParentPath <> @NewParentPath
            INSERT INTO @Sibling (Path, Kind, OldOrdinal, NewOrdinal)
            SELECT d.Path, 'O', ROW_NUMBER() OVER (ORDER BY d.Path), ROW_NUMBER() OVER (ORDER BY d.Path)
            FROM app.Document AS d
            WHERE d.Path > @OldParentPath
              AND d.Path < @OldParentPath + '['
              AND DATALENGTH(d.Path) = @DocLen
              AND d.Path <> @DocPath;

        /* 8. Final parent paths (at most one of the two statements matches a row; see the header). */
        SET @OldParentFinal = @OldParentPath;
        SET @NewParentFinal = @NewParentPath;

        SELECT @OldParentFinal = @NewParentPath + st.Step + SUBSTRING(@OldParentPath, DATALENGTH(s.Path) + 1, 252)
        FROM @Sibling AS s
        CROSS APPLY dbmerge.Path_Step(s.NewOrdinal) AS st
        WHERE s.Kind = 'N'
          AND DATALENGTH(s.Path) <= DATALENGTH(@OldParentPath)
          AND s.Path = LEFT(@OldParentPath, DATALENGTH(s.Path));

        SELECT @NewParentFinal = @OldParentPath + st.Step + SUBSTRING(@NewParentPath, DATALENGTH(s.Path) + 1, 252)
        FROM @Sibling AS s
        CROSS APPLY dbmerge.Path_Step(s.NewOrdinal) AS st
        WHERE s.Kind = 'O'
          AND DATALENGTH(s.Path) <= DATALENGTH(@NewParentPath)
          AND s.Path = LEFT(@NewParentPath, DATALENGTH(s.Path));

        /* 9. Remap: every sibling whose prefix changes, and the document. */
        INSERT INTO @Remap (OldPrefix, NewPrefix)
        SELECT s.Path, CASE s.Kind WHEN 'N' THEN @NewParentFinal ELSE @OldParentFinal END + st.Step
        FROM @Sibling AS s
        CROSS APPLY dbmerge.Path_Step(s.NewOrdinal) AS st
        WHERE st.Step IS NULL
           OR CASE s.Kind WHEN 'N' THEN @NewParentFinal ELSE @OldParentFinal END + st.Step <> s.Path;

        SELECT @DocStep = st.Step FROM dbmerge.Path_Step(@Slot) AS st;

        INSERT INTO @Remap (OldPrefix, NewPrefix)
        VALUES (@DocPath, @NewParentFinal + @DocStep);

        SELECT @MaxSubtreeLen = MAX(DATALENGTH(d.Path)), @DocumentsMoved = COUNT(*)
        FROM app.Document AS d
        WHERE d.Path >= @DocPath
          AND d.Path < @DocPath + '[';

        IF EXISTS (SELECT 1 FROM @Remap AS r WHERE r.NewPrefix IS NULL)
           OR @MaxSubtreeLen - @DocLen + DATALENGTH(@NewParentFinal) + 7 > 252
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Move: moving document %d (%s) relative to document %d would exceed 252 path characters (depth 36) or the last path step.',
                @DocumentId, CONVERT(nvarchar(20), @Position), @TargetDocumentId);
            THROW 51207, @Message, 1;
        END;

        /* 10. Scope change: capture the old root's owners, then delete the document's own accesses and invitations. */
        SET @ScopeChanged = CASE WHEN @DocLen = 7 OR @NewParentPath = '' OR LEFT(@NewParentPath, 7) <> LEFT(@DocPath, 7) THEN 1 ELSE 0 END;

        IF @ScopeChanged = 1
        BEGIN
            INSERT INTO @OldRootOwner (UserId, Team)
            SELECT da.UserId, da.Team
            FROM app.DocumentAccess AS da
            WHERE da.DocumentId = @OldRootId
              AND da.Role = 'owner';

            DELETE FROM app.DocumentAccess WHERE DocumentId = @DocumentId;
            SET @AccessesDeleted = @@ROWCOUNT;

            DELETE FROM app.DocumentInvitation WHERE DocumentId = @DocumentId;
            SET @InvitationsDeleted = @@ROWCOUNT;
        END;

        /* 11. One statement rewrites every affected path (longest matching prefix wins). */
        WITH Matched AS
        (
            SELECT d.DocumentId,
                   r.OldPrefix,
                   r.NewPrefix,
                   ROW_NUMBER() OVER (PARTITION BY d.DocumentId ORDER BY DATALENGTH(r.OldPrefix) DESC) AS Rn
            FROM @Remap AS r
            JOIN app.Document AS d
              ON d.Path >= r.OldPrefix
             AND d.Path < r.OldPrefix + '['
        )
        UPDATE d
           SET Path      = m.NewPrefix + SUBSTRING(d.Path, DATALENGTH(m.OldPrefix) + 1, 252),
               UpdatedAt = SYSUTCDATETIME()
        FROM app.Document AS d
        JOIN Matched AS m
          ON m.DocumentId = d.DocumentId
         AND m.Rn = 1;

        SET @PathsRewritten = @@ROWCOUNT;

        /* 12. A new root without an owner gets its old root's owners. */
        IF @NewParentPath = ''
           AND NOT EXISTS (SELECT 1 FROM app.DocumentAccess AS da WHERE da.DocumentId = @DocumentId AND da.Role = 'owner')
        BEGIN
            INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role)
            SELECT @DocumentId, o.UserId, o.Team, 'owner'
            FROM @OldRootOwner AS o;

            SET @OwnersRestored = @@ROWCOUNT;
        END;

        /* 13. Outbox, same transaction. */
        SET @Payload = (SELECT @DocumentId AS documentId,
                               CAST(CASE WHEN @AccessesDeleted > 0 THEN 1 ELSE 0 END AS bit) AS accessesRemoved
                        FOR JSON PATH, WITHOUT_ARRAY_WRAPPER);

        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
        VALUES ('collaboration.reset', CONCAT(N'collaboration.reset:', @DocumentId, N':', NEWID()), @Payload);

        SET @Payload = (SELECT @DocumentId AS documentId,
                               @OldParentId AS oldParentId,
                               @NewParentId AS newParentId,
                               @Position AS position
                        FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES);

        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
        VALUES ('document.moved', CONCAT(N'document.moved:', @DocumentId, N':', NEWID()), @Payload);

        COMMIT TRANSACTION;

        /* 14. Result. */
        SELECT @DocumentId AS DocumentId,
               @OldParentId AS OldParentId,
               @NewParentId AS NewParentId,
               @ScopeChanged AS ScopeChanged,
               @AccessesDeleted AS AccessesDeleted,
               @InvitationsDeleted AS InvitationsDeleted,
               @OwnersRestored AS OwnersRestored,
               @DocumentsMoved AS DocumentsMoved,
               @PathsRewritten AS PathsRewritten,
               CAST(0 AS bit) AS NoOp;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
