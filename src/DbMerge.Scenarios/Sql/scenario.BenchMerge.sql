SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.BenchMerge
  Purpose:      one seed of `dbmerge bench merge`: three new users — a source, a target, a bystander — and about @Rows
                rows referencing the source spread over every merge-policy table:
                  documents created 20%, document accesses 20%, link traces 14.5%, favorites 10%, comments 13% (on
                  threads numbering 1.5%), reaction users 5%, collections 5%, enrollments 4% (one submission each),
                  organization and channel memberships 2% each, channel invitations sent 1%, pending channel
                  invitations to the source's address 0.5%, accepted invitations of the source 0.5%, document
                  invitations issued 0.5% and addressed to the source 0.5%.
                The target collides with the source on every tenth access, trace, favorite, reaction, membership,
                enrollment and invitation to its address (so keep-higher-role, dedupe, merge-children and readdress
                all meet collisions). The bystander holds one row in every table the merge writes: the row
                scenario.BenchMergeWrite updates while the merge runs ("another user's rows in every touched table").
                Calling it twice (the bench seeds the small and the large pair before either merge) keeps the seeds
                apart: new users with unique addresses, and new root documents whose path steps start after the
                highest root step in app.Document, so UQ_app_Document_Path never collides (the limit is the last root
                step, 36^7 - 1 = 78,364,164,095; error 50001 says so before anything is written).
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  none of its own: each statement commits on its own (a benchmark seed of millions of rows); a failed
                run leaves a partial seed in the scratch database, which is dropped anyway.
  Result set:   one row: SourceUserId int, TargetUserId int, BystanderUserId int.
  Errors:       50001 @Rows outside 100..10000000 (fewer rows would seed no thread), or the root path steps would pass
                36^7 - 1.
  Example:      EXEC scenario.BenchMerge @Rows = 100000;
*/
CREATE OR ALTER PROCEDURE scenario.BenchMerge
    @Rows int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    IF @Rows IS NULL OR @Rows NOT BETWEEN 100 AND 10000000
    BEGIN
        SET @Message = FORMATMESSAGE(N'scenario.BenchMerge: @Rows must be 100..10000000 (got %s).', ISNULL(CONVERT(nvarchar(12), @Rows), N'NULL'));
        THROW 50001, @Message, 1;
    END;

    DECLARE @S int, @T int, @B int;
    DECLARE @Docs int = @Rows / 5;
    DECLARE @Threads int;
    DECLARE @Tag nvarchar(36) = CONVERT(nvarchar(36), NEWID());
    DECLARE @SourceEmail nvarchar(254) = CONCAT(N'bench-source-', @Tag, N'@example.invalid');
    DECLARE @TargetEmail nvarchar(254) = CONCAT(N'bench-target-', @Tag, N'@example.invalid');
    DECLARE @BystanderEmail nvarchar(254) = CONCAT(N'bench-bystander-', @Tag, N'@example.invalid');
    DECLARE @GuestEmail nvarchar(254) = CONCAT(N'bench-guest-', @Tag, N'@example.invalid');
    DECLARE @CoursePrefix nvarchar(60) = CONCAT(N'bench ', @Tag, N' ');
    DECLARE @BaseStep bigint;
    DECLARE @NewUser TABLE (UserId int NOT NULL);

    /* The highest root step so far: every path starts with its root's step, so the greatest path (UQ_app_Document_Path,
       read backwards, one row) starts with the greatest root step. */
    SELECT TOP (1) @BaseStep = n.Number
    FROM app.Document AS d
    CROSS APPLY dbmerge.Path_StepNumber(LEFT(d.Path, 7)) AS n
    ORDER BY d.Path DESC;
    SET @BaseStep = ISNULL(@BaseStep, 0);
    IF @BaseStep + @Docs + 1 > CONVERT(bigint, 78364164095)
    BEGIN
        SET @Message = FORMATMESSAGE(N'scenario.BenchMerge: %s root documents after root step %s would pass the last root step 36^7 - 1.',
            CONVERT(nvarchar(12), @Docs + 1), CONVERT(nvarchar(20), @BaseStep));
        THROW 50001, @Message, 1;
    END;

    INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId INTO @NewUser (UserId) VALUES (@TargetEmail, N'bench target');
    SELECT @T = nu.UserId FROM @NewUser AS nu;
    DELETE FROM @NewUser;
    INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId INTO @NewUser (UserId) VALUES (@SourceEmail, N'bench source');
    SELECT @S = nu.UserId FROM @NewUser AS nu;
    DELETE FROM @NewUser;
    INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId INTO @NewUser (UserId) VALUES (@BystanderEmail, N'bench bystander');
    SELECT @B = nu.UserId FROM @NewUser AS nu;

    CREATE TABLE #N (i int NOT NULL PRIMARY KEY);
    INSERT INTO #N (i)
    SELECT TOP (@Rows) CONVERT(int, ROW_NUMBER() OVER (ORDER BY (SELECT NULL)))
    FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b CROSS JOIN sys.all_columns AS c;

    /* Root documents of the source: steps @BaseStep + 1 .. @BaseStep + @Docs; the bystander's root takes the next. */
    CREATE TABLE #Created (DocumentId int NOT NULL PRIMARY KEY);
    INSERT INTO app.Document (Path, Title, CreatorUserId)
    OUTPUT inserted.DocumentId INTO #Created (DocumentId)
    SELECT s.Step, N'bench', @S
    FROM #N AS n
    CROSS APPLY dbmerge.Path_Step(@BaseStep + n.i) AS s
    WHERE n.i <= @Docs;

    CREATE TABLE #D (i int NOT NULL PRIMARY KEY, DocumentId int NOT NULL);
    INSERT INTO #D (i, DocumentId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY c.DocumentId)), c.DocumentId FROM #Created AS c;

    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT d.DocumentId, @S, IIF(d.i % 2 = 0, 'editor', 'reader') FROM #D AS d;
    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT d.DocumentId, @T, 'commenter' FROM #D AS d WHERE d.i % 10 = 0;
    INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= @Rows * 145 / 1000;
    INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT d.DocumentId, @T FROM #D AS d WHERE d.i <= @Rows * 145 / 1000 AND d.i % 10 = 0;
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= @Rows / 10;
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT d.DocumentId, @T FROM #D AS d WHERE d.i <= @Rows / 10 AND d.i % 10 = 0;
    INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) SELECT d.DocumentId, @GuestEmail, 'reader', @S FROM #D AS d WHERE d.i <= @Rows / 200;
    INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) SELECT d.DocumentId, @SourceEmail, 'reader', NULL FROM #D AS d WHERE d.i <= @Rows / 200;
    INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) SELECT d.DocumentId, @TargetEmail, 'editor', NULL FROM #D AS d WHERE d.i <= @Rows / 200 AND d.i % 10 = 0;

    INSERT INTO app.Thread (DocumentId, CreatorUserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= IIF(@Rows * 15 / 1000 < 1, 1, @Rows * 15 / 1000);
    CREATE TABLE #Th (i int NOT NULL PRIMARY KEY, ThreadId int NOT NULL);
    INSERT INTO #Th (i, ThreadId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY t.ThreadId)), t.ThreadId FROM app.Thread AS t WHERE t.CreatorUserId = @S;
    SET @Threads = (SELECT COUNT(*) FROM #Th);
    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body)
    SELECT th.ThreadId, @S, N'bench comment' FROM #N AS n JOIN #Th AS th ON th.i = 1 + n.i % @Threads WHERE n.i <= @Rows * 13 / 100;
    INSERT INTO app.Reaction (CommentId, Emoji)
    SELECT TOP (@Rows / 20) c.CommentId, N'+1' FROM app.Comment AS c WHERE c.AuthorUserId = @S ORDER BY c.CommentId;
    INSERT INTO app.ReactionUser (ReactionId, UserId)
    SELECT r.ReactionId, @S FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S;
    INSERT INTO app.ReactionUser (ReactionId, UserId)
    SELECT r.ReactionId, @T FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S AND r.ReactionId % 10 = 0;

    INSERT INTO app.Collection (Name, OwnerUserId) SELECT N'bench', @S FROM #N AS n WHERE n.i <= @Rows / 20;

    CREATE TABLE #Course (i int NOT NULL PRIMARY KEY, CourseId int NOT NULL);
    CREATE TABLE #NewCourse (CourseId int NOT NULL PRIMARY KEY);
    INSERT INTO app.Course (Name) OUTPUT inserted.CourseId INTO #NewCourse (CourseId) SELECT CONCAT(@CoursePrefix, n.i) FROM #N AS n WHERE n.i <= @Rows / 25;
    INSERT INTO #Course (i, CourseId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY nc.CourseId)), nc.CourseId FROM #NewCourse AS nc;
    INSERT INTO app.Enrollment (CourseId, UserId) SELECT co.CourseId, @S FROM #Course AS co;
    INSERT INTO app.Enrollment (CourseId, UserId) SELECT co.CourseId, @T FROM #Course AS co WHERE co.i % 10 = 0;
    INSERT INTO app.Submission (EnrollmentId, Content) SELECT e.EnrollmentId, N'bench' FROM app.Enrollment AS e WHERE e.UserId = @S;

    CREATE TABLE #Org (i int NOT NULL PRIMARY KEY, OrganizationId int NOT NULL);
    CREATE TABLE #NewOrg (OrganizationId int NOT NULL PRIMARY KEY);
    INSERT INTO app.Organization (Name) OUTPUT inserted.OrganizationId INTO #NewOrg (OrganizationId) SELECT N'bench' FROM #N AS n WHERE n.i <= @Rows / 50;
    INSERT INTO #Org (i, OrganizationId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY no.OrganizationId)), no.OrganizationId FROM #NewOrg AS no;
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) SELECT o.OrganizationId, @S, 'editor' FROM #Org AS o;
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) SELECT o.OrganizationId, @T, 'admin' FROM #Org AS o WHERE o.i % 10 = 0;

    CREATE TABLE #Ch (i int NOT NULL PRIMARY KEY, ChannelId int NOT NULL);
    CREATE TABLE #NewCh (ChannelId int NOT NULL PRIMARY KEY);
    INSERT INTO app.Channel (Name) OUTPUT inserted.ChannelId INTO #NewCh (ChannelId) SELECT N'bench' FROM #N AS n WHERE n.i <= @Rows / 50;
    INSERT INTO #Ch (i, ChannelId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY nc.ChannelId)), nc.ChannelId FROM #NewCh AS nc;
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role) SELECT ch.ChannelId, @S, 'viewer' FROM #Ch AS ch;
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role) SELECT ch.ChannelId, @T, 'editor' FROM #Ch AS ch WHERE ch.i % 10 = 0;
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
    SELECT ch.ChannelId, @GuestEmail, 'view', @S FROM #Ch AS ch WHERE ch.i <= @Rows / 100;
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
    SELECT ch.ChannelId, @SourceEmail, 'view', NULL FROM #Ch AS ch WHERE ch.i <= @Rows / 200;
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
    SELECT ch.ChannelId, @TargetEmail, 'edit', NULL FROM #Ch AS ch WHERE ch.i <= @Rows / 200 AND ch.i % 10 = 0;
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, InvitedUserId, Status, RespondedAt)
    SELECT ch.ChannelId, @SourceEmail, 'view', @S, 'accepted', CONVERT(datetime2(3), SYSUTCDATETIME()) FROM #Ch AS ch WHERE ch.i > @Rows / 100 - @Rows / 200 AND ch.i <= @Rows / 100;

    /* The bystander: one row in every table the merge writes, on its own root document, course, organization, channel. */
    DECLARE @BDoc int, @BThread int, @BComment int, @BReaction int, @BCourse int, @BEnrollment int, @BOrg int, @BChannel int;
    DECLARE @Id TABLE (Id int NOT NULL);
    INSERT INTO app.Document (Path, Title, CreatorUserId) OUTPUT inserted.DocumentId INTO @Id (Id)
    SELECT s.Step, N'bench bystander', @B FROM dbmerge.Path_Step(@BaseStep + @Docs + 1) AS s;
    SELECT @BDoc = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) VALUES (@BDoc, @B, 'editor');
    INSERT INTO app.LinkTrace (DocumentId, UserId) VALUES (@BDoc, @B);
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@BDoc, @B);
    INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) VALUES (@BDoc, @GuestEmail, 'reader', @B);
    INSERT INTO app.Thread (DocumentId, CreatorUserId) OUTPUT inserted.ThreadId INTO @Id (Id) VALUES (@BDoc, @B);
    SELECT @BThread = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) OUTPUT inserted.CommentId INTO @Id (Id) VALUES (@BThread, @B, N'bench bystander');
    SELECT @BComment = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.Reaction (CommentId, Emoji) OUTPUT inserted.ReactionId INTO @Id (Id) VALUES (@BComment, N'+1');
    SELECT @BReaction = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.ReactionUser (ReactionId, UserId) VALUES (@BReaction, @B);
    INSERT INTO app.Collection (Name, OwnerUserId) VALUES (N'bench bystander', @B);
    INSERT INTO app.Course (Name) OUTPUT inserted.CourseId INTO @Id (Id) VALUES (CONCAT(@CoursePrefix, N'bystander'));
    SELECT @BCourse = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.Enrollment (CourseId, UserId) OUTPUT inserted.EnrollmentId INTO @Id (Id) VALUES (@BCourse, @B);
    SELECT @BEnrollment = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.Submission (EnrollmentId, Content) VALUES (@BEnrollment, N'bench bystander');
    INSERT INTO app.Organization (Name) OUTPUT inserted.OrganizationId INTO @Id (Id) VALUES (N'bench bystander');
    SELECT @BOrg = i.Id FROM @Id AS i;
    DELETE FROM @Id;
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@BOrg, @B, 'editor');
    INSERT INTO app.Channel (Name) OUTPUT inserted.ChannelId INTO @Id (Id) VALUES (N'bench bystander');
    SELECT @BChannel = i.Id FROM @Id AS i;
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role) VALUES (@BChannel, @B, 'viewer');
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId) VALUES (@BChannel, @GuestEmail, 'view', @B);

    SELECT @S AS SourceUserId, @T AS TargetUserId, @B AS BystanderUserId;
END;
GO
