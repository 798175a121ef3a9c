SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_Counts
  Purpose:      how many reconciliation requests are in each status, overall or for one import (the summary
                table of `dbmerge reconciliations list`, the total of the progress bar of `process`).
                Operator-only. One row per status, zero included. One pass over one index: without @ImportId
                IX_dbmerge_ReconciliationRequest_Status (Status, RequestId), the narrowest, read in Status order
                (a stream aggregate); with @ImportId a seek of IX_dbmerge_ReconciliationRequest_ImportId
                (ImportId, RequestId) INCLUDE (Status). OPTION (RECOMPILE) picks the plan for the given filter.
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   seven rows, in the order of the state machine: Status varchar(20), Requests int
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
  Example:      EXEC api.Reconciliation_Counts @ImportId = 3;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_Counts
    @ImportId int = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);

    BEGIN TRY
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_Counts: %s is not a member of DbMergeOperator or db_owner; reconciliation requests are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        SELECT s.Status, ISNULL(c.Requests, 0) AS Requests
        FROM (VALUES (1, CONVERT(varchar(20), 'pending-confirmation')), (2, 'ready'), (3, 'processing'), (4, 'done'),
                     (5, 'error'), (6, 'expired'), (7, 'cancelled')) AS s (Position, Status)
        LEFT JOIN (SELECT r.Status, COUNT(*) AS Requests
                   FROM dbmerge.ReconciliationRequest AS r
                   WHERE @ImportId IS NULL OR r.ImportId = @ImportId
                   GROUP BY r.Status) AS c ON c.Status = s.Status
        ORDER BY s.Position
        OPTION (RECOMPILE);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
