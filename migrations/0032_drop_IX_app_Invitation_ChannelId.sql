/*
  0032_drop_IX_app_Invitation_ChannelId
  Why:   the next step (0033) makes ChannelId nullable. That ALTER COLUMN is metadata-only for the table's
         own rows (data rows always carry a NULL bitmap), but NOT for a nonclustered index whose key columns
         are all NOT NULL: SQL Server rebuilds such an index, offline and under the schema-modification lock,
         because its rows gain a NULL bitmap when ChannelId becomes its first nullable column (verified:
         dba.stackexchange "Changing a column from NOT NULL to NULL - what's going on under the hood" shows
         every leaf page of the index re-formatted). On a large table that is a size-of-data operation that
         blocks every reader and writer. So the index is dropped here, the column altered in 0033 (then truly
         metadata-only), and the index rebuilt ONLINE in 0034.
         Between 0032 and 0034 lookups by ChannelId (and the FK check when a channel is deleted) scan; the
         window lasts as long as the online build in 0034.
  Locks: Sch-M on app.Invitation for the catalog change only; the index's pages are deallocated afterwards
         (deferred drop for large indexes). Waits at most LOCK_TIMEOUT (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
DROP INDEX IX_app_Invitation_ChannelId ON app.Invitation;
GO
