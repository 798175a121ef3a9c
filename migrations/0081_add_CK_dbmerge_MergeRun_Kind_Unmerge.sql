/*
  0081_add_CK_dbmerge_MergeRun_Kind_Unmerge
  Why:   a run's kind may now be unmerge (issue 14, api.User_Unmerge). CK_dbmerge_MergeRun_Kind_Unmerge replaces
         CK_dbmerge_MergeRun_Kind (0042: merge | sweep), which 0082 drops; it is added first so there is never a moment
         without a kind check (while both exist the old, stricter one still refuses unmerge; that lasts until 0082).
         CK_dbmerge_MergeRun_UndoesMergeRunId: an unmerge names the run it undoes (0080), no other kind does (a NULL
         kind is a merge written before 0041). Written with CASE so that a NULL kind cannot make it UNKNOWN (a CHECK
         passes on UNKNOWN).
         Both WITH NOCHECK: new and changed rows are checked at once, existing rows are not read (every existing row
         satisfied the old, trusted kind check, which implies the new one, and UndoesMergeRunId is NULL in every
         existing row, added by 0080).
  Locks: Sch-M on dbmerge.MergeRun for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeRun_Kind_Unmerge
        CHECK (Kind IS NULL OR Kind IN ('merge', 'sweep', 'unmerge'));
GO
ALTER TABLE dbmerge.MergeRun WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeRun_UndoesMergeRunId
        CHECK (CASE WHEN Kind = 'unmerge'
                    THEN CASE WHEN UndoesMergeRunId IS NOT NULL THEN 1 ELSE 0 END
                    ELSE CASE WHEN UndoesMergeRunId IS NULL THEN 1 ELSE 0 END
               END = 1);
GO
