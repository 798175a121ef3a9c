SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.BenchMerge
  Purpose:      the seed of `dbmerge bench merge`: a new source and target user, and about @Rows rows referencing the
                source spread over every merge-policy table: documents created 20%, document accesses 20%, link traces
                15%, favorites 10%, comments 15% (on threads numbering 1.5%), reaction users 5%, collections 5%,
                enrollments 4% (one submission each), organization and channel memberships 2% each, channel
                invitations sent 1%. The target collides with the source on 10% of the accesses, traces, favorites,
                reactions, memberships and enrollments (so keep-higher-role, dedupe and merge-children all work).
                @Run (1..9) keeps the rows of successive runs in one database apart (paths, names, e-mails).
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  none of its own: each statement commits on its own (a benchmark seed of millions of rows); a failed
                run leaves a partial seed in the scratch database, which is dropped anyway.
  Result set:   one row: SourceUserId int, TargetUserId int.
  Errors:       50001 @Rows outside 100..10000000 (fewer rows would seed no thread) or @Run outside 1..9.
  Example:      EXEC scenario.BenchMerge @Rows = 100000, @Run = 1;
*/
CREATE OR ALTER PROCEDURE scenario.BenchMerge
    @Rows int,
    @Run  int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @Rows IS NULL OR @Rows NOT BETWEEN 100 AND 10000000 OR @Run IS NULL OR @Run NOT BETWEEN 1 AND 9
    BEGIN
        DECLARE @Message nvarchar(2048) = FORMATMESSAGE(N'scenario.BenchMerge: @Rows must be 100..10000000 and @Run 1..9 (got %s, %s).',
            ISNULL(CONVERT(nvarchar(12), @Rows), N'NULL'), ISNULL(CONVERT(nvarchar(12), @Run), N'NULL'));
        THROW 50001, @Message, 1;
    END;

    DECLARE @S int, @T int;
    DECLARE @Docs int = @Rows / 5;
    DECLARE @Threads int;
    DECLARE @CoursePrefix nvarchar(40) = CONCAT(N'bench ', @Run, N'-');

    INSERT INTO app.[User] (Email) VALUES (CONCAT(N'bench-target-', @Run, N'@example.org'));
    SET @T = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email) VALUES (CONCAT(N'bench-source-', @Run, N'@example.org'));
    SET @S = CONVERT(int, SCOPE_IDENTITY());

    CREATE TABLE #N (i int NOT NULL PRIMARY KEY);
    INSERT INTO #N (i)
    SELECT TOP (@Rows) CONVERT(int, ROW_NUMBER() OVER (ORDER BY (SELECT NULL)))
    FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b CROSS JOIN sys.all_columns AS c;

    /* Root documents with paths unique per run: step number @Run * 10^8 + i (at most 2,000,000 per run). */
    CREATE TABLE #Created (DocumentId int NOT NULL PRIMARY KEY);
    INSERT INTO app.Document (Path, Title, CreatorUserId)
    OUTPUT inserted.DocumentId INTO #Created (DocumentId)
    SELECT s.Step, N'bench', @S
    FROM #N AS n
    CROSS APPLY dbmerge.Path_Step(CONVERT(bigint, @Run) * 100000000 + n.i) AS s
    WHERE n.i <= @Docs;

    CREATE TABLE #D (i int NOT NULL PRIMARY KEY, DocumentId int NOT NULL);
    INSERT INTO #D (i, DocumentId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY c.DocumentId)), c.DocumentId FROM #Created AS c;

    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT d.DocumentId, @S, IIF(d.i % 2 = 0, 'editor', 'reader') FROM #D AS d;
    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT d.DocumentId, @T, 'commenter' FROM #D AS d WHERE d.i % 10 = 0;
    INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= @Rows * 15 / 100;
    INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT d.DocumentId, @T FROM #D AS d WHERE d.i <= @Rows * 15 / 100 AND d.i % 10 = 0;
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= @Rows / 10;
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT d.DocumentId, @T FROM #D AS d WHERE d.i <= @Rows / 10 AND d.i % 10 = 0;

    INSERT INTO app.Thread (DocumentId, CreatorUserId) SELECT d.DocumentId, @S FROM #D AS d WHERE d.i <= IIF(@Rows * 15 / 1000 < 1, 1, @Rows * 15 / 1000);
    CREATE TABLE #Th (i int NOT NULL PRIMARY KEY, ThreadId int NOT NULL);
    INSERT INTO #Th (i, ThreadId) SELECT CONVERT(int, ROW_NUMBER() OVER (ORDER BY t.ThreadId)), t.ThreadId FROM app.Thread AS t WHERE t.CreatorUserId = @S;
    SET @Threads = (SELECT COUNT(*) FROM #Th);
    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body)
    SELECT th.ThreadId, @S, N'bench comment' FROM #N AS n JOIN #Th AS th ON th.i = 1 + n.i % @Threads WHERE n.i <= @Rows * 15 / 100;
    INSERT INTO app.Reaction (CommentId, Emoji)
    SELECT TOP (@Rows / 20) c.CommentId, N'+1' FROM app.Comment AS c WHERE c.AuthorUserId = @S ORDER BY c.CommentId;
    INSERT INTO app.ReactionUser (ReactionId, UserId)
    SELECT r.ReactionId, @S FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S;
    INSERT INTO app.ReactionUser (ReactionId, UserId)
    SELECT r.ReactionId, @T FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S AND r.ReactionId % 10 = 0;

    INSERT INTO app.Collection (Name, OwnerUserId) SELECT N'bench', @S FROM #N AS n WHERE n.i <= @Rows / 20;

    INSERT INTO app.Course (Name) SELECT CONCAT(@CoursePrefix, n.i) FROM #N AS n WHERE n.i <= @Rows / 25;
    INSERT INTO app.Enrollment (CourseId, UserId) SELECT co.CourseId, @S FROM app.Course AS co WHERE co.Name LIKE @CoursePrefix + N'%';
    INSERT INTO app.Enrollment (CourseId, UserId) SELECT co.CourseId, @T FROM app.Course AS co WHERE co.Name LIKE @CoursePrefix + N'%' AND co.CourseId % 10 = 0;
    INSERT INTO app.Submission (EnrollmentId, Content) SELECT e.EnrollmentId, N'bench' FROM app.Enrollment AS e WHERE e.UserId = @S;

    INSERT INTO app.Organization (Name) SELECT N'bench' FROM #N AS n WHERE n.i <= @Rows / 50;
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role)
    SELECT TOP (@Rows / 50) o.OrganizationId, @S, 'editor' FROM app.Organization AS o ORDER BY o.OrganizationId DESC;
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role)
    SELECT om.OrganizationId, @T, 'admin' FROM app.OrganizationMember AS om WHERE om.UserId = @S AND om.OrganizationId % 10 = 0;

    INSERT INTO app.Channel (Name) SELECT N'bench' FROM #N AS n WHERE n.i <= @Rows / 50;
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role)
    SELECT TOP (@Rows / 50) ch.ChannelId, @S, 'viewer' FROM app.Channel AS ch ORDER BY ch.ChannelId DESC;
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role)
    SELECT cm.ChannelId, @T, 'editor' FROM app.ChannelMember AS cm WHERE cm.UserId = @S AND cm.ChannelId % 10 = 0;
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
    SELECT TOP (@Rows / 100) cm.ChannelId, N'guest@example.org', 'view', @S FROM app.ChannelMember AS cm WHERE cm.UserId = @S ORDER BY cm.ChannelId;

    SELECT @S AS SourceUserId, @T AS TargetUserId;
END;
GO
