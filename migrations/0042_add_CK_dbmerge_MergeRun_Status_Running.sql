/*
  0042_add_CK_dbmerge_MergeRun_Status_Running
  Why:   a run's row is written at its start with status running and ends committed, dry-run, refused or failed
         (issue 9); abandoned is not stored: api.MergeRun_List/Get derive it from a running row whose session no longer
         holds the run's applock. The new check replaces CK_dbmerge_MergeRun_Status (0011), which 0043 drops; it is
         added first so there is never a moment without a status check (while both exist the old, stricter one still
         refuses running; that lasts until 0043). The kind check belongs to the column added in 0041.
         Added WITH NOCHECK: new and changed rows are checked at once, existing rows are not read (every existing
         row satisfied the old, trusted check, which implies this one; Kind is NULL in every existing row).
  Locks: Sch-M on dbmerge.MergeRun for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeRun_Status_Running
        CHECK (Status IN ('running', 'committed', 'dry-run', 'failed', 'refused'));
GO
ALTER TABLE dbmerge.MergeRun WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeRun_Kind
        CHECK (Kind IS NULL OR Kind IN ('merge', 'sweep'));
GO
