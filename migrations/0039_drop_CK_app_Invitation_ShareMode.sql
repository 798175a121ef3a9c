/*
  0039_drop_CK_app_Invitation_ShareMode
  Why:   the old share-mode check (view | edit) would refuse admin invitations to organizations; it is
         superseded by CK_app_Invitation_ShareMode_ForTarget (0038), which is already enforced.
  Locks: Sch-M on app.Invitation for the catalog change only; no scan. Waits at most LOCK_TIMEOUT
         (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation DROP CONSTRAINT CK_app_Invitation_ShareMode;
GO
