/*
  0082_drop_CK_dbmerge_MergeRun_Kind
  Why:   the old kind check (merge | sweep, 0042) would refuse the unmerge runs of issue 14; it is superseded by
         CK_dbmerge_MergeRun_Kind_Unmerge (0081), already enforced.
  Locks: Sch-M on dbmerge.MergeRun for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun DROP CONSTRAINT CK_dbmerge_MergeRun_Kind;
GO
