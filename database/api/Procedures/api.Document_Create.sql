SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Document_Create
  Purpose:
    Creates a document as the LAST child of @ParentDocumentId, or as the last root when @ParentDocumentId is
    NULL, with a django-treebeard materialized path: the parent's path + one 7-character base-36 step
    (alphabet 0-9A-Z) = the highest existing sibling step + 1 (dbmerge.Path_Step). Gaps between siblings (left
    behind by moves, like treebeard) stay: a new document never fills one. A new root gets its creator as
    'owner' (app.DocumentAccess); a child inherits access through its ancestors.
    The highest sibling step is one seek: the last path of the parent's range on UQ_app_Document_Path starts with
    the last child's path (descendants of P are exactly the paths in [P, P + '[') under the binary collation,
    '[' > 'Z'; for a root, the last path of the whole index starts with the last root).
    Writes: one app.Document row (and one app.DocumentAccess row for a new root).
    Lock order (COORDINATION §2), as implemented:
      L1  Transaction-owned applocks shared with api.Document_Move (@LockTimeout ms): a new root takes
          N'DbMerge.Roots' Exclusive (the root level changes; serializes with root creates and with every tree
          operation, which hold N'DbMerge.Roots' IntentExclusive); a child takes N'DbMerge.Roots' IntentExclusive,
          then N'DbMerge.Tree:' + <tree root path> Exclusive, so creates and moves in the same tree serialize and
          different trees run in parallel. The parent's path is re-read after locking; if a concurrent move put it
          in another tree meanwhile, 51213 (retry).
      L2  the creator's app.User row, UPDLOCK, read (exists, active) before any write: the new rows reference the
          creator, so a merge of the creator (which holds that row) and this create serialize there instead of
          deadlocking on the foreign-key check of the insert.
      L3  app.Document, then (a new root) its owner row in app.DocumentAccess: the access references the new
          document, so it cannot come first. Harmless against the merge's DocumentAccess-before-Document order:
          both rows reference only the creator, whose row this procedure already holds (L2), so no merge touching
          them can be running.
      Every lock wait, applocks and row locks, is bounded by @LockTimeout (SET LOCK_TIMEOUT for the procedure); a
      row lock not granted in time is 51210 like an applock.
  Transaction: OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it
    refuses (51214) before anything else, without touching the caller's transaction (XACT_ABORT is switched off
    for that refusal only).
  Result set (one row):
    DocumentId int, Path varchar(252), Depth smallint, ParentDocumentId int (NULL for a root)
  Errors:
    51207  the new path would be too deep (depth > 36, path > 252 characters) or the parent has no free step
           (last step 'ZZZZZZZ')
    51208  the parent document does not exist
    51209  the creator is missing, does not exist or is inactive
    51210  an applock or a row lock was not granted within @LockTimeout ms (nothing changed; safe to retry)
    51211  the title is missing, blank or longer than 255 characters
    51212  @LockTimeout is missing or below -1
    51213  the parent moved to another tree while waiting for the lock (safe to retry)
    51214  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    DECLARE @Id int;
    EXEC api.Document_Create @ParentDocumentId = 1001, @Title = N'Minutes', @CreatorUserId = 42, @DocumentId = @Id OUTPUT;
*/
CREATE OR ALTER PROCEDURE api.Document_Create
    @ParentDocumentId int = NULL,
    @Title            nvarchar(4000),
    @CreatorUserId    int,
    @LockTimeout      int = 5000,
    @DocumentId       int = NULL OUTPUT
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Document_Create: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, parent %s, creator %s); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @ParentDocumentId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @CreatorUserId), N'NULL'));
        THROW 51214, @OpenMessage, 1;
    END;

    DECLARE @Message      nvarchar(2048);
    DECLARE @LockResult   int;
    DECLARE @ParentPath   varchar(252);
    DECLARE @ParentPath2  varchar(252);
    DECLARE @LastChild    varchar(252);
    DECLARE @LastNumber   bigint;
    DECLARE @Step         varchar(7);
    DECLARE @Path         varchar(252);
    DECLARE @TreeResource nvarchar(255);
    DECLARE @IsActive     bit;
    DECLARE @Inserted TABLE (DocumentId int NOT NULL, Path varchar(252) NOT NULL, Depth smallint NOT NULL);

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        SET @DocumentId = NULL;

        IF @Title IS NULL OR LTRIM(RTRIM(@Title)) = N'' OR LEN(@Title) > 255
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: the title is missing, blank or longer than 255 characters (parent %s, creator %s).',
                ISNULL(CONVERT(nvarchar(12), @ParentDocumentId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @CreatorUserId), N'NULL'));
            THROW 51211, @Message, 1;
        END;

        IF @LockTimeout IS NULL OR @LockTimeout < -1
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: @LockTimeout must be -1 (wait forever) or a number of milliseconds >= 0 (got %s).',
                ISNULL(CONVERT(nvarchar(12), @LockTimeout), N'NULL'));
            THROW 51212, @Message, 1;
        END;

        IF @CreatorUserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: @CreatorUserId is required (parent %s).', ISNULL(CONVERT(nvarchar(12), @ParentDocumentId), N'NULL'));
            THROW 51209, @Message, 1;
        END;

        /* Every lock wait from here on is bounded like the applocks; 1222 is reported as 51210 by the CATCH. */
        SET LOCK_TIMEOUT @LockTimeout;

        BEGIN TRANSACTION;

        /* 2. L1: lock, then compute the last sibling under the lock. */
        IF @ParentDocumentId IS NULL
        BEGIN
            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'Exclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
            IF @LockResult < 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: could not lock the root level (DbMerge.Roots) within %d ms (result %d); retry.', @LockTimeout, @LockResult);
                THROW 51210, @Message, 1;
            END;

            SET @ParentPath = '';

            /* The last path of UQ_app_Document_Path (one backward seek) starts with the highest root step. */
            SELECT TOP (1) @LastChild = LEFT(d.Path, 7)
            FROM app.Document AS d
            ORDER BY d.Path DESC;
        END
        ELSE
        BEGIN
            SELECT @ParentPath = d.Path FROM app.Document AS d WHERE d.DocumentId = @ParentDocumentId;

            IF @ParentPath IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: parent document %d does not exist.', @ParentDocumentId);
                THROW 51208, @Message, 1;
            END;

            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.Roots', @LockMode = 'IntentExclusive',
                 @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
            IF @LockResult >= 0
            BEGIN
                SET @TreeResource = N'DbMerge.Tree:' + CONVERT(nvarchar(7), LEFT(@ParentPath, 7));
                EXEC @LockResult = sys.sp_getapplock @Resource = @TreeResource, @LockMode = 'Exclusive',
                     @LockOwner = 'Transaction', @LockTimeout = @LockTimeout;
            END;
            IF @LockResult < 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: could not lock the tree of parent document %d within %d ms (result %d); retry.', @ParentDocumentId, @LockTimeout, @LockResult);
                THROW 51210, @Message, 1;
            END;

            /* Re-read under the lock: a move that committed before we got the lock may have moved the parent. */
            SELECT @ParentPath2 = d.Path FROM app.Document AS d WHERE d.DocumentId = @ParentDocumentId;

            IF @ParentPath2 IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: parent document %d does not exist.', @ParentDocumentId);
                THROW 51208, @Message, 1;
            END;

            IF LEFT(@ParentPath2, 7) <> LEFT(@ParentPath, 7)
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: parent document %d moved to another tree while waiting for the lock; retry.', @ParentDocumentId);
                THROW 51213, @Message, 1;
            END;

            SET @ParentPath = @ParentPath2;

            IF DATALENGTH(@ParentPath) >= 252
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Document_Create: parent document %d is at the maximum depth 36; a child would exceed 252 path characters.', @ParentDocumentId);
                THROW 51207, @Message, 1;
            END;

            /* The last path of the parent's range (one backward seek) starts with its last child's path. */
            SELECT TOP (1) @LastChild = SUBSTRING(d.Path, DATALENGTH(@ParentPath) + 1, 7)
            FROM app.Document AS d
            WHERE d.Path > @ParentPath
              AND d.Path < @ParentPath + '['
            ORDER BY d.Path DESC;
        END;

        /* 3. L2: the creator's row, locked until commit, must exist and be active. */
        SELECT @IsActive = u.IsActive
        FROM app.[User] AS u WITH (UPDLOCK, ROWLOCK)
        WHERE u.UserId = @CreatorUserId;

        IF @IsActive IS NULL OR @IsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: creator %d does not exist or is inactive.', @CreatorUserId);
            THROW 51209, @Message, 1;
        END;

        /* 4. Next step = last step + 1 (1 when there is no sibling yet). */
        SET @LastNumber = 0;
        IF @LastChild IS NOT NULL
            SELECT @LastNumber = sn.Number FROM dbmerge.Path_StepNumber(@LastChild) AS sn;

        SELECT @Step = s.Step FROM dbmerge.Path_Step(@LastNumber + 1) AS s;

        IF @Step IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: parent %s has no free path step after ''%s''.',
                ISNULL(CONVERT(nvarchar(12), @ParentDocumentId), N'(root level)'), ISNULL(CONVERT(nvarchar(7), @LastChild), N''));
            THROW 51207, @Message, 1;
        END;

        SET @Path = @ParentPath + @Step;

        /* 5. L3: write the document (and the owner access of a new root). */
        INSERT INTO app.Document (Path, Title, CreatorUserId)
        OUTPUT inserted.DocumentId, inserted.Path, inserted.Depth INTO @Inserted (DocumentId, Path, Depth)
        VALUES (@Path, LTRIM(RTRIM(@Title)), @CreatorUserId);

        SELECT @DocumentId = i.DocumentId FROM @Inserted AS i;

        IF @ParentDocumentId IS NULL
            INSERT INTO app.DocumentAccess (DocumentId, UserId, Role)
            VALUES (@DocumentId, @CreatorUserId, 'owner');

        COMMIT TRANSACTION;

        /* 6. Result. */
        SELECT i.DocumentId, i.Path, i.Depth, @ParentDocumentId AS ParentDocumentId
        FROM @Inserted AS i;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        IF ERROR_NUMBER() = 1222
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Document_Create: a row lock was not granted within %d ms (engine error 1222 at line %d) while creating under parent %s; nothing changed, retry.',
                @LockTimeout, ERROR_LINE(), ISNULL(CONVERT(nvarchar(12), @ParentDocumentId), N'NULL'));
            THROW 51210, @Message, 1;
        END;
        THROW;
    END CATCH;
END;
GO
