SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.BenchMergeWrite
  Purpose:      the concurrent writer of `dbmerge bench merge`: while a merge runs, the bench calls it again and again
                for the bystander user scenario.BenchMerge seeded, and it updates that user's row in every table the
                merge writes (app.User, Document, DocumentAccess, DocumentInvitation, LinkTrace, DocumentFavorite,
                Thread, Comment, ReactionUser, Collection, Enrollment, Submission, OrganizationMember, ChannelMember,
                Invitation), one statement per table, each its own autocommit transaction (as an application's writes
                would be: no lock is held from one table to the next), each timed. A merge that escalated to a table
                lock, or locked a range or page beyond its own rows, shows here as a long statement.
                Each statement seeks the index on the user column (the same index the merge seeks for the source) and
                changes one timestamp or title of the bystander's one row: TOP (1) bounds it in any case.
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  none of its own: each UPDATE commits on its own. SET LOCK_TIMEOUT @LockTimeoutMs for this call only
                (restored when the procedure returns): a statement that waits longer fails with 1222, which the bench
                reports as a wait of at least @LockTimeoutMs.
  Result set:   one row: Statements int (15), LongestMicroseconds bigint (the longest statement, its lock wait
                included), LongestTable sysname (its table), TotalMicroseconds bigint.
  Errors:       50004 @UserId NULL or @LockTimeoutMs outside 1..600000; 1222 a statement waited @LockTimeoutMs.
  Example:      EXEC scenario.BenchMergeWrite @UserId = 3, @LockTimeoutMs = 30000;
*/
CREATE OR ALTER PROCEDURE scenario.BenchMergeWrite
    @UserId        int,
    @LockTimeoutMs int = 30000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @UserId IS NULL OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 1 AND 600000
    BEGIN
        DECLARE @Message nvarchar(2048) = FORMATMESSAGE(N'scenario.BenchMergeWrite: @UserId must be given and @LockTimeoutMs be 1..600000 (got %s, %s).',
            ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
        THROW 50004, @Message, 1;
    END;

    SET LOCK_TIMEOUT @LockTimeoutMs;

    DECLARE @Now datetime2(3) = CONVERT(datetime2(3), SYSUTCDATETIME());
    DECLARE @At datetime2(7);
    DECLARE @Timing TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, TableName sysname NOT NULL, Microseconds bigint NOT NULL);

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) u SET u.UpdatedAt = @Now FROM app.[User] AS u WHERE u.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.User', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) d SET d.Title = N'bench bystander', d.UpdatedAt = @Now FROM app.Document AS d WHERE d.CreatorUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Document', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) da SET da.UpdatedAt = @Now FROM app.DocumentAccess AS da WHERE da.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.DocumentAccess', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) di SET di.CreatedAt = @Now FROM app.DocumentInvitation AS di WHERE di.IssuerUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.DocumentInvitation', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) lt SET lt.CreatedAt = @Now FROM app.LinkTrace AS lt WHERE lt.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.LinkTrace', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) df SET df.CreatedAt = @Now FROM app.DocumentFavorite AS df WHERE df.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.DocumentFavorite', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) t SET t.CreatedAt = @Now FROM app.Thread AS t WHERE t.CreatorUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Thread', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) c SET c.UpdatedAt = @Now FROM app.Comment AS c WHERE c.AuthorUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Comment', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) ru SET ru.CreatedAt = @Now FROM app.ReactionUser AS ru WHERE ru.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.ReactionUser', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) co SET co.UpdatedAt = @Now FROM app.Collection AS co WHERE co.OwnerUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Collection', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) e SET e.CreatedAt = @Now FROM app.Enrollment AS e WHERE e.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Enrollment', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) s SET s.SubmittedAt = @Now
    FROM app.Submission AS s
    WHERE s.EnrollmentId = (SELECT TOP (1) e.EnrollmentId FROM app.Enrollment AS e WHERE e.UserId = @UserId ORDER BY e.EnrollmentId);
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Submission', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) om SET om.UpdatedAt = @Now FROM app.OrganizationMember AS om WHERE om.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.OrganizationMember', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) cm SET cm.UpdatedAt = @Now FROM app.ChannelMember AS cm WHERE cm.UserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.ChannelMember', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SET @At = SYSUTCDATETIME();
    UPDATE TOP (1) i SET i.CreatedAt = @Now FROM app.Invitation AS i WHERE i.SenderUserId = @UserId;
    INSERT INTO @Timing (TableName, Microseconds) VALUES (N'app.Invitation', DATEDIFF_BIG(microsecond, @At, SYSUTCDATETIME()));

    SELECT TOP (1)
        (SELECT COUNT(*) FROM @Timing) AS Statements,
        t.Microseconds AS LongestMicroseconds,
        t.TableName AS LongestTable,
        (SELECT SUM(a.Microseconds) FROM @Timing AS a) AS TotalMicroseconds
    FROM @Timing AS t
    ORDER BY t.Microseconds DESC, t.Seq;
END;
GO
