SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.MergeRun_Get
  Purpose:      one user merge run with its summary and, for a committed run, the journal's row counts per
                policy and action (so a caller can check the summary against the journal).
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   one row: MergeRunId bigint, SourceUserId int, TargetUserId int, RequestedBy nvarchar(128),
                Reason nvarchar(400), IsDryRun bit, Status varchar(10), StartedAt datetime2(3),
                FinishedAt datetime2(3), ErrorNumber int, ErrorMessage nvarchar(2048),
                SummaryJson nvarchar(max) (array of {ApplyOrder, SchemaName, TableName, ColumnName, Policy,
                Moved, Merged, Deleted, Conflicts}; NULL when the run stopped before the work),
                JournalJson nvarchar(max) (array of {SchemaName, TableName, ColumnName, Action, JournalRows}
                grouped by the policy served; NULL when nothing was journaled)
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

        SELECT r.MergeRunId, r.SourceUserId, r.TargetUserId, r.RequestedBy, r.Reason, r.IsDryRun, r.Status,
               r.StartedAt, r.FinishedAt, r.ErrorNumber, r.ErrorMessage, r.SummaryJson,
               (SELECT j.PolicySchemaName AS SchemaName, j.PolicyTableName AS TableName, j.PolicyColumnName AS ColumnName,
                       j.Action, COUNT_BIG(*) AS JournalRows
                FROM dbmerge.MergeJournal AS j
                WHERE j.MergeRunId = r.MergeRunId
                GROUP BY j.PolicySchemaName, j.PolicyTableName, j.PolicyColumnName, j.Action
                ORDER BY j.PolicySchemaName, j.PolicyTableName, j.PolicyColumnName, j.Action
                FOR JSON PATH) AS JournalJson
        FROM dbmerge.MergeRun AS r
        WHERE r.MergeRunId = @MergeRunId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
