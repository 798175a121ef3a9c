SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.MergeRun_Get
  Purpose:      one user merge, sweep or unmerge run with its summary; the journal's row counts per policy and action (so a
                caller can check the summary against the journal: dbmerge.MergeChange, or dbmerge.MergeJournal for
                runs written before journal v2); and the e-mail addresses its readdress policies re-addressed or
                deleted (before the change), each with the active user other than the run's source and target that
                holds it now, if any — such a row belonged to that user and must not have moved
                (DbMergeClient.VerifyMergeAsync reports it). The target's own rows (raised or reduced duplicates,
                addressed to the target's address) are listed too, never with the target as holder.
                Status as in api.MergeRun_List (running | committed | dry-run | refused | failed | undone | abandoned).
                An unmerge's SummaryJson is its report (dbmerge.User_UnmergeCore: {Tables, ConflictCount, Conflicts});
                the addresses are those of merges and sweeps only.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   one row: MergeRunId bigint, Kind varchar(10), SourceUserId int, TargetUserId int,
                RequestedBy nvarchar(128), Reason nvarchar(400), IsDryRun bit, Status varchar(10),
                StatusDetail nvarchar(400), StartedAt datetime2(3), FinishedAt datetime2(3), ErrorNumber int,
                ErrorMessage nvarchar(2048), SessionId int, UndoesMergeRunId bigint, UndoneByMergeRunId bigint
                (as in api.MergeRun_List),
                SummaryJson nvarchar(max) (array of {ApplyOrder, SchemaName, TableName, ColumnName, Policy,
                Moved, Merged, Deleted, Conflicts}; NULL when the run stopped before the work),
                JournalJson nvarchar(max) (array of {SchemaName, TableName, ColumnName, Action, JournalRows}
                grouped by the policy served; the run's own 'locked' changes of the two user rows are not a policy's
                and are counted as LockedRows, and an unmerge's restores of them, which serve no policy either, are
                not counted; NULL when nothing was journaled),
                LockedRows int,
                AddressesJson nvarchar(max) (array of {SchemaName, TableName, ColumnName, Address, Rows,
                HeldByUserId}; NULL when no readdress row changed)
  Errors:       51110 @MergeRunId is missing
                51112 no merge run has that id
  Example:      EXEC api.MergeRun_Get @MergeRunId = 17;
*/
CREATE OR ALTER PROCEDURE api.MergeRun_Get
    @MergeRunId bigint
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF @MergeRunId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.MergeRun_Get: @MergeRunId is required.');
            THROW 51110, @Message, 1;
        END;

        IF NOT EXISTS (SELECT 1 FROM dbmerge.MergeRun AS r WHERE r.MergeRunId = @MergeRunId)
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.MergeRun_Get: merge run %s does not exist.', CONVERT(nvarchar(20), @MergeRunId));
            THROW 51112, @Message, 1;
        END;

        /* Address: JSON_VALUE returns its input's collation (dbmerge.MergeChange.BeforeImage: the database default);
           compared with app.User.Email (Latin1_General_100_CI_AS, migration 0002) two different implicit collations are
           error 468 at compile time, so the address takes the e-mail columns' collation explicitly (case-insensitive,
           as the merge compares addresses). */
        SELECT r.MergeRunId, ISNULL(r.Kind, 'merge') AS Kind, r.SourceUserId, r.TargetUserId, r.RequestedBy, r.Reason, r.IsDryRun,
               CONVERT(varchar(10), CASE WHEN r.Status = 'running'
                                         THEN CASE WHEN APPLOCK_TEST(N'public', CONCAT(N'DbMerge.MergeRun:', r.MergeRunId), N'Exclusive', N'Session') = 1
                                                   THEN 'abandoned' ELSE 'running' END
                                         WHEN r.Status = 'committed' AND ub.MergeRunId IS NOT NULL THEN 'undone'
                                         ELSE r.Status END) AS Status,
               CONVERT(nvarchar(400), CASE WHEN r.Status = 'running'
                                           THEN CASE WHEN APPLOCK_TEST(N'public', CONCAT(N'DbMerge.MergeRun:', r.MergeRunId), N'Exclusive', N'Session') = 1
                                                     THEN CONCAT(N'abandoned: the row says running but session ', r.SessionId, N' no longer holds applock DbMerge.MergeRun:', r.MergeRunId,
                                                                 N' (the session ended: killed, timed out or disconnected); its merge transaction was rolled back')
                                                     ELSE CONCAT(N'running: session ', r.SessionId, N' holds applock DbMerge.MergeRun:', r.MergeRunId) END
                                           WHEN r.Status = 'committed' AND ub.MergeRunId IS NOT NULL
                                           THEN CONCAT(N'undone: unmerge run ', ub.MergeRunId, N' restored every row it journaled')
                                           END) AS StatusDetail,
               r.StartedAt, r.FinishedAt, r.ErrorNumber, r.ErrorMessage, r.SessionId, r.UndoesMergeRunId, ub.MergeRunId AS UndoneByMergeRunId, r.SummaryJson,
               (SELECT g.SchemaName, g.TableName, g.ColumnName, g.Action, SUM(g.JournalRows) AS JournalRows
                FROM (SELECT c.PolicySchemaName AS SchemaName, c.PolicyTableName AS TableName, c.PolicyColumnName AS ColumnName,
                             c.Action, COUNT_BIG(*) AS JournalRows
                      FROM dbmerge.MergeChange AS c
                      WHERE c.MergeRunId = r.MergeRunId AND c.Action <> 'locked' AND c.PolicyColumnName IS NOT NULL
                      GROUP BY c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName, c.Action
                      UNION ALL
                      SELECT j.PolicySchemaName, j.PolicyTableName, j.PolicyColumnName, j.Action, COUNT_BIG(*)
                      FROM dbmerge.MergeJournal AS j
                      WHERE j.MergeRunId = r.MergeRunId
                      GROUP BY j.PolicySchemaName, j.PolicyTableName, j.PolicyColumnName, j.Action) AS g
                GROUP BY g.SchemaName, g.TableName, g.ColumnName, g.Action
                ORDER BY g.SchemaName, g.TableName, g.ColumnName, g.Action
                FOR JSON PATH) AS JournalJson,
               (SELECT COUNT(*) FROM dbmerge.MergeChange AS c WHERE c.MergeRunId = r.MergeRunId AND c.Action = 'locked') AS LockedRows,
               (SELECT a.SchemaName, a.TableName, a.ColumnName, a.Address, COUNT(*) AS [Rows],
                       (SELECT TOP (1) u.UserId
                        FROM app.[User] AS u
                        WHERE u.Email = a.Address AND u.IsActive = 1 AND (r.SourceUserId IS NULL OR u.UserId <> r.SourceUserId) AND (r.TargetUserId IS NULL OR u.UserId <> r.TargetUserId)
                        ORDER BY u.UserId) AS HeldByUserId
                FROM (SELECT c.PolicySchemaName AS SchemaName, c.PolicyTableName AS TableName, c.PolicyColumnName AS ColumnName,
                             CONVERT(nvarchar(254), JSON_VALUE(c.BeforeImage, CONCAT(N'$."', c.PolicyColumnName, N'"'))) COLLATE Latin1_General_100_CI_AS AS Address
                      FROM dbmerge.MergeChange AS c
                      JOIN dbmerge.MergePolicy AS p
                        ON p.SchemaName = c.PolicySchemaName AND p.TableName = c.PolicyTableName AND p.ColumnName = c.PolicyColumnName
                      WHERE c.MergeRunId = r.MergeRunId AND p.Policy = 'readdress' AND c.TableName = c.PolicyTableName
                        AND ISNULL(r.Kind, 'merge') <> 'unmerge') AS a
                GROUP BY a.SchemaName, a.TableName, a.ColumnName, a.Address
                ORDER BY a.SchemaName, a.TableName, a.ColumnName, a.Address
                FOR JSON PATH) AS AddressesJson
        FROM dbmerge.MergeRun AS r
        OUTER APPLY (SELECT TOP (1) x.MergeRunId
                     FROM dbmerge.MergeRun AS x WITH (FORCESEEK (UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed (UndoesMergeRunId)))
                     WHERE x.UndoesMergeRunId = r.MergeRunId AND x.UndoesMergeRunId IS NOT NULL AND x.Status = 'committed'
                     ORDER BY x.MergeRunId) AS ub
        WHERE r.MergeRunId = @MergeRunId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
