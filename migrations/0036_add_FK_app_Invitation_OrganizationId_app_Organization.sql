/*
  0036_add_FK_app_Invitation_OrganizationId_app_Organization
  Why:   an invitation's organization must exist. Added WITH NOCHECK: every new or changed row is checked at
         once, existing rows are not read (the constraint is created untrusted, is_not_trusted = 1).
         Existing rows are verified later, in batches, by `dbmerge constraints validate`; marking the
         constraint trusted is the separate operator step `dbmerge constraints trust`.
  Locks: Sch-M on app.Invitation and a schema-stability lock on app.Organization for the catalog change only;
         no scan. Waits at most LOCK_TIMEOUT (1222 → the Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation WITH NOCHECK
    ADD CONSTRAINT FK_app_Invitation_OrganizationId_app_Organization
        FOREIGN KEY (OrganizationId) REFERENCES app.Organization (OrganizationId);
GO
