SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.User_MergeCore
  Purpose:      folds @SourceUserId into @TargetUserId following dbmerge.MergePolicy: locks both users, checks
                that every foreign key to app.User has a policy (and every policy a handler here), applies the
                policies set-based per table, deactivates the source (MergedIntoUserId = target, e-mail kept),
                proves that nothing references the source any more, writes the dbmerge.MergeRun row and the
                before-image of every changed or deleted row to dbmerge.MergeJournal.
  Transaction:  REQUIRES the caller's transaction (api.User_Merge, reconciliation processing); never begins or
                commits one. On any error the transaction is doomed (XACT_ABORT) and the CATCH rolls it back
                before re-throwing, so the caller sees @@TRANCOUNT = 0. Applocks are transaction-owned: they are
                released by the caller's COMMIT or by that ROLLBACK. Runs AS OWNER: it must see every foreign key in sys.foreign_keys (metadata
                is hidden from callers that only hold EXECUTE) and run the residual check's dynamic SQL, which
                is built from catalog names with QUOTENAME only, with the user id as a parameter.
  Concurrency:  merges sharing a user serialize on the applocks (the second re-checks its users under them);
                every statement filters on an indexed user column, so merges of disjoint users touch disjoint rows.
                Application writes are not blocked beyond the merge's own row locks: one racing a merge (a new
                row for the source, a new final qualification) either is moved too, or fails a constraint and the
                whole merge rolls back; the residual check proves nothing was left behind before commit.
  Result set:   none. @SummaryJson OUTPUT: JSON array, one object per policy row:
                {ApplyOrder, SchemaName, TableName, ColumnName, Policy, Moved, Merged, Deleted, Conflicts}
                Moved     source rows re-pointed (or re-addressed) to the target;
                Merged    target rows changed to absorb a source row (role raised, children received, the
                          source account itself for app.User.MergedIntoUserId);
                Deleted   source rows deleted because the target already held the same resource;
                Conflicts collisions found (both users held the same resource).
                For every policy, Moved/Merged/Deleted equal the journal's rows per action.
  Errors:       51100 source user does not exist
                51101 target user does not exist
                51102 source and target are the same user
                51103 target user is inactive or merged away
                51104 source user is already merged into another user
                51105 a foreign key to app.User has no merge policy, or a policy has no handler here
                51106 both enrollments of one course hold a final qualification (refused collision)
                51107 rows still reference the source user before commit (residual rows)
                51108 a user lock could not be acquired within @LockTimeoutMs
                51110 a parameter is missing or out of range
                51111 called without an open transaction
  Example:      BEGIN TRANSACTION;
                EXEC dbmerge.User_MergeCore @MergeRunId = @Id, @SourceUserId = 42, @TargetUserId = 7,
                     @Reason = N'duplicate account', @RequestedBy = N'ops', @IsDryRun = 0,
                     @StartedAt = @Now, @LockTimeoutMs = 10000, @SummaryJson = @Summary OUTPUT;
                COMMIT TRANSACTION;
*/
CREATE OR ALTER PROCEDURE dbmerge.User_MergeCore
    @MergeRunId    bigint,
    @SourceUserId  int,
    @TargetUserId  int,
    @Reason        nvarchar(400),
    @RequestedBy   nvarchar(128),
    @IsDryRun      bit,
    @StartedAt     datetime2(3),
    @LockTimeoutMs int,
    @SummaryJson   nvarchar(max) OUTPUT
WITH EXECUTE AS OWNER
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    DECLARE @Now datetime2(3) = SYSUTCDATETIME();

    BEGIN TRY
        /* ---- check parameters ---------------------------------------------------------------------- */
        IF @@TRANCOUNT = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: requires the caller''s transaction (source %s, target %s); begin one, or call api.User_Merge.',
                ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'));
            THROW 51111, @Message, 1;
        END;

        IF @MergeRunId IS NULL OR @SourceUserId IS NULL OR @TargetUserId IS NULL OR @IsDryRun IS NULL
           OR @StartedAt IS NULL OR NULLIF(LTRIM(RTRIM(@RequestedBy)), N'') IS NULL
           OR NULLIF(LTRIM(RTRIM(@Reason)), N'') IS NULL
           OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 3600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: @MergeRunId, @SourceUserId, @TargetUserId, @IsDryRun, @StartedAt, @RequestedBy and @Reason are required and @LockTimeoutMs must be 0..3600000 (source %s, target %s, lock timeout %s).',
                ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF @SourceUserId = @TargetUserId
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: source and target are the same user %d.', @SourceUserId);
            THROW 51102, @Message, 1;
        END;

        /* ---- take locks: both users, ascending id, owned by the caller's transaction ----------------- */
        DECLARE @FirstUserId int = IIF(@SourceUserId < @TargetUserId, @SourceUserId, @TargetUserId);
        DECLARE @SecondUserId int = IIF(@SourceUserId < @TargetUserId, @TargetUserId, @SourceUserId);
        DECLARE @Resource nvarchar(255);
        DECLARE @LockResult int;

        SET @Resource = N'DbMerge.User:' + CONVERT(nvarchar(12), @FirstUserId);
        EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive',
             @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;
        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: could not lock user %d within %d ms (sp_getapplock returned %d); another merge holds it. Nothing was changed; retry later.',
                @FirstUserId, @LockTimeoutMs, @LockResult);
            THROW 51108, @Message, 1;
        END;

        SET @Resource = N'DbMerge.User:' + CONVERT(nvarchar(12), @SecondUserId);
        EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive',
             @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;
        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: could not lock user %d within %d ms (sp_getapplock returned %d); another merge holds it. Nothing was changed; retry later.',
                @SecondUserId, @LockTimeoutMs, @LockResult);
            THROW 51108, @Message, 1;
        END;

        /* ---- re-check the users under the locks ------------------------------------------------------ */
        DECLARE @SourceExists bit = 0, @SourceMergedInto int, @SourceEmail nvarchar(254);
        DECLARE @TargetExists bit = 0, @TargetIsActive bit, @TargetMergedInto int, @TargetEmail nvarchar(254);

        SELECT @SourceExists = 1, @SourceMergedInto = u.MergedIntoUserId, @SourceEmail = u.Email
        FROM app.[User] AS u
        WHERE u.UserId = @SourceUserId;

        SELECT @TargetExists = 1, @TargetIsActive = u.IsActive, @TargetMergedInto = u.MergedIntoUserId, @TargetEmail = u.Email
        FROM app.[User] AS u
        WHERE u.UserId = @TargetUserId;

        IF @SourceExists = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: source user %d does not exist.', @SourceUserId);
            THROW 51100, @Message, 1;
        END;

        IF @TargetExists = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: target user %d does not exist.', @TargetUserId);
            THROW 51101, @Message, 1;
        END;

        IF @SourceMergedInto IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: source user %d is already merged into user %d.', @SourceUserId, @SourceMergedInto);
            THROW 51104, @Message, 1;
        END;

        IF @TargetIsActive = 0 OR @TargetMergedInto IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: target user %d is inactive or merged away (merged into %s); merge into an active user.',
                @TargetUserId, ISNULL(CONVERT(nvarchar(12), @TargetMergedInto), N'nobody'));
            THROW 51103, @Message, 1;
        END;

        /* Same address (an inactive legacy account of the same person): nothing to re-address. */
        DECLARE @SameEmail bit = IIF(@SourceEmail = @TargetEmail COLLATE Latin1_General_100_CI_AS, 1, 0);

        /* ---- coverage: every FK to app.User has a policy, every policy a handler in this procedure --- */
        DECLARE @Handler TABLE
        (
            SchemaName sysname     NOT NULL,
            TableName  sysname     NOT NULL,
            ColumnName sysname     NOT NULL,
            Policy     varchar(20) NOT NULL,
            PRIMARY KEY (SchemaName, TableName, ColumnName)
        );
        INSERT INTO @Handler (SchemaName, TableName, ColumnName, Policy)
        VALUES (N'app', N'Enrollment', N'UserId', 'merge-children'),
               (N'app', N'DocumentAccess', N'UserId', 'keep-higher-role'),
               (N'app', N'OrganizationMember', N'UserId', 'keep-higher-role'),
               (N'app', N'ChannelMember', N'UserId', 'keep-higher-role'),
               (N'app', N'LinkTrace', N'UserId', 'dedupe'),
               (N'app', N'DocumentFavorite', N'UserId', 'dedupe'),
               (N'app', N'ReactionUser', N'UserId', 'dedupe'),
               (N'app', N'DocumentInvitation', N'Email', 'readdress'),
               (N'app', N'Invitation', N'Email', 'readdress'),
               (N'app', N'Document', N'CreatorUserId', 'move'),
               (N'app', N'DocumentInvitation', N'IssuerUserId', 'move'),
               (N'app', N'Thread', N'CreatorUserId', 'move'),
               (N'app', N'Comment', N'AuthorUserId', 'move'),
               (N'app', N'Invitation', N'SenderUserId', 'move'),
               (N'app', N'Invitation', N'InvitedUserId', 'move'),
               (N'app', N'Collection', N'OwnerUserId', 'move'),
               (N'app', N'User', N'MergedIntoUserId', 'move');

        DECLARE @Unhandled TABLE
        (
            Seq        int IDENTITY(1, 1) NOT NULL PRIMARY KEY,
            SchemaName sysname        NOT NULL,
            TableName  sysname        NOT NULL,
            ColumnName sysname        NOT NULL,
            Problem    nvarchar(400)  NOT NULL
        );

        INSERT INTO @Unhandled (SchemaName, TableName, ColumnName, Problem)
        SELECT s.name, t.name, c.name, N'foreign key ' + fk.name + N' to app.User has no row in dbmerge.MergePolicy'
        FROM sys.foreign_keys AS fk
        JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id
        JOIN sys.tables AS t ON t.object_id = fkc.parent_object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        JOIN sys.columns AS c ON c.object_id = fkc.parent_object_id AND c.column_id = fkc.parent_column_id
        WHERE fk.referenced_object_id = OBJECT_ID(N'app.[User]')
          AND NOT EXISTS (SELECT 1
                          FROM dbmerge.MergePolicy AS p
                          WHERE p.SchemaName = s.name COLLATE DATABASE_DEFAULT
                            AND p.TableName = t.name COLLATE DATABASE_DEFAULT
                            AND p.ColumnName = c.name COLLATE DATABASE_DEFAULT)
        ORDER BY s.name, t.name, c.name;

        INSERT INTO @Unhandled (SchemaName, TableName, ColumnName, Problem)
        SELECT p.SchemaName, p.TableName, p.ColumnName,
               N'policy ''' + p.Policy + N''' has no handler in dbmerge.User_MergeCore'
        FROM dbmerge.MergePolicy AS p
        WHERE NOT EXISTS (SELECT 1 FROM @Handler AS h
                          WHERE h.SchemaName = p.SchemaName AND h.TableName = p.TableName
                            AND h.ColumnName = p.ColumnName AND h.Policy = p.Policy)
        UNION ALL
        SELECT h.SchemaName, h.TableName, h.ColumnName, N'handled here but has no row in dbmerge.MergePolicy'
        FROM @Handler AS h
        WHERE NOT EXISTS (SELECT 1 FROM dbmerge.MergePolicy AS p
                          WHERE p.SchemaName = h.SchemaName AND p.TableName = h.TableName AND p.ColumnName = h.ColumnName);

        IF EXISTS (SELECT 1 FROM @Unhandled)
        BEGIN
            DECLARE @UnhandledCount int = (SELECT COUNT(*) FROM @Unhandled);
            SELECT TOP (1) @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: unhandled reference %s.%s.%s: %s (%d unhandled in all); nothing was changed.',
                       u.SchemaName, u.TableName, u.ColumnName, u.Problem, @UnhandledCount)
            FROM @Unhandled AS u
            ORDER BY u.Seq;
            THROW 51105, @Message, 1;
        END;

        /* ---- refused collisions, before any change ---------------------------------------------------- */
        DECLARE @EnrollmentPair TABLE
        (
            SourceEnrollmentId int NOT NULL PRIMARY KEY,
            TargetEnrollmentId int NOT NULL,
            CourseId           int NOT NULL,
            SourceHasFinal     bit NOT NULL,
            TargetHasFinal     bit NOT NULL
        );
        INSERT INTO @EnrollmentPair (SourceEnrollmentId, TargetEnrollmentId, CourseId, SourceHasFinal, TargetHasFinal)
        SELECT s.EnrollmentId, t.EnrollmentId, s.CourseId,
               IIF(EXISTS (SELECT 1 FROM app.FinalQualification AS fq WHERE fq.EnrollmentId = s.EnrollmentId), 1, 0),
               IIF(EXISTS (SELECT 1 FROM app.FinalQualification AS fq WHERE fq.EnrollmentId = t.EnrollmentId), 1, 0)
        FROM app.Enrollment AS s
        JOIN app.Enrollment AS t ON t.CourseId = s.CourseId AND t.UserId = @TargetUserId
        WHERE s.UserId = @SourceUserId;

        IF EXISTS (SELECT 1 FROM @EnrollmentPair WHERE SourceHasFinal = 1 AND TargetHasFinal = 1)
        BEGIN
            DECLARE @RefusedCount int = (SELECT COUNT(*) FROM @EnrollmentPair WHERE SourceHasFinal = 1 AND TargetHasFinal = 1);
            SELECT TOP (1) @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: refused: in course %d both source enrollment %d (user %d) and target enrollment %d (user %d) hold a final qualification (%d course(s) in all); resolve by hand, nothing was changed.',
                       p.CourseId, p.SourceEnrollmentId, @SourceUserId, p.TargetEnrollmentId, @TargetUserId, @RefusedCount)
            FROM @EnrollmentPair AS p
            WHERE p.SourceHasFinal = 1 AND p.TargetHasFinal = 1
            ORDER BY p.CourseId;
            THROW 51106, @Message, 1;
        END;

        /* ---- history row (visible only if the caller commits) ---------------------------------------- */
        INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt)
        VALUES (@MergeRunId, @SourceUserId, @TargetUserId, @RequestedBy, @Reason, @IsDryRun,
                IIF(@IsDryRun = 1, 'dry-run', 'committed'), @StartedAt);

        DECLARE @Summary TABLE
        (
            SchemaName sysname     NOT NULL,
            TableName  sysname     NOT NULL,
            ColumnName sysname     NOT NULL,
            Policy     varchar(20) NOT NULL,
            ApplyOrder smallint    NOT NULL,
            Moved      int         NOT NULL DEFAULT (0),
            Merged     int         NOT NULL DEFAULT (0),
            Deleted    int         NOT NULL DEFAULT (0),
            Conflicts  int         NOT NULL DEFAULT (0),
            PRIMARY KEY (SchemaName, TableName, ColumnName)
        );
        INSERT INTO @Summary (SchemaName, TableName, ColumnName, Policy, ApplyOrder)
        SELECT p.SchemaName, p.TableName, p.ColumnName, p.Policy, p.ApplyOrder
        FROM dbmerge.MergePolicy AS p;

        /* ==== app.Enrollment.UserId: merge-children ===================================================== */
        RAISERROR(N'dbmerge.User_MergeCore: enrollments', 10, 1) WITH NOWAIT;
        DECLARE @SubmissionBefore TABLE (SubmissionId int NOT NULL PRIMARY KEY, EnrollmentId int NOT NULL, Content nvarchar(max) NOT NULL, SubmittedAt datetime2(3) NOT NULL);
        DECLARE @FinalQualificationBefore TABLE (FinalQualificationId int NOT NULL PRIMARY KEY, EnrollmentId int NOT NULL, Grade nvarchar(20) NOT NULL, QualifiedAt datetime2(3) NOT NULL);
        DECLARE @EnrollmentBefore TABLE (EnrollmentId int NOT NULL PRIMARY KEY, CourseId int NOT NULL, UserId int NOT NULL, CreatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);

        UPDATE sub
        SET sub.EnrollmentId = p.TargetEnrollmentId
        OUTPUT deleted.SubmissionId, deleted.EnrollmentId, deleted.Content, deleted.SubmittedAt
        INTO @SubmissionBefore (SubmissionId, EnrollmentId, Content, SubmittedAt)
        FROM app.Submission AS sub
        JOIN @EnrollmentPair AS p ON p.SourceEnrollmentId = sub.EnrollmentId;

        UPDATE fq
        SET fq.EnrollmentId = p.TargetEnrollmentId
        OUTPUT deleted.FinalQualificationId, deleted.EnrollmentId, deleted.Grade, deleted.QualifiedAt
        INTO @FinalQualificationBefore (FinalQualificationId, EnrollmentId, Grade, QualifiedAt)
        FROM app.FinalQualification AS fq
        JOIN @EnrollmentPair AS p ON p.SourceEnrollmentId = fq.EnrollmentId
        WHERE p.TargetHasFinal = 0;

        DELETE e
        OUTPUT deleted.EnrollmentId, deleted.CourseId, deleted.UserId, deleted.CreatedAt, 'deleted'
        INTO @EnrollmentBefore (EnrollmentId, CourseId, UserId, CreatedAt, Action)
        FROM app.Enrollment AS e
        JOIN @EnrollmentPair AS p ON p.SourceEnrollmentId = e.EnrollmentId;

        UPDATE app.Enrollment
        SET UserId = @TargetUserId
        OUTPUT deleted.EnrollmentId, deleted.CourseId, deleted.UserId, deleted.CreatedAt, 'moved'
        INTO @EnrollmentBefore (EnrollmentId, CourseId, UserId, CreatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Enrollment', N'UserId', N'app.Enrollment', b.Action,
               CONCAT(N'{"EnrollmentId":', b.EnrollmentId, N'}'),
               (SELECT b.EnrollmentId, b.CourseId, b.UserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @EnrollmentBefore AS b
        UNION ALL
        SELECT @MergeRunId, N'app', N'Enrollment', N'UserId', N'app.Submission', 'merged',
               CONCAT(N'{"SubmissionId":', b.SubmissionId, N'}'),
               (SELECT b.SubmissionId, b.EnrollmentId, b.Content, b.SubmittedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @SubmissionBefore AS b
        UNION ALL
        SELECT @MergeRunId, N'app', N'Enrollment', N'UserId', N'app.FinalQualification', 'merged',
               CONCAT(N'{"FinalQualificationId":', b.FinalQualificationId, N'}'),
               (SELECT b.FinalQualificationId, b.EnrollmentId, b.Grade, b.QualifiedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @FinalQualificationBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @EnrollmentBefore WHERE Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @SubmissionBefore) + (SELECT COUNT(*) FROM @FinalQualificationBefore),
            Deleted = (SELECT COUNT(*) FROM @EnrollmentBefore WHERE Action = 'deleted'),
            Conflicts = (SELECT COUNT(*) FROM @EnrollmentPair)
        WHERE SchemaName = N'app' AND TableName = N'Enrollment' AND ColumnName = N'UserId';

        /* ==== app.DocumentAccess.UserId: keep-higher-role (team grants have UserId NULL: untouched) ===== */
        RAISERROR(N'dbmerge.User_MergeCore: document accesses', 10, 1) WITH NOWAIT;
        DECLARE @DocumentAccessBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, DocumentAccessId int NOT NULL, DocumentId int NOT NULL, UserId int NULL, Team nvarchar(100) NULL, Role varchar(20) NOT NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);
        DECLARE @DocumentAccessCollisions int;

        SELECT @DocumentAccessCollisions = COUNT(*)
        FROM app.DocumentAccess AS s
        JOIN app.DocumentAccess AS t ON t.DocumentId = s.DocumentId AND t.UserId = @TargetUserId
        WHERE s.UserId = @SourceUserId;

        UPDATE t
        SET t.Role = s.Role, t.UpdatedAt = @Now
        OUTPUT deleted.DocumentAccessId, deleted.DocumentId, deleted.UserId, deleted.Team, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'merged'
        INTO @DocumentAccessBefore (DocumentAccessId, DocumentId, UserId, Team, Role, CreatedAt, UpdatedAt, Action)
        FROM app.DocumentAccess AS t
        JOIN app.DocumentAccess AS s ON s.DocumentId = t.DocumentId AND s.UserId = @SourceUserId
        JOIN app.DocumentRole AS tr ON tr.Role = t.Role
        JOIN app.DocumentRole AS sr ON sr.Role = s.Role
        WHERE t.UserId = @TargetUserId
          AND sr.RoleRank > tr.RoleRank;

        DELETE s
        OUTPUT deleted.DocumentAccessId, deleted.DocumentId, deleted.UserId, deleted.Team, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'deleted'
        INTO @DocumentAccessBefore (DocumentAccessId, DocumentId, UserId, Team, Role, CreatedAt, UpdatedAt, Action)
        FROM app.DocumentAccess AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.DocumentAccess AS t WHERE t.DocumentId = s.DocumentId AND t.UserId = @TargetUserId);

        UPDATE app.DocumentAccess
        SET UserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.DocumentAccessId, deleted.DocumentId, deleted.UserId, deleted.Team, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'moved'
        INTO @DocumentAccessBefore (DocumentAccessId, DocumentId, UserId, Team, Role, CreatedAt, UpdatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'DocumentAccess', N'UserId', N'app.DocumentAccess', b.Action,
               CONCAT(N'{"DocumentAccessId":', b.DocumentAccessId, N'}'),
               (SELECT b.DocumentAccessId, b.DocumentId, b.UserId, b.Team, b.Role, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @DocumentAccessBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @DocumentAccessBefore WHERE Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @DocumentAccessBefore WHERE Action = 'merged'),
            Deleted = (SELECT COUNT(*) FROM @DocumentAccessBefore WHERE Action = 'deleted'),
            Conflicts = @DocumentAccessCollisions
        WHERE SchemaName = N'app' AND TableName = N'DocumentAccess' AND ColumnName = N'UserId';

        /* ==== app.OrganizationMember.UserId: keep-higher-role ========================================== */
        RAISERROR(N'dbmerge.User_MergeCore: organization members', 10, 1) WITH NOWAIT;
        DECLARE @OrganizationMemberBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, OrganizationMemberId int NOT NULL, OrganizationId int NOT NULL, UserId int NOT NULL, Role varchar(20) NOT NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);
        DECLARE @OrganizationMemberCollisions int;

        SELECT @OrganizationMemberCollisions = COUNT(*)
        FROM app.OrganizationMember AS s
        JOIN app.OrganizationMember AS t ON t.OrganizationId = s.OrganizationId AND t.UserId = @TargetUserId
        WHERE s.UserId = @SourceUserId;

        UPDATE t
        SET t.Role = s.Role, t.UpdatedAt = @Now
        OUTPUT deleted.OrganizationMemberId, deleted.OrganizationId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'merged'
        INTO @OrganizationMemberBefore (OrganizationMemberId, OrganizationId, UserId, Role, CreatedAt, UpdatedAt, Action)
        FROM app.OrganizationMember AS t
        JOIN app.OrganizationMember AS s ON s.OrganizationId = t.OrganizationId AND s.UserId = @SourceUserId
        JOIN app.OrganizationRole AS tr ON tr.Role = t.Role
        JOIN app.OrganizationRole AS sr ON sr.Role = s.Role
        WHERE t.UserId = @TargetUserId
          AND sr.RoleRank > tr.RoleRank;

        DELETE s
        OUTPUT deleted.OrganizationMemberId, deleted.OrganizationId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'deleted'
        INTO @OrganizationMemberBefore (OrganizationMemberId, OrganizationId, UserId, Role, CreatedAt, UpdatedAt, Action)
        FROM app.OrganizationMember AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.OrganizationMember AS t WHERE t.OrganizationId = s.OrganizationId AND t.UserId = @TargetUserId);

        UPDATE app.OrganizationMember
        SET UserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.OrganizationMemberId, deleted.OrganizationId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'moved'
        INTO @OrganizationMemberBefore (OrganizationMemberId, OrganizationId, UserId, Role, CreatedAt, UpdatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'OrganizationMember', N'UserId', N'app.OrganizationMember', b.Action,
               CONCAT(N'{"OrganizationMemberId":', b.OrganizationMemberId, N'}'),
               (SELECT b.OrganizationMemberId, b.OrganizationId, b.UserId, b.Role, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @OrganizationMemberBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @OrganizationMemberBefore WHERE Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @OrganizationMemberBefore WHERE Action = 'merged'),
            Deleted = (SELECT COUNT(*) FROM @OrganizationMemberBefore WHERE Action = 'deleted'),
            Conflicts = @OrganizationMemberCollisions
        WHERE SchemaName = N'app' AND TableName = N'OrganizationMember' AND ColumnName = N'UserId';

        /* ==== app.ChannelMember.UserId: keep-higher-role =============================================== */
        RAISERROR(N'dbmerge.User_MergeCore: channel members', 10, 1) WITH NOWAIT;
        DECLARE @ChannelMemberBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, ChannelMemberId int NOT NULL, ChannelId int NOT NULL, UserId int NOT NULL, Role varchar(20) NOT NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);
        DECLARE @ChannelMemberCollisions int;

        SELECT @ChannelMemberCollisions = COUNT(*)
        FROM app.ChannelMember AS s
        JOIN app.ChannelMember AS t ON t.ChannelId = s.ChannelId AND t.UserId = @TargetUserId
        WHERE s.UserId = @SourceUserId;

        UPDATE t
        SET t.Role = s.Role, t.UpdatedAt = @Now
        OUTPUT deleted.ChannelMemberId, deleted.ChannelId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'merged'
        INTO @ChannelMemberBefore (ChannelMemberId, ChannelId, UserId, Role, CreatedAt, UpdatedAt, Action)
        FROM app.ChannelMember AS t
        JOIN app.ChannelMember AS s ON s.ChannelId = t.ChannelId AND s.UserId = @SourceUserId
        JOIN app.ChannelRole AS tr ON tr.Role = t.Role
        JOIN app.ChannelRole AS sr ON sr.Role = s.Role
        WHERE t.UserId = @TargetUserId
          AND sr.RoleRank > tr.RoleRank;

        DELETE s
        OUTPUT deleted.ChannelMemberId, deleted.ChannelId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'deleted'
        INTO @ChannelMemberBefore (ChannelMemberId, ChannelId, UserId, Role, CreatedAt, UpdatedAt, Action)
        FROM app.ChannelMember AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.ChannelMember AS t WHERE t.ChannelId = s.ChannelId AND t.UserId = @TargetUserId);

        UPDATE app.ChannelMember
        SET UserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.ChannelMemberId, deleted.ChannelId, deleted.UserId, deleted.Role, deleted.CreatedAt, deleted.UpdatedAt, 'moved'
        INTO @ChannelMemberBefore (ChannelMemberId, ChannelId, UserId, Role, CreatedAt, UpdatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'ChannelMember', N'UserId', N'app.ChannelMember', b.Action,
               CONCAT(N'{"ChannelMemberId":', b.ChannelMemberId, N'}'),
               (SELECT b.ChannelMemberId, b.ChannelId, b.UserId, b.Role, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @ChannelMemberBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @ChannelMemberBefore WHERE Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @ChannelMemberBefore WHERE Action = 'merged'),
            Deleted = (SELECT COUNT(*) FROM @ChannelMemberBefore WHERE Action = 'deleted'),
            Conflicts = @ChannelMemberCollisions
        WHERE SchemaName = N'app' AND TableName = N'ChannelMember' AND ColumnName = N'UserId';

        /* ==== dedupe: app.LinkTrace, app.DocumentFavorite (per document), app.ReactionUser (per reaction) */
        RAISERROR(N'dbmerge.User_MergeCore: link traces, favorites, reactions', 10, 1) WITH NOWAIT;
        DECLARE @LinkTraceBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, LinkTraceId int NOT NULL, DocumentId int NOT NULL, UserId int NOT NULL, CreatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);

        DELETE s
        OUTPUT deleted.LinkTraceId, deleted.DocumentId, deleted.UserId, deleted.CreatedAt, 'deleted'
        INTO @LinkTraceBefore (LinkTraceId, DocumentId, UserId, CreatedAt, Action)
        FROM app.LinkTrace AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.LinkTrace AS t WHERE t.DocumentId = s.DocumentId AND t.UserId = @TargetUserId);

        UPDATE app.LinkTrace
        SET UserId = @TargetUserId
        OUTPUT deleted.LinkTraceId, deleted.DocumentId, deleted.UserId, deleted.CreatedAt, 'moved'
        INTO @LinkTraceBefore (LinkTraceId, DocumentId, UserId, CreatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'LinkTrace', N'UserId', N'app.LinkTrace', b.Action,
               CONCAT(N'{"LinkTraceId":', b.LinkTraceId, N'}'),
               (SELECT b.LinkTraceId, b.DocumentId, b.UserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @LinkTraceBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @LinkTraceBefore WHERE Action = 'moved'),
            Deleted = (SELECT COUNT(*) FROM @LinkTraceBefore WHERE Action = 'deleted'),
            Conflicts = (SELECT COUNT(*) FROM @LinkTraceBefore WHERE Action = 'deleted')
        WHERE SchemaName = N'app' AND TableName = N'LinkTrace' AND ColumnName = N'UserId';

        DECLARE @DocumentFavoriteBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, DocumentFavoriteId int NOT NULL, DocumentId int NOT NULL, UserId int NOT NULL, CreatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);

        DELETE s
        OUTPUT deleted.DocumentFavoriteId, deleted.DocumentId, deleted.UserId, deleted.CreatedAt, 'deleted'
        INTO @DocumentFavoriteBefore (DocumentFavoriteId, DocumentId, UserId, CreatedAt, Action)
        FROM app.DocumentFavorite AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.DocumentFavorite AS t WHERE t.DocumentId = s.DocumentId AND t.UserId = @TargetUserId);

        UPDATE app.DocumentFavorite
        SET UserId = @TargetUserId
        OUTPUT deleted.DocumentFavoriteId, deleted.DocumentId, deleted.UserId, deleted.CreatedAt, 'moved'
        INTO @DocumentFavoriteBefore (DocumentFavoriteId, DocumentId, UserId, CreatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'DocumentFavorite', N'UserId', N'app.DocumentFavorite', b.Action,
               CONCAT(N'{"DocumentFavoriteId":', b.DocumentFavoriteId, N'}'),
               (SELECT b.DocumentFavoriteId, b.DocumentId, b.UserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @DocumentFavoriteBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @DocumentFavoriteBefore WHERE Action = 'moved'),
            Deleted = (SELECT COUNT(*) FROM @DocumentFavoriteBefore WHERE Action = 'deleted'),
            Conflicts = (SELECT COUNT(*) FROM @DocumentFavoriteBefore WHERE Action = 'deleted')
        WHERE SchemaName = N'app' AND TableName = N'DocumentFavorite' AND ColumnName = N'UserId';

        DECLARE @ReactionUserBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, ReactionId int NOT NULL, UserId int NOT NULL, CreatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);

        DELETE s
        OUTPUT deleted.ReactionId, deleted.UserId, deleted.CreatedAt, 'deleted'
        INTO @ReactionUserBefore (ReactionId, UserId, CreatedAt, Action)
        FROM app.ReactionUser AS s
        WHERE s.UserId = @SourceUserId
          AND EXISTS (SELECT 1 FROM app.ReactionUser AS t WHERE t.ReactionId = s.ReactionId AND t.UserId = @TargetUserId);

        UPDATE app.ReactionUser
        SET UserId = @TargetUserId
        OUTPUT deleted.ReactionId, deleted.UserId, deleted.CreatedAt, 'moved'
        INTO @ReactionUserBefore (ReactionId, UserId, CreatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'ReactionUser', N'UserId', N'app.ReactionUser', b.Action,
               CONCAT(N'{"ReactionId":', b.ReactionId, N',"UserId":', b.UserId, N'}'),
               (SELECT b.ReactionId, b.UserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @ReactionUserBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @ReactionUserBefore WHERE Action = 'moved'),
            Deleted = (SELECT COUNT(*) FROM @ReactionUserBefore WHERE Action = 'deleted'),
            Conflicts = (SELECT COUNT(*) FROM @ReactionUserBefore WHERE Action = 'deleted')
        WHERE SchemaName = N'app' AND TableName = N'ReactionUser' AND ColumnName = N'UserId';

        /* ==== app.DocumentInvitation.Email: readdress, keep-higher-role per document ==================== */
        RAISERROR(N'dbmerge.User_MergeCore: invitations addressed to the source', 10, 1) WITH NOWAIT;
        DECLARE @DocumentInvitationBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, DocumentInvitationId int NOT NULL, DocumentId int NOT NULL, Email nvarchar(254) NOT NULL, Role varchar(20) NOT NULL, IssuerUserId int NULL, CreatedAt datetime2(3) NOT NULL, PolicyColumnName sysname NOT NULL, Action varchar(10) NOT NULL);
        DECLARE @DocumentInvitationCollisions int = 0;

        IF @SameEmail = 0
        BEGIN
            SELECT @DocumentInvitationCollisions = COUNT(*)
            FROM app.DocumentInvitation AS s
            JOIN app.DocumentInvitation AS t ON t.DocumentId = s.DocumentId AND t.Email = @TargetEmail
            WHERE s.Email = @SourceEmail;

            UPDATE t
            SET t.Role = s.Role
            OUTPUT deleted.DocumentInvitationId, deleted.DocumentId, deleted.Email, deleted.Role, deleted.IssuerUserId, deleted.CreatedAt, N'Email', 'merged'
            INTO @DocumentInvitationBefore (DocumentInvitationId, DocumentId, Email, Role, IssuerUserId, CreatedAt, PolicyColumnName, Action)
            FROM app.DocumentInvitation AS t
            JOIN app.DocumentInvitation AS s ON s.DocumentId = t.DocumentId AND s.Email = @SourceEmail
            JOIN app.DocumentRole AS tr ON tr.Role = t.Role
            JOIN app.DocumentRole AS sr ON sr.Role = s.Role
            WHERE t.Email = @TargetEmail
              AND sr.RoleRank > tr.RoleRank;

            DELETE s
            OUTPUT deleted.DocumentInvitationId, deleted.DocumentId, deleted.Email, deleted.Role, deleted.IssuerUserId, deleted.CreatedAt, N'Email', 'deleted'
            INTO @DocumentInvitationBefore (DocumentInvitationId, DocumentId, Email, Role, IssuerUserId, CreatedAt, PolicyColumnName, Action)
            FROM app.DocumentInvitation AS s
            WHERE s.Email = @SourceEmail
              AND EXISTS (SELECT 1 FROM app.DocumentInvitation AS t WHERE t.DocumentId = s.DocumentId AND t.Email = @TargetEmail);

            UPDATE app.DocumentInvitation
            SET Email = @TargetEmail
            OUTPUT deleted.DocumentInvitationId, deleted.DocumentId, deleted.Email, deleted.Role, deleted.IssuerUserId, deleted.CreatedAt, N'Email', 'moved'
            INTO @DocumentInvitationBefore (DocumentInvitationId, DocumentId, Email, Role, IssuerUserId, CreatedAt, PolicyColumnName, Action)
            WHERE Email = @SourceEmail;
        END;

        /* ==== app.DocumentInvitation.IssuerUserId: move =============================================== */
        UPDATE app.DocumentInvitation
        SET IssuerUserId = @TargetUserId
        OUTPUT deleted.DocumentInvitationId, deleted.DocumentId, deleted.Email, deleted.Role, deleted.IssuerUserId, deleted.CreatedAt, N'IssuerUserId', 'moved'
        INTO @DocumentInvitationBefore (DocumentInvitationId, DocumentId, Email, Role, IssuerUserId, CreatedAt, PolicyColumnName, Action)
        WHERE IssuerUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'DocumentInvitation', b.PolicyColumnName, N'app.DocumentInvitation', b.Action,
               CONCAT(N'{"DocumentInvitationId":', b.DocumentInvitationId, N'}'),
               (SELECT b.DocumentInvitationId, b.DocumentId, b.Email, b.Role, b.IssuerUserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @DocumentInvitationBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @DocumentInvitationBefore WHERE PolicyColumnName = N'Email' AND Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @DocumentInvitationBefore WHERE PolicyColumnName = N'Email' AND Action = 'merged'),
            Deleted = (SELECT COUNT(*) FROM @DocumentInvitationBefore WHERE PolicyColumnName = N'Email' AND Action = 'deleted'),
            Conflicts = @DocumentInvitationCollisions
        WHERE SchemaName = N'app' AND TableName = N'DocumentInvitation' AND ColumnName = N'Email';

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @DocumentInvitationBefore WHERE PolicyColumnName = N'IssuerUserId')
        WHERE SchemaName = N'app' AND TableName = N'DocumentInvitation' AND ColumnName = N'IssuerUserId';

        /* ==== app.Invitation.Email: readdress pending; one pending per channel or organization ========== */
        /* An invitation targets a channel (ChannelId) or an organization (OrganizationId): its target is
           (TargetKind, TargetId) = ('C', ChannelId) or ('O', OrganizationId). Share modes rank view < edit < admin. */
        DECLARE @InvitationBefore TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, InvitationId int NOT NULL, ChannelId int NULL, OrganizationId int NULL, Email nvarchar(254) NOT NULL, ShareMode varchar(10) NOT NULL, SenderUserId int NULL, InvitedUserId int NULL, Status varchar(10) NOT NULL, CreatedAt datetime2(3) NOT NULL, RespondedAt datetime2(3) NULL, PolicyColumnName sysname NOT NULL, Action varchar(10) NOT NULL);
        DECLARE @InvitationCollisions int = 0;

        IF @SameEmail = 0
        BEGIN
            /* Per target holding a pending invitation of the source: the target user's pending invitation kept
               (lowest id), its rank, and the best rank among the source's. */
            DECLARE @InvitationKeep TABLE (TargetKind char(1) NOT NULL, TargetId int NOT NULL, KeepInvitationId int NOT NULL, KeepRank tinyint NOT NULL, SourceRank tinyint NOT NULL, SourceShareMode varchar(10) NULL, PRIMARY KEY (TargetKind, TargetId));

            INSERT INTO @InvitationKeep (TargetKind, TargetId, KeepInvitationId, KeepRank, SourceRank, SourceShareMode)
            SELECT src.TargetKind, src.TargetId, k.InvitationId,
                   CASE k.ShareMode WHEN 'view' THEN 1 WHEN 'edit' THEN 2 WHEN 'admin' THEN 3 ELSE 0 END,
                   src.SourceRank,
                   CASE src.SourceRank WHEN 1 THEN 'view' WHEN 2 THEN 'edit' WHEN 3 THEN 'admin' END
            FROM (SELECT IIF(i.ChannelId IS NOT NULL, 'C', 'O') AS TargetKind, COALESCE(i.ChannelId, i.OrganizationId) AS TargetId,
                         MAX(CASE i.ShareMode WHEN 'view' THEN 1 WHEN 'edit' THEN 2 WHEN 'admin' THEN 3 ELSE 0 END) AS SourceRank
                  FROM app.Invitation AS i
                  WHERE i.Email = @SourceEmail AND i.Status = 'pending'
                    AND COALESCE(i.ChannelId, i.OrganizationId) IS NOT NULL
                  GROUP BY IIF(i.ChannelId IS NOT NULL, 'C', 'O'), COALESCE(i.ChannelId, i.OrganizationId)) AS src
            CROSS APPLY (SELECT TOP (1) t.InvitationId, t.ShareMode
                         FROM app.Invitation AS t
                         WHERE t.Email = @TargetEmail AND t.Status = 'pending'
                           AND ((src.TargetKind = 'C' AND t.ChannelId = src.TargetId)
                                OR (src.TargetKind = 'O' AND t.ChannelId IS NULL AND t.OrganizationId = src.TargetId))
                         ORDER BY t.InvitationId) AS k;

            UPDATE t
            SET t.ShareMode = k.SourceShareMode
            OUTPUT deleted.InvitationId, deleted.ChannelId, deleted.OrganizationId, deleted.Email, deleted.ShareMode, deleted.SenderUserId, deleted.InvitedUserId, deleted.Status, deleted.CreatedAt, deleted.RespondedAt, N'Email', 'merged'
            INTO @InvitationBefore (InvitationId, ChannelId, OrganizationId, Email, ShareMode, SenderUserId, InvitedUserId, Status, CreatedAt, RespondedAt, PolicyColumnName, Action)
            FROM app.Invitation AS t
            JOIN @InvitationKeep AS k ON k.KeepInvitationId = t.InvitationId
            WHERE k.SourceRank > k.KeepRank
              AND k.SourceShareMode IS NOT NULL;

            /* Source-addressed pending duplicates: those whose target the target user is invited to already,
               and all but the best (highest share mode, then lowest id) per target among the rest. */
            WITH Ranked AS
            (
                SELECT i.InvitationId, i.ChannelId, i.OrganizationId, i.Email, i.ShareMode, i.SenderUserId, i.InvitedUserId, i.Status, i.CreatedAt, i.RespondedAt,
                       ROW_NUMBER() OVER (PARTITION BY IIF(i.ChannelId IS NOT NULL, 'C', 'O'), COALESCE(i.ChannelId, i.OrganizationId)
                                          ORDER BY CASE i.ShareMode WHEN 'view' THEN 1 WHEN 'edit' THEN 2 WHEN 'admin' THEN 3 ELSE 0 END DESC, i.InvitationId) AS RowInTarget,
                       IIF(i.ChannelId IS NOT NULL, 'C', 'O') AS TargetKind,
                       COALESCE(i.ChannelId, i.OrganizationId) AS TargetId
                FROM app.Invitation AS i
                WHERE i.Email = @SourceEmail AND i.Status = 'pending'
                  AND COALESCE(i.ChannelId, i.OrganizationId) IS NOT NULL
            )
            DELETE FROM Ranked
            OUTPUT deleted.InvitationId, deleted.ChannelId, deleted.OrganizationId, deleted.Email, deleted.ShareMode, deleted.SenderUserId, deleted.InvitedUserId, deleted.Status, deleted.CreatedAt, deleted.RespondedAt, N'Email', 'deleted'
            INTO @InvitationBefore (InvitationId, ChannelId, OrganizationId, Email, ShareMode, SenderUserId, InvitedUserId, Status, CreatedAt, RespondedAt, PolicyColumnName, Action)
            WHERE Ranked.RowInTarget > 1
               OR EXISTS (SELECT 1 FROM @InvitationKeep AS k WHERE k.TargetKind = Ranked.TargetKind AND k.TargetId = Ranked.TargetId);

            /* Every deleted source invitation was a collision (with the target's, or a duplicate of its own). */
            SET @InvitationCollisions = (SELECT COUNT(*) FROM @InvitationBefore WHERE Action = 'deleted');

            UPDATE app.Invitation
            SET Email = @TargetEmail
            OUTPUT deleted.InvitationId, deleted.ChannelId, deleted.OrganizationId, deleted.Email, deleted.ShareMode, deleted.SenderUserId, deleted.InvitedUserId, deleted.Status, deleted.CreatedAt, deleted.RespondedAt, N'Email', 'moved'
            INTO @InvitationBefore (InvitationId, ChannelId, OrganizationId, Email, ShareMode, SenderUserId, InvitedUserId, Status, CreatedAt, RespondedAt, PolicyColumnName, Action)
            WHERE Email = @SourceEmail AND Status = 'pending';
        END;

        /* ==== app.Invitation.SenderUserId, app.Invitation.InvitedUserId: move ========================== */
        UPDATE app.Invitation
        SET SenderUserId = @TargetUserId
        OUTPUT deleted.InvitationId, deleted.ChannelId, deleted.OrganizationId, deleted.Email, deleted.ShareMode, deleted.SenderUserId, deleted.InvitedUserId, deleted.Status, deleted.CreatedAt, deleted.RespondedAt, N'SenderUserId', 'moved'
        INTO @InvitationBefore (InvitationId, ChannelId, OrganizationId, Email, ShareMode, SenderUserId, InvitedUserId, Status, CreatedAt, RespondedAt, PolicyColumnName, Action)
        WHERE SenderUserId = @SourceUserId;

        UPDATE app.Invitation
        SET InvitedUserId = @TargetUserId
        OUTPUT deleted.InvitationId, deleted.ChannelId, deleted.OrganizationId, deleted.Email, deleted.ShareMode, deleted.SenderUserId, deleted.InvitedUserId, deleted.Status, deleted.CreatedAt, deleted.RespondedAt, N'InvitedUserId', 'moved'
        INTO @InvitationBefore (InvitationId, ChannelId, OrganizationId, Email, ShareMode, SenderUserId, InvitedUserId, Status, CreatedAt, RespondedAt, PolicyColumnName, Action)
        WHERE InvitedUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Invitation', b.PolicyColumnName, N'app.Invitation', b.Action,
               CONCAT(N'{"InvitationId":', b.InvitationId, N'}'),
               (SELECT b.InvitationId, b.ChannelId, b.OrganizationId, b.Email, b.ShareMode, b.SenderUserId, b.InvitedUserId, b.Status, b.CreatedAt, b.RespondedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @InvitationBefore AS b;

        UPDATE s
        SET s.Moved = (SELECT COUNT(*) FROM @InvitationBefore AS b WHERE b.PolicyColumnName = s.ColumnName AND b.Action = 'moved'),
            s.Merged = (SELECT COUNT(*) FROM @InvitationBefore AS b WHERE b.PolicyColumnName = s.ColumnName AND b.Action = 'merged'),
            s.Deleted = (SELECT COUNT(*) FROM @InvitationBefore AS b WHERE b.PolicyColumnName = s.ColumnName AND b.Action = 'deleted'),
            s.Conflicts = IIF(s.ColumnName = N'Email', @InvitationCollisions, 0)
        FROM @Summary AS s
        WHERE s.SchemaName = N'app' AND s.TableName = N'Invitation';

        /* ==== move: app.Document, app.Thread, app.Comment, app.Collection ============================== */
        RAISERROR(N'dbmerge.User_MergeCore: documents, threads, comments, collections', 10, 1) WITH NOWAIT;
        DECLARE @DocumentBefore TABLE (DocumentId int NOT NULL PRIMARY KEY, Path varchar(252) COLLATE Latin1_General_BIN2 NOT NULL, Title nvarchar(255) NOT NULL, CreatorUserId int NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL);

        UPDATE app.Document
        SET CreatorUserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.DocumentId, deleted.Path, deleted.Title, deleted.CreatorUserId, deleted.CreatedAt, deleted.UpdatedAt
        INTO @DocumentBefore (DocumentId, Path, Title, CreatorUserId, CreatedAt, UpdatedAt)
        WHERE CreatorUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Document', N'CreatorUserId', N'app.Document', 'moved',
               CONCAT(N'{"DocumentId":', b.DocumentId, N'}'),
               (SELECT b.DocumentId, b.Path, b.Title, b.CreatorUserId, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @DocumentBefore AS b;

        UPDATE @Summary SET Moved = (SELECT COUNT(*) FROM @DocumentBefore)
        WHERE SchemaName = N'app' AND TableName = N'Document' AND ColumnName = N'CreatorUserId';

        DECLARE @ThreadBefore TABLE (ThreadId int NOT NULL PRIMARY KEY, DocumentId int NOT NULL, CreatorUserId int NULL, CreatedAt datetime2(3) NOT NULL);

        UPDATE app.Thread
        SET CreatorUserId = @TargetUserId
        OUTPUT deleted.ThreadId, deleted.DocumentId, deleted.CreatorUserId, deleted.CreatedAt
        INTO @ThreadBefore (ThreadId, DocumentId, CreatorUserId, CreatedAt)
        WHERE CreatorUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Thread', N'CreatorUserId', N'app.Thread', 'moved',
               CONCAT(N'{"ThreadId":', b.ThreadId, N'}'),
               (SELECT b.ThreadId, b.DocumentId, b.CreatorUserId, b.CreatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @ThreadBefore AS b;

        UPDATE @Summary SET Moved = (SELECT COUNT(*) FROM @ThreadBefore)
        WHERE SchemaName = N'app' AND TableName = N'Thread' AND ColumnName = N'CreatorUserId';

        DECLARE @CommentBefore TABLE (CommentId int NOT NULL PRIMARY KEY, ThreadId int NOT NULL, AuthorUserId int NULL, Body nvarchar(max) NOT NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL);

        UPDATE app.Comment
        SET AuthorUserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.CommentId, deleted.ThreadId, deleted.AuthorUserId, deleted.Body, deleted.CreatedAt, deleted.UpdatedAt
        INTO @CommentBefore (CommentId, ThreadId, AuthorUserId, Body, CreatedAt, UpdatedAt)
        WHERE AuthorUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Comment', N'AuthorUserId', N'app.Comment', 'moved',
               CONCAT(N'{"CommentId":', b.CommentId, N'}'),
               (SELECT b.CommentId, b.ThreadId, b.AuthorUserId, b.Body, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @CommentBefore AS b;

        UPDATE @Summary SET Moved = (SELECT COUNT(*) FROM @CommentBefore)
        WHERE SchemaName = N'app' AND TableName = N'Comment' AND ColumnName = N'AuthorUserId';

        DECLARE @CollectionBefore TABLE (CollectionId int NOT NULL PRIMARY KEY, Name nvarchar(200) NOT NULL, OwnerUserId int NULL, AnonymousSessionId varchar(64) COLLATE Latin1_General_100_BIN2 NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL);

        UPDATE app.Collection
        SET OwnerUserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.CollectionId, deleted.Name, deleted.OwnerUserId, deleted.AnonymousSessionId, deleted.CreatedAt, deleted.UpdatedAt
        INTO @CollectionBefore (CollectionId, Name, OwnerUserId, AnonymousSessionId, CreatedAt, UpdatedAt)
        WHERE OwnerUserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'Collection', N'OwnerUserId', N'app.Collection', 'moved',
               CONCAT(N'{"CollectionId":', b.CollectionId, N'}'),
               (SELECT b.CollectionId, b.Name, b.OwnerUserId, b.AnonymousSessionId, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @CollectionBefore AS b;

        UPDATE @Summary SET Moved = (SELECT COUNT(*) FROM @CollectionBefore)
        WHERE SchemaName = N'app' AND TableName = N'Collection' AND ColumnName = N'OwnerUserId';

        /* ==== app.User.MergedIntoUserId: earlier merges follow; the source is merged into the target ==== */
        DECLARE @UserBefore TABLE (UserId int NOT NULL PRIMARY KEY, Email nvarchar(254) NOT NULL, DisplayName nvarchar(200) NULL, IsActive bit NOT NULL, MergedIntoUserId int NULL, CreatedAt datetime2(3) NOT NULL, UpdatedAt datetime2(3) NOT NULL, Action varchar(10) NOT NULL);

        UPDATE app.[User]
        SET MergedIntoUserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.UserId, deleted.Email, deleted.DisplayName, deleted.IsActive, deleted.MergedIntoUserId, deleted.CreatedAt, deleted.UpdatedAt, 'moved'
        INTO @UserBefore (UserId, Email, DisplayName, IsActive, MergedIntoUserId, CreatedAt, UpdatedAt, Action)
        WHERE MergedIntoUserId = @SourceUserId
        OPTION (RECOMPILE); /* the value lets the filtered index IX_app_User_MergedIntoUserId serve: a seek, not a scan */

        UPDATE app.[User]
        SET IsActive = 0, MergedIntoUserId = @TargetUserId, UpdatedAt = @Now
        OUTPUT deleted.UserId, deleted.Email, deleted.DisplayName, deleted.IsActive, deleted.MergedIntoUserId, deleted.CreatedAt, deleted.UpdatedAt, 'merged'
        INTO @UserBefore (UserId, Email, DisplayName, IsActive, MergedIntoUserId, CreatedAt, UpdatedAt, Action)
        WHERE UserId = @SourceUserId;

        INSERT INTO dbmerge.MergeJournal (MergeRunId, PolicySchemaName, PolicyTableName, PolicyColumnName, TableName, Action, RowKey, BeforeImage)
        SELECT @MergeRunId, N'app', N'User', N'MergedIntoUserId', N'app.User', b.Action,
               CONCAT(N'{"UserId":', b.UserId, N'}'),
               (SELECT b.UserId, b.Email, b.DisplayName, b.IsActive, b.MergedIntoUserId, b.CreatedAt, b.UpdatedAt FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)
        FROM @UserBefore AS b;

        UPDATE @Summary
        SET Moved = (SELECT COUNT(*) FROM @UserBefore WHERE Action = 'moved'),
            Merged = (SELECT COUNT(*) FROM @UserBefore WHERE Action = 'merged')
        WHERE SchemaName = N'app' AND TableName = N'User' AND ColumnName = N'MergedIntoUserId';

        /* ---- post-condition: nothing references the source any more ---------------------------------- */
        RAISERROR(N'dbmerge.User_MergeCore: residual check', 10, 1) WITH NOWAIT;
        DECLARE @ResidualSql nvarchar(max);
        DECLARE @ResidualJson nvarchar(max);

        SELECT @ResidualSql = STRING_AGG(CONVERT(nvarchar(max),
                   N'SELECT N' + QUOTENAME(s.name, N'''') + N' AS SchemaName, N' + QUOTENAME(t.name, N'''')
                   + N' AS TableName, N' + QUOTENAME(c.name, N'''') + N' AS ColumnName, COUNT_BIG(*) AS ResidualRows FROM '
                   + QUOTENAME(s.name) + N'.' + QUOTENAME(t.name) + N' WHERE ' + QUOTENAME(c.name) + N' = @SourceUserId'),
                   N' UNION ALL ')
        FROM sys.foreign_key_columns AS fkc
        JOIN sys.tables AS t ON t.object_id = fkc.parent_object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        JOIN sys.columns AS c ON c.object_id = fkc.parent_object_id AND c.column_id = fkc.parent_column_id
        WHERE fkc.referenced_object_id = OBJECT_ID(N'app.[User]');

        SET @ResidualSql = N'SET @ResidualJson = (SELECT r.SchemaName, r.TableName, r.ColumnName, r.ResidualRows FROM ('
            + @ResidualSql
            + N' UNION ALL SELECT N''app'', N''DocumentInvitation'', N''Email'', COUNT_BIG(*) FROM app.DocumentInvitation WHERE @SameEmail = 0 AND Email = @SourceEmail'
            + N' UNION ALL SELECT N''app'', N''Invitation'', N''Email'', COUNT_BIG(*) FROM app.Invitation WHERE @SameEmail = 0 AND Email = @SourceEmail AND Status = ''pending'''
            + N') AS r WHERE r.ResidualRows > 0 ORDER BY r.SchemaName, r.TableName, r.ColumnName FOR JSON PATH);';

        EXEC sys.sp_executesql
             @stmt = @ResidualSql,
             @params = N'@SourceUserId int, @SourceEmail nvarchar(254), @SameEmail bit, @ResidualJson nvarchar(max) OUTPUT',
             @SourceUserId = @SourceUserId, @SourceEmail = @SourceEmail, @SameEmail = @SameEmail,
             @ResidualJson = @ResidualJson OUTPUT;

        IF @ResidualJson IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: rows still reference source user %d after the merge, rolled back: %s',
                @SourceUserId, LEFT(@ResidualJson, 1500));
            THROW 51107, @Message, 1;
        END;

        /* ---- result ---------------------------------------------------------------------------------- */
        SET @SummaryJson = (SELECT s.ApplyOrder, s.SchemaName, s.TableName, s.ColumnName, s.Policy,
                                   s.Moved, s.Merged, s.Deleted, s.Conflicts
                            FROM @Summary AS s
                            ORDER BY s.ApplyOrder
                            FOR JSON PATH);

        UPDATE dbmerge.MergeRun
        SET FinishedAt = SYSUTCDATETIME(), SummaryJson = @SummaryJson
        WHERE MergeRunId = @MergeRunId;
    END TRY
    BEGIN CATCH
        /* XACT_ABORT has doomed the caller's transaction: roll it back here (the usual nested-procedure
           pattern), so the caller's CATCH finds @@TRANCOUNT = 0 and only logs and re-throws. */
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
