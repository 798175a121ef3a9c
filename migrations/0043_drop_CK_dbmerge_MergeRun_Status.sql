/*
  0043_drop_CK_dbmerge_MergeRun_Status
  Why:   the old status check (committed | dry-run | failed | refused, 0011) would refuse the running row every run
         now writes at its start; it is superseded by CK_dbmerge_MergeRun_Status_Running (0042), already enforced.
  Locks: Sch-M on dbmerge.MergeRun for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun DROP CONSTRAINT CK_dbmerge_MergeRun_Status;
GO
