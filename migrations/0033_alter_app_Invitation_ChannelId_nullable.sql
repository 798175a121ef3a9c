/*
  0033_alter_app_Invitation_ChannelId_nullable
  Why:   an invitation to an organization has no channel: ChannelId becomes nullable. Which of
         ChannelId / OrganizationId must be set is enforced by CK_app_Invitation_ExactlyOneTarget (0037).
  Locks: metadata-only. Relaxing NOT NULL to NULL with the same data type does not read or rewrite data
         rows (they always carry a NULL bitmap); the only index that contained ChannelId and would have been
         rebuilt (IX_app_Invitation_ChannelId, all key columns NOT NULL) was dropped in 0032. The foreign key
         FK_app_Invitation_ChannelId_app_Channel stays as it is (nullability change only, same type; its
         trusted state is unchanged). Sch-M on app.Invitation for the catalog change only; waits at most
         LOCK_TIMEOUT (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation ALTER COLUMN ChannelId int NULL;
GO
