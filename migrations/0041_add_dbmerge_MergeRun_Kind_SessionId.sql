/*
  0041_add_dbmerge_MergeRun_Kind_SessionId
  Why:   a run's history row now exists from its start (issue 9): dbmerge.MergeRun_Start inserts it, status running,
         before the merge transaction. Kind says what the run is: merge (api.User_Merge, reconciliation processing)
         or sweep (api.User_Sweep: late references of a merged-away user re-pointed to the user it was merged into).
         SessionId is the session that ran it (@@SPID), shown when a run is reported abandoned. Both nullable: rows
         written before this migration read as NULL (a NULL Kind is a merge).
  Locks: metadata-only — nullable columns without a default are recorded in the catalog only; no row is read or
         rewritten. Sch-M on dbmerge.MergeRun for the catalog update only; waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergeRun ADD Kind varchar(10) NULL, SessionId int NULL;
GO
