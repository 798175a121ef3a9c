/*
  0084_add_CK_dbmerge_MergeChange_Action_Unmerge
  Why:   an unmerge (issue 14) journals its own changes in dbmerge.MergeChange under its own run id, so it can be
         explained (and, in principle, reversed) like a merge. Its actions:
           restored    a row the merge changed, set back to its before-image (Operation update)
           reinserted  a row the merge deleted, inserted again with its original key (Operation insert)
           removed     a row the merge inserted, deleted again (Operation delete; no merge inserts today)
           locked      the unmerge's own change of both user rows (UpdatedAt) that takes their row locks first
         A restored row carries the policy of the merge change it undid, or none when it undid the merge's own lock of
         the user rows (Action locked there). CK_dbmerge_MergeChange_Action_Unmerge and
         CK_dbmerge_MergeChange_Policy_Unmerge replace CK_dbmerge_MergeChange_Action and CK_dbmerge_MergeChange_Policy
         (0040), which 0085 drops; they are added first so there is never a moment without them (while both pairs
         exist the old, stricter ones still refuse the new actions; that lasts until 0085).
         WITH NOCHECK: new rows are checked at once; existing rows are not read (every existing row satisfied the old,
         trusted checks, which imply the new ones).
  Locks: Sch-M on dbmerge.MergeChange for the catalog change only; no scan. Waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeChange WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeChange_Action_Unmerge
        CHECK (Action IN ('moved', 'merged', 'deleted', 'locked', 'restored', 'reinserted', 'removed'));
GO
ALTER TABLE dbmerge.MergeChange WITH NOCHECK
    ADD CONSTRAINT CK_dbmerge_MergeChange_Policy_Unmerge
        CHECK (
            (Action = 'locked' AND PolicySchemaName IS NULL AND PolicyTableName IS NULL AND PolicyColumnName IS NULL)
            OR (Action IN ('moved', 'merged', 'deleted') AND PolicySchemaName IS NOT NULL AND PolicyTableName IS NOT NULL AND PolicyColumnName IS NOT NULL)
            OR (Action IN ('restored', 'reinserted', 'removed')
                AND ((PolicySchemaName IS NULL AND PolicyTableName IS NULL AND PolicyColumnName IS NULL)
                     OR (PolicySchemaName IS NOT NULL AND PolicyTableName IS NOT NULL AND PolicyColumnName IS NOT NULL))));
GO
