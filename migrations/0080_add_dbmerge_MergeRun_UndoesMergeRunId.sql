/*
  0080_add_dbmerge_MergeRun_UndoesMergeRunId
  Why:   undo a merge (issue 14). An unmerge (api.User_Unmerge) is a run of its own in the history: a dbmerge.MergeRun
         row of kind unmerge (0081 widens the kind check) with its own journal in dbmerge.MergeChange. This column
         records which run it undoes (a committed merge or sweep); NULL for every other kind (CK in 0081). A merge is
         shown as undone when a committed unmerge row points at it (api.MergeRun_List / api.MergeRun_Get; the unique
         filtered index of 0083 allows at most one). Deliberately not a foreign key, like SourceUserId/TargetUserId:
         history rows are never deleted and must not constrain each other.
  Locks: metadata-only — a nullable column without a default is recorded in the catalog only; no row is read or
         rewritten. Sch-M on dbmerge.MergeRun for the catalog update only; waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun ADD UndoesMergeRunId bigint NULL;
GO
