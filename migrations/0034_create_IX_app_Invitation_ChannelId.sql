/*
  0034_create_IX_app_Invitation_ChannelId
  Why:   rebuilds the ChannelId index dropped in 0032 (lookups by channel, the FK check when a channel is
         deleted), now over the nullable column.
  Locks: on editions with online index operations (EngineEdition 3 = Enterprise/Developer/Evaluation,
         5 = Azure SQL Database, 8 = Azure SQL Managed Instance) the index is built ONLINE: a short shared
         lock at the start and a short Sch-M lock at the end, reads and writes continue meanwhile. Other
         editions build it offline (a shared lock on the table for the whole build: writers wait) and print a
         warning so the DBA can schedule it. Each lock wait is bounded by LOCK_TIMEOUT (1222 → retried).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
IF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)
BEGIN
    CREATE NONCLUSTERED INDEX IX_app_Invitation_ChannelId ON app.Invitation (ChannelId) WITH (ONLINE = ON);
END
ELSE
BEGIN
    PRINT N'warning: this edition has no online index operations; building IX_app_Invitation_ChannelId offline (writers to app.Invitation wait for the build).';
    CREATE NONCLUSTERED INDEX IX_app_Invitation_ChannelId ON app.Invitation (ChannelId);
END
GO
