/*
  0045_create_IX_app_Invitation_Email_Status_ChannelId_OrganizationId
  Why:   the user merge looks up, for each pending invitation of the source's address, the target address's pending
         invitation to the same channel or organization, and reduces duplicates for one target; with the target in the
         key that lookup seeks to the one row instead of reading every pending invitation of the address.
         It replaces IX_app_Invitation_Email_Status (same leading columns), which 0046 drops; api.Invitation_Create's
         duplicate check seeks on it too.
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
    CREATE NONCLUSTERED INDEX IX_app_Invitation_Email_Status_ChannelId_OrganizationId
        ON app.Invitation (Email, Status, ChannelId, OrganizationId) WITH (ONLINE = ON);
END
ELSE
BEGIN
    PRINT N'warning: this edition has no online index operations; building IX_app_Invitation_Email_Status_ChannelId_OrganizationId offline (writers to app.Invitation wait for the build).';
    CREATE NONCLUSTERED INDEX IX_app_Invitation_Email_Status_ChannelId_OrganizationId
        ON app.Invitation (Email, Status, ChannelId, OrganizationId);
END
GO
