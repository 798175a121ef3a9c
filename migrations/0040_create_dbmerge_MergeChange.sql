/*
  0040_create_dbmerge_MergeChange
  Why:   journal v2 of user merges and sweeps (issue 9): one row per row a run changed, deleted or inserted, with the
         row's full image before AND after the change and the change's sequence number within the run (ChangeSeq,
         1, 2, 3 … in the order the changes were made). Replaying the before-images in descending ChangeSeq order
         restores exactly the state before the run, also for a row changed twice (each change has its row, in order);
         the after-image is what the run left, so an undo (issue 14) can refuse to overwrite a later change.
         dbmerge.MergeJournal (0012: before-images only, no guaranteed order) keeps the runs written before this
         migration and is no longer written.
           Operation   insert (BeforeImage NULL) | update | delete (AfterImage NULL)
           Action      moved | merged | deleted: the change counted by the run's summary for the policy it served
                       (PolicySchemaName/PolicyTableName/PolicyColumnName; a merge-children policy also changes its
                       child tables); locked: the run's own change of both user rows (UpdatedAt) that takes their row
                       locks before any other work (no policy)
           RowKey      the row's primary key as a JSON object, as the change left it (the key before the change for a
                       delete)
           images      JSON objects of every stored column (computed columns excluded), FOR JSON PATH with
                       INCLUDE_NULL_VALUES
         The rows are inserted by dbmerge.User_MergeCore (generated) with INSERT … SELECT from table variables filled
         by OUTPUT … INTO per batch: OUTPUT INTO cannot target a table with foreign keys or CHECK constraints, and
         OUTPUT cannot build the JSON images (no subqueries).
  Locks: creates a new table; no existing table is touched (the foreign key takes a schema-stability lock on
         dbmerge.MergeRun for the catalog change only).
*/
CREATE TABLE dbmerge.MergeChange
(
    MergeRunId       bigint         NOT NULL,
    ChangeSeq        int            NOT NULL,
    SchemaName       sysname        NOT NULL,
    TableName        sysname        NOT NULL,
    Operation        varchar(6)     NOT NULL,
    Action           varchar(10)    NOT NULL,
    PolicySchemaName sysname        NULL,
    PolicyTableName  sysname        NULL,
    PolicyColumnName sysname        NULL,
    RowKey           nvarchar(400)  NOT NULL,
    BeforeImage      nvarchar(max)  NULL,
    AfterImage       nvarchar(max)  NULL,
    ChangedAt        datetime2(3)   NOT NULL,
    CONSTRAINT PK_dbmerge_MergeChange PRIMARY KEY CLUSTERED (MergeRunId, ChangeSeq),
    CONSTRAINT FK_dbmerge_MergeChange_MergeRunId_dbmerge_MergeRun FOREIGN KEY (MergeRunId) REFERENCES dbmerge.MergeRun (MergeRunId),
    CONSTRAINT CK_dbmerge_MergeChange_ChangeSeq CHECK (ChangeSeq > 0),
    CONSTRAINT CK_dbmerge_MergeChange_Operation CHECK (
        (Operation = 'insert' AND BeforeImage IS NULL AND AfterImage IS NOT NULL)
        OR (Operation = 'update' AND BeforeImage IS NOT NULL AND AfterImage IS NOT NULL)
        OR (Operation = 'delete' AND BeforeImage IS NOT NULL AND AfterImage IS NULL)),
    CONSTRAINT CK_dbmerge_MergeChange_Action CHECK (Action IN ('moved', 'merged', 'deleted', 'locked')),
    CONSTRAINT CK_dbmerge_MergeChange_Policy CHECK (
        (Action = 'locked' AND PolicySchemaName IS NULL AND PolicyTableName IS NULL AND PolicyColumnName IS NULL)
        OR (Action <> 'locked' AND PolicySchemaName IS NOT NULL AND PolicyTableName IS NOT NULL AND PolicyColumnName IS NOT NULL)),
    CONSTRAINT CK_dbmerge_MergeChange_BeforeImage_IsJson CHECK (BeforeImage IS NULL OR ISJSON(BeforeImage) = 1),
    CONSTRAINT CK_dbmerge_MergeChange_AfterImage_IsJson CHECK (AfterImage IS NULL OR ISJSON(AfterImage) = 1)
);
GO
