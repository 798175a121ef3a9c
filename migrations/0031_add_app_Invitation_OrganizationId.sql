/*
  0031_add_app_Invitation_OrganizationId
  Why:   an invitation may target an organization instead of a channel (seeds/004, DESIGN section 4).
         The column is added nullable and without a default: existing rows read as NULL, nothing is written.
  Locks: a metadata-only change — a nullable column without a default is recorded in the catalog only; no
         row is read or rewritten. Takes a schema-modification (Sch-M) lock on app.Invitation for the catalog
         update only. Waits at most LOCK_TIMEOUT for it (error 1222 otherwise; the Migrator retries with backoff),
         so a long-running reader never makes this step queue every later query behind it for long.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE app.Invitation ADD OrganizationId int NULL;
GO
