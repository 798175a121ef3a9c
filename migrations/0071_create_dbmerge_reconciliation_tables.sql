/*
  0071_create_dbmerge_reconciliation_tables
  Why:   reconciliation requests (DESIGN §5, seeds/000, issue 12): an operator imports a CSV of people who hold
         two accounts; every (active e-mail, inactive e-mail) pair becomes a request; both addresses confirm
         with a one-time token; each confirmed request is merged on its own.
           ReconciliationImport     one row per imported file (name, SHA-256, who, when, outcome counts); the
                                    SHA-256 is unique: re-importing the same bytes finds the same import.
           ReconciliationImportRow  the outcome of every (line, pair) of an import (created / duplicate /
                                    conflict / error with its reason): a resumed or repeated import returns the
                                    recorded outcome instead of deciding again, and rejected rows stay known.
           ReconciliationRequest    one request per pair, with its status (state machine below), the users it
                                    resolved to at import, the confirmation times, the processing claim, the
                                    merge run and the last error. RequestId comes from a sequence so the import
                                    knows the ids before it writes (the outbox rows come first in the lock order).
           ReconciliationToken      one row per side of a request: only the SHA-256 of the token (32 random
                                    bytes from CRYPT_GEN_RANDOM); the plain token exists only in the undispatched
                                    outbox event. UsedAt makes it single use.
         Status machine, enforced by CK_dbmerge_ReconciliationRequest_Transition: every status change sets
         PreviousStatus to the old status, and only these (previous -> new) pairs are admitted:
           (none)               -> pending-confirmation   import
           pending-confirmation -> ready                  both sides confirmed (api.Reconciliation_Confirm)
           pending-confirmation -> expired                a token expired before both sides confirmed (claim sweep)
           pending-confirmation -> cancelled              api.Reconciliation_Cancel
           ready                -> processing             claimed by a processor (api.Reconciliation_Claim)
           ready                -> cancelled              api.Reconciliation_Cancel
           processing           -> done                   merged, in the merge's own transaction
           processing           -> error                  the merge failed (recorded after its rollback), or the
                                                          claim was abandoned
           error                -> processing             claimed again for a retry (--retry-errors)
         User ids are deliberately NOT foreign keys (like dbmerge.MergeRun): history must survive whatever later
         happens to the users, and a foreign key to app.User would need a merge policy.
         Indexes, one per predicate: IX_..._Status (Status, RequestId) serves the claim of the lowest ready id,
         the sweep of stale processing claims, list --status and the per-status counts; IX_..._PendingExpiresAt
         serves the expiry sweep; IX_..._ImportId serves list --import and the counts of one import;
         IX_..._SourceId serves the duplicate/conflict check by the CSV id; UQ_..._InactiveUserId_Open both
         serves and enforces "one open request per inactive account".
  Locks: creates new tables and a sequence; no existing table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE SEQUENCE dbmerge.ReconciliationRequestSequence AS int START WITH 1 INCREMENT BY 1 NO CYCLE;
GO
CREATE TABLE dbmerge.ReconciliationImport
(
    ImportId       int            IDENTITY(1, 1) NOT NULL,
    FileName       nvarchar(260)  NOT NULL,
    FileSha256     binary(32)     NOT NULL,
    ImportedBy     nvarchar(128)  NOT NULL,
    StartedAt      datetime2(3)   NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImport_StartedAt DEFAULT (SYSUTCDATETIME()),
    CompletedAt    datetime2(3)   NULL,
    TotalRows      int            NOT NULL,
    TotalPairs     int            NOT NULL,
    CreatedCount   int            NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImport_CreatedCount DEFAULT (0),
    DuplicateCount int            NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImport_DuplicateCount DEFAULT (0),
    ConflictCount  int            NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImport_ConflictCount DEFAULT (0),
    ErrorCount     int            NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImport_ErrorCount DEFAULT (0),
    CONSTRAINT PK_dbmerge_ReconciliationImport PRIMARY KEY CLUSTERED (ImportId),
    CONSTRAINT UQ_dbmerge_ReconciliationImport_FileSha256 UNIQUE (FileSha256),
    CONSTRAINT CK_dbmerge_ReconciliationImport_Totals CHECK (TotalRows >= 0 AND TotalPairs >= 0),
    CONSTRAINT CK_dbmerge_ReconciliationImport_Counts CHECK (CreatedCount + DuplicateCount + ConflictCount + ErrorCount <= TotalPairs),
    CONSTRAINT CK_dbmerge_ReconciliationImport_Completed CHECK (CompletedAt IS NULL OR CreatedCount + DuplicateCount + ConflictCount + ErrorCount = TotalPairs)
);
GO
CREATE TABLE dbmerge.ReconciliationRequest
(
    RequestId           int               NOT NULL,
    ImportId            int               NOT NULL,
    LineNumber          int               NOT NULL,
    PairNumber          smallint          NOT NULL,
    SourceId            nvarchar(100)     COLLATE Latin1_General_100_BIN2 NOT NULL,
    ActiveEmail         nvarchar(254)     COLLATE Latin1_General_100_CI_AS NOT NULL,
    InactiveEmail       nvarchar(254)     COLLATE Latin1_General_100_CI_AS NOT NULL,
    ActiveUserId        int               NOT NULL,
    InactiveUserId      int               NOT NULL,
    Status              varchar(20)       NOT NULL,
    PreviousStatus      varchar(20)       NULL,
    StatusChangedAt     datetime2(3)      NOT NULL,
    CreatedAt           datetime2(3)      NOT NULL,
    ExpiresAt           datetime2(3)      NOT NULL,
    ActiveConfirmedAt   datetime2(3)      NULL,
    InactiveConfirmedAt datetime2(3)      NULL,
    ClaimId             uniqueidentifier  NULL,
    ClaimedAt           datetime2(3)      NULL,
    ClaimedBy           nvarchar(128)     NULL,
    Attempts            int               NOT NULL CONSTRAINT DF_dbmerge_ReconciliationRequest_Attempts DEFAULT (0),
    MergeRunId          bigint            NULL,
    ErrorNumber         int               NULL,
    ErrorMessage        nvarchar(2048)    NULL,
    FinishedAt          datetime2(3)      NULL,
    CancelledBy         nvarchar(128)     NULL,
    CancelReason        nvarchar(400)     NULL,
    CONSTRAINT PK_dbmerge_ReconciliationRequest PRIMARY KEY CLUSTERED (RequestId),
    CONSTRAINT FK_dbmerge_ReconciliationRequest_ImportId_dbmerge_ReconciliationImport FOREIGN KEY (ImportId) REFERENCES dbmerge.ReconciliationImport (ImportId),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Status CHECK (Status IN ('pending-confirmation', 'ready', 'processing', 'done', 'error', 'expired', 'cancelled')),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Transition CHECK (
           (PreviousStatus IS NULL AND Status = 'pending-confirmation')
        OR (PreviousStatus = 'pending-confirmation' AND Status IN ('ready', 'expired', 'cancelled'))
        OR (PreviousStatus = 'ready' AND Status IN ('processing', 'cancelled'))
        OR (PreviousStatus = 'processing' AND Status IN ('done', 'error'))
        OR (PreviousStatus = 'error' AND Status = 'processing')),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_DistinctUsers CHECK (ActiveUserId <> InactiveUserId),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Confirmed CHECK (Status IN ('pending-confirmation', 'expired', 'cancelled')
        OR (ActiveConfirmedAt IS NOT NULL AND InactiveConfirmedAt IS NOT NULL)),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Claim CHECK (Status <> 'processing' OR (ClaimId IS NOT NULL AND ClaimedAt IS NOT NULL)),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Done CHECK (Status <> 'done' OR MergeRunId IS NOT NULL),
    CONSTRAINT CK_dbmerge_ReconciliationRequest_Error CHECK (Status <> 'error' OR ErrorNumber IS NOT NULL)
);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_ReconciliationRequest_Status ON dbmerge.ReconciliationRequest (Status, RequestId);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_ReconciliationRequest_PendingExpiresAt ON dbmerge.ReconciliationRequest (ExpiresAt) WHERE Status = 'pending-confirmation';
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_ReconciliationRequest_ImportId ON dbmerge.ReconciliationRequest (ImportId, RequestId) INCLUDE (Status);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_ReconciliationRequest_SourceId ON dbmerge.ReconciliationRequest (SourceId, InactiveEmail) INCLUDE (ActiveEmail, ImportId, LineNumber);
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_dbmerge_ReconciliationRequest_InactiveUserId_Open ON dbmerge.ReconciliationRequest (InactiveUserId)
    INCLUDE (ActiveUserId, SourceId)
    WHERE Status IN ('pending-confirmation', 'ready', 'processing', 'error');
GO
CREATE TABLE dbmerge.ReconciliationToken
(
    RequestId  int           NOT NULL,
    Side       varchar(8)    NOT NULL,
    TokenHash  binary(32)    NOT NULL,
    CreatedAt  datetime2(3)  NOT NULL,
    UsedAt     datetime2(3)  NULL,
    CONSTRAINT PK_dbmerge_ReconciliationToken PRIMARY KEY CLUSTERED (RequestId, Side),
    CONSTRAINT FK_dbmerge_ReconciliationToken_RequestId_dbmerge_ReconciliationRequest FOREIGN KEY (RequestId) REFERENCES dbmerge.ReconciliationRequest (RequestId),
    CONSTRAINT CK_dbmerge_ReconciliationToken_Side CHECK (Side IN ('active', 'inactive'))
);
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_dbmerge_ReconciliationToken_TokenHash ON dbmerge.ReconciliationToken (TokenHash);
GO
CREATE TABLE dbmerge.ReconciliationImportRow
(
    ImportId      int            NOT NULL,
    LineNumber    int            NOT NULL,
    PairNumber    smallint       NOT NULL,
    SourceId      nvarchar(100)  COLLATE Latin1_General_100_BIN2 NULL,
    ActiveEmail   nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
    InactiveEmail nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
    Outcome       varchar(10)    NOT NULL,
    Reason        nvarchar(400)  NULL,
    RequestId     int            NULL,
    RecordedAt    datetime2(3)   NOT NULL CONSTRAINT DF_dbmerge_ReconciliationImportRow_RecordedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_dbmerge_ReconciliationImportRow PRIMARY KEY CLUSTERED (ImportId, LineNumber, PairNumber),
    CONSTRAINT FK_dbmerge_ReconciliationImportRow_ImportId_dbmerge_ReconciliationImport FOREIGN KEY (ImportId) REFERENCES dbmerge.ReconciliationImport (ImportId),
    CONSTRAINT CK_dbmerge_ReconciliationImportRow_Outcome CHECK (Outcome IN ('created', 'duplicate', 'conflict', 'error')),
    CONSTRAINT CK_dbmerge_ReconciliationImportRow_Created CHECK (Outcome <> 'created' OR RequestId IS NOT NULL),
    CONSTRAINT CK_dbmerge_ReconciliationImportRow_Reason CHECK (Outcome IN ('created', 'duplicate') OR Reason IS NOT NULL)
);
GO
