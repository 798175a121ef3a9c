/*
  0011_create_dbmerge_MergeRun
  Why:   history of user merges (DESIGN §5): every run, committed, dry run, refused or failed, gets a row with
         who, when, why, the outcome and a JSON summary per policy (moved, merged, deleted, conflicts).
         The run id comes from a sequence so api.User_Merge knows it before its transaction: the journal of a
         committed run references it, and a dry run or failed run writes its row after the rollback.
         SourceUserId/TargetUserId are deliberately NOT foreign keys: history must survive any later change
         to the users (and a foreign key to app.User would need a merge policy that rewrites history).
  Locks: creates a new sequence and table; no existing table is touched.
*/
CREATE SEQUENCE dbmerge.MergeRunSequence AS bigint START WITH 1 INCREMENT BY 1 NO CYCLE;
GO
CREATE TABLE dbmerge.MergeRun
(
    MergeRunId   bigint          NOT NULL,
    SourceUserId int             NULL,
    TargetUserId int             NULL,
    RequestedBy  nvarchar(128)   NOT NULL,
    Reason       nvarchar(400)   NULL,
    IsDryRun     bit             NOT NULL,
    Status       varchar(10)     NOT NULL,
    StartedAt    datetime2(3)    NOT NULL,
    FinishedAt   datetime2(3)    NULL,
    ErrorNumber  int             NULL,
    ErrorMessage nvarchar(2048)  NULL,
    SummaryJson  nvarchar(max)   NULL,
    CONSTRAINT PK_dbmerge_MergeRun PRIMARY KEY CLUSTERED (MergeRunId),
    CONSTRAINT CK_dbmerge_MergeRun_Status CHECK (Status IN ('committed', 'dry-run', 'failed', 'refused')),
    CONSTRAINT CK_dbmerge_MergeRun_SummaryJson_IsJson CHECK (SummaryJson IS NULL OR ISJSON(SummaryJson) = 1)
);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_MergeRun_SourceUserId ON dbmerge.MergeRun (SourceUserId) WHERE SourceUserId IS NOT NULL;
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_MergeRun_TargetUserId ON dbmerge.MergeRun (TargetUserId) WHERE TargetUserId IS NOT NULL;
GO
