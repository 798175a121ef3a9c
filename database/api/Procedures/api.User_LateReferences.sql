SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_LateReferences
  Purpose:      how many late references exist, per merge policy: rows written after a merge committed that still
                reference a merged-away user, or pending invitations addressed to a merged-away user's e-mail that no
                active user holds (the generated dbmerge.User_LateReferenceCounts: merged-away users × one seek per
                referencing column). `dbmerge status` shows them; `dbmerge users sweep` re-points them.
  Transaction:  none (reads only).
  Result set:   ApplyOrder smallint, SchemaName sysname, TableName sysname, ColumnName sysname, Policy varchar(20),
                MergedAwayUsers bigint, ReferencingRows bigint — one row per policy, in ApplyOrder.
  Errors:       none of its own.
  Example:      EXEC api.User_LateReferences;
*/
CREATE OR ALTER PROCEDURE api.User_LateReferences
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    BEGIN TRY
        EXEC dbmerge.User_LateReferenceCounts;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
