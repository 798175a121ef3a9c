SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.MergeRun_List
  Purpose:      lists user merge, sweep and unmerge runs (dbmerge.MergeRun), newest first, optionally only those where
                @UserId was the source or the target.
                Status is what the run is now: running, committed, dry-run, refused, failed — or undone: a committed
                merge or sweep that a committed unmerge undid (UndoneByMergeRunId names it) — or abandoned: the row
                still says running, but the run's session no longer holds its applock DbMerge.MergeRun:<id>
                (APPLOCK_TEST, allowed to every user: the session ended — killed, timed out, disconnected — before
                the run finished, so its merge transaction was rolled back and changed nothing). StatusDetail says how
                that is known (and, for a running run, which session holds it; for an undone run, which unmerge).
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   MergeRunId bigint, Kind varchar(10) (merge | sweep | unmerge), SourceUserId int, TargetUserId int,
                RequestedBy nvarchar(128), Reason nvarchar(400), IsDryRun bit, Status varchar(10),
                StatusDetail nvarchar(400), StartedAt datetime2(3), FinishedAt datetime2(3), ErrorNumber int,
                ErrorMessage nvarchar(2048), SessionId int, UndoesMergeRunId bigint (an unmerge: the run it undoes),
                UndoneByMergeRunId bigint (a committed run that is undone: the committed unmerge that undid it; seeks
                UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed per listed run)
  Errors:       51110 @Top is missing or not 1..10000
  Example:      EXEC api.MergeRun_List @UserId = 42, @Top = 50;
*/
CREATE OR ALTER PROCEDURE api.MergeRun_List
    @UserId int = NULL,
    @Top    int = 100
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF @Top IS NULL OR @Top NOT BETWEEN 1 AND 10000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.MergeRun_List: @Top must be 1..10000 (got %s).', ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        SELECT r.MergeRunId, r.Kind, r.SourceUserId, r.TargetUserId, r.RequestedBy, r.Reason, r.IsDryRun,
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
               r.StartedAt, r.FinishedAt, r.ErrorNumber, r.ErrorMessage, r.SessionId, r.UndoesMergeRunId, ub.MergeRunId AS UndoneByMergeRunId
        FROM (SELECT TOP (@Top) m.MergeRunId, ISNULL(m.Kind, 'merge') AS Kind, m.SourceUserId, m.TargetUserId, m.RequestedBy, m.Reason,
                     m.IsDryRun, m.Status, m.StartedAt, m.FinishedAt, m.ErrorNumber, m.ErrorMessage, m.SessionId, m.UndoesMergeRunId
              FROM dbmerge.MergeRun AS m
              WHERE @UserId IS NULL OR m.SourceUserId = @UserId OR m.TargetUserId = @UserId
              ORDER BY m.MergeRunId DESC) AS r
        OUTER APPLY (SELECT TOP (1) x.MergeRunId
                     FROM dbmerge.MergeRun AS x WITH (FORCESEEK (UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed (UndoesMergeRunId)))
                     WHERE x.UndoesMergeRunId = r.MergeRunId AND x.UndoesMergeRunId IS NOT NULL AND x.Status = 'committed'
                     ORDER BY x.MergeRunId) AS ub
        ORDER BY r.MergeRunId DESC
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
