/*
  0008_create_dbmerge_Outbox
  Why:   side effects (e-mails, collaboration resets) are written as rows in the same transaction as the
         change that causes them; the runner drains them after commit. DedupeKey makes a retried write or a
         retried dispatch harmless. Claiming uses READPAST on the undispatched index.
  Locks: creates a new table; no existing table is touched.
*/
CREATE TABLE dbmerge.Outbox
(
    OutboxId     bigint         IDENTITY(1, 1) NOT NULL,
    EventType    varchar(100)   NOT NULL,
    DedupeKey    nvarchar(200)  NOT NULL,
    Payload      nvarchar(max)  NOT NULL,
    CreatedAt    datetime2(3)   NOT NULL CONSTRAINT DF_dbmerge_Outbox_CreatedAt DEFAULT (SYSUTCDATETIME()),
    ClaimedAt    datetime2(3)   NULL,
    ClaimedBy    nvarchar(128)  NULL,
    Attempts     int            NOT NULL CONSTRAINT DF_dbmerge_Outbox_Attempts DEFAULT (0),
    DispatchedAt datetime2(3)   NULL,
    CONSTRAINT PK_dbmerge_Outbox PRIMARY KEY CLUSTERED (OutboxId),
    CONSTRAINT UQ_dbmerge_Outbox_DedupeKey UNIQUE (DedupeKey),
    CONSTRAINT CK_dbmerge_Outbox_Payload_IsJson CHECK (ISJSON(Payload) = 1)
);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_Outbox_Undispatched ON dbmerge.Outbox (OutboxId) INCLUDE (ClaimedAt) WHERE DispatchedAt IS NULL;
GO
