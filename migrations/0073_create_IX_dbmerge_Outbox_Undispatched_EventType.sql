/*
  0073_create_IX_dbmerge_Outbox_Undispatched_EventType
  Why:   `dbmerge outbox drain --type T` claims the oldest undispatched events of one type. The existing
         IX_dbmerge_Outbox_Undispatched (OutboxId) serves the claim without a type; with a type it would read
         every undispatched event of the other types first (after an import of 100,000 requests: 200,000
         confirmation events). This filtered index seeks (EventType = T, OutboxId ascending) among the
         undispatched rows only, and includes ClaimedAt for the retry-delay test.
  Locks: on editions with online index operations (EngineEdition 3 = Enterprise/Developer/Evaluation,
         5 = Azure SQL Database, 8 = Azure SQL Managed Instance) the index is built ONLINE: a short shared
         lock at the start and a short Sch-M lock at the end, reads and writes continue meanwhile. Other
         editions build it offline (a shared lock on dbmerge.Outbox for the build: writers of events wait;
         the filtered index covers only undispatched rows, so the build reads the table but writes little)
         and print a warning. Each lock wait is bounded by LOCK_TIMEOUT (1222 -> retried).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
IF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)
BEGIN
    CREATE NONCLUSTERED INDEX IX_dbmerge_Outbox_Undispatched_EventType ON dbmerge.Outbox (EventType, OutboxId) INCLUDE (ClaimedAt) WHERE DispatchedAt IS NULL WITH (ONLINE = ON);
END
ELSE
BEGIN
    PRINT N'warning: this edition has no online index operations; building IX_dbmerge_Outbox_Undispatched_EventType offline (writers to dbmerge.Outbox wait for the build).';
    CREATE NONCLUSTERED INDEX IX_dbmerge_Outbox_Undispatched_EventType ON dbmerge.Outbox (EventType, OutboxId) INCLUDE (ClaimedAt) WHERE DispatchedAt IS NULL;
END
GO
