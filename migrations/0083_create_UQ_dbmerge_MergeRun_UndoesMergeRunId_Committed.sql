/*
  0083_create_UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed
  Why:   issue 14. A run is undone when a committed unmerge row points at it (UndoesMergeRunId, 0080). This unique
         filtered index makes "undone at most once" a constraint, not only a check: api.User_Unmerge refuses to undo a
         run twice (51144, checked under the users' applocks), and should that check ever be bypassed, the second
         unmerge's own status change to committed fails here (2601) and rolls the whole unmerge back. It is also the
         seek of every "is this run undone, and by which run?" lookup (api.MergeRun_List, api.MergeRun_Get,
         dbmerge.User_UnmergeCore), whose predicates repeat the filter (UndoesMergeRunId IS NOT NULL AND Status =
         'committed') so the filtered index serves them. Only committed unmerges are in it: refused, failed, dry-run
         and running unmerges of the same run may be many.
  Locks: dbmerge.MergeRun holds one row per run (thousands, not millions) and no row qualifies for the filter yet.
         On editions with online index operations (EngineEdition 3 = Enterprise/Developer/Evaluation, 5 = Azure SQL
         Database, 8 = Azure SQL Managed Instance) the index is built ONLINE (a short shared lock at the start and a
         short Sch-M lock at the end); other editions build it offline — a shared lock on dbmerge.MergeRun while the
         table is read once: merge runs starting meanwhile (dbmerge.MergeRun_Start) wait that long — and print a
         warning. Each lock wait is bounded by LOCK_TIMEOUT (1222 → the Migrator retries). One index per migration.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
IF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)
BEGIN
    CREATE UNIQUE NONCLUSTERED INDEX UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed ON dbmerge.MergeRun (UndoesMergeRunId)
        WHERE UndoesMergeRunId IS NOT NULL AND Status = 'committed' WITH (ONLINE = ON);
END
ELSE
BEGIN
    PRINT N'warning: this edition has no online index operations; building UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed offline (runs starting meanwhile wait for the build of this small table).';
    CREATE UNIQUE NONCLUSTERED INDEX UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed ON dbmerge.MergeRun (UndoesMergeRunId)
        WHERE UndoesMergeRunId IS NOT NULL AND Status = 'committed';
END
GO
