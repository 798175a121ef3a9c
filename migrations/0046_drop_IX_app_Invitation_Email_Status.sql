/*
  0046_drop_IX_app_Invitation_Email_Status
  Why:   superseded by IX_app_Invitation_Email_Status_ChannelId_OrganizationId (0045: the same leading columns plus the
         invitation's target); keeping both would only cost every write to app.Invitation a second index update.
  Locks: Sch-M on app.Invitation for the catalog change only (the index's pages are deallocated afterwards, deferred);
         waits at most LOCK_TIMEOUT (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
DROP INDEX IX_app_Invitation_Email_Status ON app.Invitation;
GO
