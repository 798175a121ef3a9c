SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.BenchMoveForest
  Purpose:      the forest of `dbmerge bench move`: @Trees new roots, appended after the existing roots, each with
                @DocumentsPerTree - 1 children, and one direct access per document (root: 'owner', child: 'reader')
                for one of 100 new bench users (round robin), so the forest has @Trees * @DocumentsPerTree documents and
                as many accesses. The moves of the benchmark (scenario.BenchMove subtrees, seeded after this) run in two
                more trees appended after these: the forest's paths must not be rewritten by them (issue 10).
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  none of its own: each statement commits on its own (a benchmark seed); a failed run leaves a partial
                seed in the scratch database, which is dropped anyway.
  Result set:   one row: Trees int, Documents int, Accesses int, FirstRootId int, LastRootId int.
  Errors:       50003 @Trees outside 1..1000000, @DocumentsPerTree outside 1..1000, or more than 10,000,000 documents.
  Example:      EXEC scenario.BenchMoveForest @Trees = 10000, @DocumentsPerTree = 10;
*/
CREATE OR ALTER PROCEDURE scenario.BenchMoveForest
    @Trees            int,
    @DocumentsPerTree int = 10
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @Trees IS NULL OR @Trees NOT BETWEEN 1 AND 1000000 OR @DocumentsPerTree IS NULL OR @DocumentsPerTree NOT BETWEEN 1 AND 1000
       OR CONVERT(bigint, @Trees) * @DocumentsPerTree > 10000000
    BEGIN
        DECLARE @Message nvarchar(2048) = FORMATMESSAGE(N'scenario.BenchMoveForest: @Trees must be 1..1000000 and @DocumentsPerTree 1..1000, at most 10,000,000 documents (got %s, %s).',
            ISNULL(CONVERT(nvarchar(12), @Trees), N'NULL'), ISNULL(CONVERT(nvarchar(12), @DocumentsPerTree), N'NULL'));
        THROW 50003, @Message, 1;
    END;

    DECLARE @LastRoot bigint = 0;
    DECLARE @LastRootStep varchar(7);
    DECLARE @Users TABLE (Seq int IDENTITY(0, 1) NOT NULL PRIMARY KEY, UserId int NOT NULL);
    DECLARE @Roots TABLE (N bigint NOT NULL PRIMARY KEY, Path varchar(7) COLLATE Latin1_General_BIN2 NOT NULL);

    /* 100 bench users. */
    WITH Numbers AS
    (
        SELECT TOP (100) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS N
        FROM sys.all_objects AS a
    )
    INSERT INTO app.[User] (Email, DisplayName)
    OUTPUT inserted.UserId INTO @Users (UserId)
    SELECT CONCAT(N'bench-forest-', n.N, N'-', NEWID(), N'@example.invalid'), CONCAT(N'bench forest ', n.N)
    FROM Numbers AS n;

    /* The highest existing root step (the last path of UQ_app_Document_Path starts with it). */
    SELECT TOP (1) @LastRootStep = LEFT(d.Path, 7)
    FROM app.Document AS d
    ORDER BY d.Path DESC;

    IF @LastRootStep IS NOT NULL
        SELECT @LastRoot = sn.Number FROM dbmerge.Path_StepNumber(@LastRootStep) AS sn;

    WITH Numbers AS
    (
        SELECT TOP (@Trees) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS N
        FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b CROSS JOIN sys.all_objects AS c
    )
    INSERT INTO @Roots (N, Path)
    SELECT n.N, s.Step
    FROM Numbers AS n
    CROSS APPLY dbmerge.Path_Step(@LastRoot + n.N) AS s;

    /* Every tree: its root (K = 0) and its children K = 1 .. @DocumentsPerTree - 1. */
    WITH Children AS
    (
        SELECT TOP (@DocumentsPerTree) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) - 1 AS K
        FROM sys.all_objects AS a
    )
    INSERT INTO app.Document (Path, Title, CreatorUserId)
    SELECT r.Path + ISNULL(s.Step, ''), CONCAT(N'forest ', r.N, N'.', c.K), u.UserId
    FROM @Roots AS r
    CROSS JOIN Children AS c
    JOIN @Users AS u
      ON u.Seq = r.N % 100
    OUTER APPLY (SELECT st.Step FROM dbmerge.Path_Step(c.K) AS st WHERE c.K > 0) AS s;

    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role)
    SELECT d.DocumentId, d.CreatorUserId, CASE WHEN DATALENGTH(d.Path) = 7 THEN 'owner' ELSE 'reader' END
    FROM app.Document AS d
    WHERE d.Path >= (SELECT MIN(r.Path) FROM @Roots AS r)
      AND d.Path < (SELECT MAX(r.Path) FROM @Roots AS r) + '[';

    SELECT @Trees AS Trees,
           (SELECT COUNT(*) FROM app.Document AS d WHERE d.Path >= (SELECT MIN(r.Path) FROM @Roots AS r) AND d.Path < (SELECT MAX(r.Path) FROM @Roots AS r) + '[') AS Documents,
           (SELECT COUNT(*) FROM app.DocumentAccess AS da JOIN @Users AS u ON u.UserId = da.UserId) AS Accesses,
           (SELECT d.DocumentId FROM app.Document AS d WHERE d.Path = (SELECT MIN(r.Path) FROM @Roots AS r)) AS FirstRootId,
           (SELECT d.DocumentId FROM app.Document AS d WHERE d.Path = (SELECT MAX(r.Path) FROM @Roots AS r)) AS LastRootId;
END;
GO
