/*
  0037_add_CK_app_Invitation_ExactlyOneTarget
  Why:   an invitation targets exactly one of a channel or an organization (seeds/004). Added WITH NOCHECK:
         every new or changed row is checked at once (error 547), existing rows are not read (the constraint
         is created untrusted). Existing rows are verified by `dbmerge constraints validate`; trusting it is
         the separate operator step `dbmerge constraints trust`.
  Locks: Sch-M on app.Invitation for the catalog change only; no scan. Waits at most LOCK_TIMEOUT
         (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation WITH NOCHECK
    ADD CONSTRAINT CK_app_Invitation_ExactlyOneTarget
        CHECK ((ChannelId IS NOT NULL AND OrganizationId IS NULL) OR (ChannelId IS NULL AND OrganizationId IS NOT NULL));
GO
