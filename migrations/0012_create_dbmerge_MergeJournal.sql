/*
  0012_create_dbmerge_MergeJournal
  Why:   the before-image of every row a committed merge changed or deleted, written in the merge's own
         transaction, so a merge can be explained and later undone (DESIGN §5). One row per changed row:
         the policy it served (PolicySchemaName/PolicyTableName/PolicyColumnName), the table the row lives in
         (a merge-children policy also changes child tables), the action (moved | merged | deleted; counts
         match the run's summary), the primary key as JSON and the whole row before the change as JSON.
  Locks: creates a new table; no existing table is touched.
*/
CREATE TABLE dbmerge.MergeJournal
(
    MergeRunId       bigint          NOT NULL,
    MergeJournalId   bigint          IDENTITY(1, 1) NOT NULL,
    PolicySchemaName sysname         NOT NULL,
    PolicyTableName  sysname         NOT NULL,
    PolicyColumnName sysname         NOT NULL,
    TableName        nvarchar(261)   NOT NULL,
    Action           varchar(10)     NOT NULL,
    RowKey           nvarchar(400)   NOT NULL,
    BeforeImage      nvarchar(max)   NOT NULL,
    JournaledAt      datetime2(3)    NOT NULL CONSTRAINT DF_dbmerge_MergeJournal_JournaledAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_dbmerge_MergeJournal PRIMARY KEY CLUSTERED (MergeRunId, MergeJournalId),
    CONSTRAINT FK_dbmerge_MergeJournal_MergeRunId_dbmerge_MergeRun FOREIGN KEY (MergeRunId) REFERENCES dbmerge.MergeRun (MergeRunId),
    CONSTRAINT CK_dbmerge_MergeJournal_Action CHECK (Action IN ('moved', 'merged', 'deleted'))
);
GO
