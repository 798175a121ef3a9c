SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Setting_List
  Purpose:      the settings DbMerge's procedures read at run time (dbmerge.Setting, migration 0070), by name:
                reconciliation.token_expiry_days, reconciliation.confirm_url_template,
                reconciliation.claim_timeout_minutes, outbox.retry_delay_seconds. None of them is secret, so any
                caller of the api schema may read them (`dbmerge status` shows them).
  Transaction:  none (a single read; it neither begins nor requires one).
  Result set:   Name varchar(100), Value nvarchar(2000), Description nvarchar(400), UpdatedAt datetime2(3),
                UpdatedBy nvarchar(128); ordered by Name.
  Errors:       none of its own.
  Example:      EXEC api.Setting_List;
*/
CREATE OR ALTER PROCEDURE api.Setting_List
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    BEGIN TRY
        /* A handful of rows: the clustered primary key in order. */
        SELECT s.Name, s.Value, s.Description, s.UpdatedAt, s.UpdatedBy
        FROM dbmerge.Setting AS s
        ORDER BY s.Name;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
