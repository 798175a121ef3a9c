/*
  0038_add_CK_app_Invitation_ShareMode_ForTarget
  Why:   share mode admin exists for organization invitations only (seeds/004); view and edit for both.
         This replaces CK_app_Invitation_ShareMode (view | edit), which 0039 drops. The new check is added
         first so there is never a moment without a share-mode check (while both exist, the old, stricter one
         still refuses admin; that lasts until 0039). Added WITH NOCHECK: new and changed rows are checked at
         once, existing rows are not read (every existing row satisfied the old, trusted check, which implies
         this one; `dbmerge constraints validate` proves it before `trust`).
  Locks: Sch-M on app.Invitation for the catalog change only; no scan. Waits at most LOCK_TIMEOUT
         (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation WITH NOCHECK
    ADD CONSTRAINT CK_app_Invitation_ShareMode_ForTarget
        CHECK (ShareMode IN ('view', 'edit') OR (ShareMode = 'admin' AND OrganizationId IS NOT NULL));
GO
