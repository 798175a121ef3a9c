SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.MergeSummary_Rows
  Purpose:
    The rows of a merge run's summary (the @SummaryJson that dbmerge.User_MergeCore returns and dbmerge.MergeRun keeps
    in SummaryJson): one row per merge policy. The one place that reads the summary's JSON shape, for the result sets
    of api.User_Merge, api.User_Sweep and dbmerge.Reconciliation_ProcessOne. Inline table-valued function: callers
    order by ApplyOrder themselves (a function's rows have no order).
  Result: ApplyOrder smallint, SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128),
    Policy varchar(20), Moved int, Merged int, Deleted int, Conflicts int (meanings in dbmerge.User_MergeCore);
    no row when @SummaryJson is NULL or an empty array.
  Transaction: none. Errors: none (the summary is produced by the core; OPENJSON raises 13609 on text that is not JSON).
  Example:
    SELECT s.SchemaName, s.TableName, s.Moved FROM dbmerge.MergeSummary_Rows(@SummaryJson) AS s ORDER BY s.ApplyOrder;
*/
CREATE OR ALTER FUNCTION dbmerge.MergeSummary_Rows
(
    @SummaryJson nvarchar(max)
)
RETURNS TABLE
AS
RETURN
(
    SELECT j.ApplyOrder, j.SchemaName, j.TableName, j.ColumnName, j.Policy, j.Moved, j.Merged, j.Deleted, j.Conflicts
    FROM OPENJSON(@SummaryJson)
         WITH (ApplyOrder smallint, SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128), Policy varchar(20),
               Moved int, Merged int, Deleted int, Conflicts int) AS j
);
GO
