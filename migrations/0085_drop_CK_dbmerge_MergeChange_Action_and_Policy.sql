/*
  0085_drop_CK_dbmerge_MergeChange_Action_and_Policy
  Why:   the journal checks of 0040 (Action moved | merged | deleted | locked; a policy exactly when not locked) would
         refuse an unmerge's journal rows (issue 14); they are superseded by CK_dbmerge_MergeChange_Action_Unmerge and
         CK_dbmerge_MergeChange_Policy_Unmerge (0084), already enforced. One logical change: both superseded checks go.
  Locks: Sch-M on dbmerge.MergeChange for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeChange DROP CONSTRAINT CK_dbmerge_MergeChange_Action;
GO
ALTER TABLE dbmerge.MergeChange DROP CONSTRAINT CK_dbmerge_MergeChange_Policy;
GO
