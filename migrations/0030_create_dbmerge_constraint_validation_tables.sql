/*
  0030_create_dbmerge_constraint_validation_tables
  Why:   batched validation of untrusted CHECK and FOREIGN KEY constraints (DESIGN section 6). One progress
         row per constraint (where the keyset walk stopped, how many rows it checked, how many violations it
         found, when it started and finished) so `dbmerge constraints validate` resumes where it stopped,
         and one row per violating table row (the row's clustered key and the constrained columns as JSON)
         so an operator can find and fix the data before `dbmerge constraints trust`.
         A constraint is identified by schema and name (constraint names are unique per schema);
         ConstraintObjectId detects a constraint that was dropped and re-created since it was validated.
         Status: running (LastKey is where the next batch starts; NULL = from the beginning) | done.
         TrustedAt is set by dbmerge.Constraint_Trust.
  Locks: creates two new tables; no existing table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE TABLE dbmerge.ConstraintValidation
(
    ConstraintValidationId int           IDENTITY(1, 1) NOT NULL,
    SchemaName             sysname       NOT NULL,
    TableName              sysname       NOT NULL,
    ConstraintName         sysname       NOT NULL,
    ConstraintType         varchar(11)   NOT NULL,
    ConstraintObjectId     int           NOT NULL,
    KeyColumn              sysname       NOT NULL,
    LastKey                bigint        NULL,
    RowsChecked            bigint        NOT NULL CONSTRAINT DF_dbmerge_ConstraintValidation_RowsChecked DEFAULT (0),
    ViolationCount         bigint        NOT NULL CONSTRAINT DF_dbmerge_ConstraintValidation_ViolationCount DEFAULT (0),
    Status                 varchar(10)   NOT NULL CONSTRAINT DF_dbmerge_ConstraintValidation_Status DEFAULT ('running'),
    StartedAt              datetime2(3)  NOT NULL CONSTRAINT DF_dbmerge_ConstraintValidation_StartedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt              datetime2(3)  NOT NULL CONSTRAINT DF_dbmerge_ConstraintValidation_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    FinishedAt             datetime2(3)  NULL,
    TrustedAt              datetime2(3)  NULL,
    CONSTRAINT PK_dbmerge_ConstraintValidation PRIMARY KEY CLUSTERED (ConstraintValidationId),
    CONSTRAINT UQ_dbmerge_ConstraintValidation_SchemaName_ConstraintName UNIQUE (SchemaName, ConstraintName),
    CONSTRAINT CK_dbmerge_ConstraintValidation_ConstraintType CHECK (ConstraintType IN ('CHECK', 'FOREIGN KEY')),
    CONSTRAINT CK_dbmerge_ConstraintValidation_Status CHECK (Status IN ('running', 'done')),
    CONSTRAINT CK_dbmerge_ConstraintValidation_Counts CHECK (RowsChecked >= 0 AND ViolationCount >= 0 AND ViolationCount <= RowsChecked),
    CONSTRAINT CK_dbmerge_ConstraintValidation_Finished CHECK ((Status = 'done' AND FinishedAt IS NOT NULL) OR (Status = 'running' AND FinishedAt IS NULL))
);
GO
CREATE TABLE dbmerge.ConstraintViolation
(
    ConstraintViolationId  bigint         IDENTITY(1, 1) NOT NULL,
    ConstraintValidationId int            NOT NULL,
    KeyValue               bigint         NOT NULL,
    RowValues              nvarchar(max)  NULL,
    FoundAt                datetime2(3)   NOT NULL CONSTRAINT DF_dbmerge_ConstraintViolation_FoundAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_dbmerge_ConstraintViolation PRIMARY KEY CLUSTERED (ConstraintViolationId),
    CONSTRAINT FK_dbmerge_ConstraintViolation_ConstraintValidationId_dbmerge_ConstraintValidation FOREIGN KEY (ConstraintValidationId) REFERENCES dbmerge.ConstraintValidation (ConstraintValidationId),
    CONSTRAINT UQ_dbmerge_ConstraintViolation_ConstraintValidationId_KeyValue UNIQUE (ConstraintValidationId, KeyValue),
    CONSTRAINT CK_dbmerge_ConstraintViolation_RowValues_IsJson CHECK (RowValues IS NULL OR ISJSON(RowValues) = 1)
);
GO
