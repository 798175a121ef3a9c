SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Constraint_ValidateBatch
  Purpose:
    Checks ONE keyset batch of the existing rows of an untrusted (is_not_trusted = 1) CHECK or FOREIGN KEY
    constraint, records each violating row in dbmerge.ConstraintViolation and advances the constraint's
    progress row in dbmerge.ConstraintValidation. The driver (DbMerge.Deployment ConstraintValidator,
    `dbmerge constraints validate`) calls it in a loop until Status = 'done'; each call is short, so a
    concurrent writer waits at most for one batch's shared row locks.
    - CHECK: a row violates when NOT (sys.check_constraints.definition) is TRUE. A definition that evaluates
      to UNKNOWN (NULL) passes, exactly as SQL Server enforces a CHECK.
    - FOREIGN KEY: a row violates when all of its FK columns are non-null and no parent row matches
      (SQL Server does not check a foreign key when any of its columns is NULL).
    - Keyset: rows are read TOP (@BatchSize) ordered by the table's clustered key, WHERE key > the stored
      LastKey, under READ COMMITTED (shared locks released row by row; with READ_COMMITTED_SNAPSHOT the read
      takes no shared locks at all). Never NOLOCK. Supported tables: the clustered index must be UNIQUE with a
      SINGLE key column of type tinyint, smallint, int or bigint (an IDENTITY primary key, the usual case).
      Heaps, composite or non-integer clustered keys are refused with 51402 naming the table.
    - Resume: progress is kept per constraint (schema + name); the next call continues after LastKey.
      @Restart = 1 starts over: the constraint's recorded violations are deleted and the counters reset.
      A constraint dropped and re-created since (different object_id) or whose table's clustered key column
      changed is also started over. A finished constraint (Status = 'done') is not read again; the call
      returns its progress row with BatchRows = 0.
    - Rows written after the constraint was created are enforced by the constraint itself; rows fixed after
      they were recorded stay recorded until a --restart run (re-validation recomputes from scratch).
    Permissions (the caller's, checked before anything is read): member of DbMergeOperator or db_owner (51404).
    Catalog views show the caller only what it may see, and the statement over the validated table is dynamic SQL
    (no ownership chaining), so the caller also needs, on the validated table, SELECT (51413) and, for a CHECK,
    VIEW DEFINITION (without it sys.check_constraints.definition is NULL: 51411); for a FOREIGN KEY, SELECT on the
    referenced table (not visible: 51412; visible but not readable: 51413). db_owner has all of these. A statement
    that still could not be built is 51414: nothing is ever reported "done" without the rows having been read.
    The row estimate comes from sys.partitions (no VIEW DATABASE STATE needed); NULL when unknown. No other catalog
    view needs more than that either (no DMV; not sys.sql_expression_dependencies, which only db_owner may read by default).
  Transaction: owns its transaction (one short transaction per call: lock the progress row, read the batch,
    record its violations, advance the progress). Called inside an open transaction, or with
    IMPLICIT_TRANSACTIONS ON, it refuses (51410) before anything else, without touching the caller's transaction
    (XACT_ABORT is switched off for that refusal only): inside one, the batch's shared locks would be held until
    the caller commits.
  Result set (one row):
    SchemaName sysname, TableName sysname, ConstraintName sysname, ConstraintType varchar(11) ('CHECK' |
    'FOREIGN KEY'), KeyColumn sysname, Status varchar(10) ('running' | 'done'), LastKey bigint NULL,
    RowsChecked bigint, ViolationCount bigint, BatchRows int, BatchViolations int,
    EstimatedTotalRows bigint NULL (sys.partitions.rows of the table, approximate; NULL when unknown), StartedAt datetime2(3),
    UpdatedAt datetime2(3), FinishedAt datetime2(3) NULL
  Errors:
    51400  no CHECK or FOREIGN KEY constraint with that name in that schema (or the caller may not see it)
    51401  the constraint is already trusted: there is nothing to validate
    51402  the constraint's table has no unique single-column integer clustered key (heap, composite or
           non-integer key): keyset batches are not supported for it
    51403  @BatchSize outside 1..100000
    51404  the caller is not a member of DbMergeOperator or db_owner
    51408  @SchemaName or @ConstraintName is missing
    51411  the CHECK constraint's definition cannot be read by the caller (VIEW DEFINITION on the table is missing)
    51412  the foreign key's referenced table or its columns are not visible to the caller (no permission on it)
    51413  the caller lacks SELECT on the validated table or on the referenced table of a foreign key
    51414  the validation statement could not be built (a part of the constraint's metadata read as NULL)
    51410  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
  Example:
    EXEC dbmerge.Constraint_ValidateBatch @SchemaName = N'app', @ConstraintName = N'CK_app_Invitation_ExactlyOneTarget',
         @BatchSize = 5000, @Restart = 0;
*/
CREATE OR ALTER PROCEDURE dbmerge.Constraint_ValidateBatch
    @SchemaName     sysname,
    @ConstraintName sysname,
    @BatchSize      int = 5000,
    @Restart        bit = 0
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction, and under IMPLICIT_TRANSACTIONS ON, with XACT_ABORT OFF, before the TRY
       and before any statement that reads or writes a table. THROW honours XACT_ABORT (with it ON the THROW would
       roll the caller's work back) and the CATCH below rolls back; this procedure must refuse rather than do either.
       Under IMPLICIT_TRANSACTIONS ON the first table access would open a transaction (and BEGIN TRANSACTION would
       then nest inside it, @@TRANCOUNT 2), so COMMIT would leave the work and its locks open in the caller's
       session: hence the @@OPTIONS test, and hence nothing before this guard touches a table. IF, SET, DECLARE and
       THROW open no implicit transaction, so @@TRANCOUNT is unchanged when the error reaches the caller. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, schema ''%s'', constraint ''%s''); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(@SchemaName, N'NULL'), ISNULL(@ConstraintName, N'NULL'));
        THROW 51410, @OpenMessage, 1;
    END;

    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;

    DECLARE @Message            nvarchar(2048);
    DECLARE @ConstraintObjectId int;
    DECLARE @ParentObjectId     int;
    DECLARE @ConstraintType     varchar(11);
    DECLARE @IsNotTrusted       bit;
    DECLARE @Definition         nvarchar(max);
    DECLARE @TableName          sysname;
    DECLARE @KeyColumn          sysname;
    DECLARE @KeyType            sysname;
    DECLARE @KeyColumnCount     int;
    DECLARE @KeyIsUnique        int;
    DECLARE @EstimatedRows      bigint;
    DECLARE @Predicate          nvarchar(max);
    DECLARE @ColumnList         nvarchar(max);
    DECLARE @NotNullList        nvarchar(max);
    DECLARE @JoinList           nvarchar(max);
    DECLARE @ParentTable        nvarchar(520);  /* two QUOTENAMEd sysnames: variables truncate silently */
    DECLARE @ReferencedObjectId int;
    DECLARE @QualifiedTable     nvarchar(520);
    DECLARE @Sql                nvarchar(max);
    DECLARE @Params             nvarchar(200);
    DECLARE @ValidationId       int;
    DECLARE @StoredObjectId     int;
    DECLARE @StoredKeyColumn    sysname;
    DECLARE @Status             varchar(10);
    DECLARE @LastKey            bigint;
    DECLARE @BatchRows          int = 0;
    DECLARE @BatchViolations    int = 0;
    DECLARE @BatchLastKey       bigint;
    DECLARE @Current TABLE
    (
        ConstraintValidationId int         NOT NULL,
        ConstraintObjectId     int         NOT NULL,
        KeyColumn              sysname     NOT NULL,
        LastKey                bigint      NULL,
        Status                 varchar(10) NOT NULL
    );

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @SchemaName IS NULL OR LEN(@SchemaName) = 0 OR @ConstraintName IS NULL OR LEN(@ConstraintName) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: @SchemaName and @ConstraintName are required (got schema ''%s'', constraint ''%s'').',
                ISNULL(@SchemaName, N'NULL'), ISNULL(@ConstraintName, N'NULL'));
            THROW 51408, @Message, 1;
        END;

        IF @BatchSize IS NULL OR @BatchSize < 1 OR @BatchSize > 100000
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: @BatchSize must be between 1 and 100000 (got %s) for constraint %s.%s.',
                ISNULL(CONVERT(nvarchar(12), @BatchSize), N'NULL'), @SchemaName, @ConstraintName);
            THROW 51403, @Message, 1;
        END;

        SET @Restart = ISNULL(@Restart, 0);

        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: %s is not a member of DbMergeOperator or db_owner; constraint validation is operator-only (constraint %s.%s).',
                USER_NAME(), @SchemaName, @ConstraintName);
            THROW 51404, @Message, 1;
        END;

        /* 2. Resolve the constraint, its table and the table's clustered key. */
        SELECT @ConstraintObjectId = o.object_id,
               @ParentObjectId     = o.parent_object_id,
               @ConstraintType     = CASE o.type WHEN 'C' THEN 'CHECK' ELSE 'FOREIGN KEY' END,
               @SchemaName         = SCHEMA_NAME(o.schema_id),
               @ConstraintName     = o.name
        FROM sys.objects AS o
        WHERE o.schema_id = SCHEMA_ID(@SchemaName)
          AND o.name = @ConstraintName
          AND o.type IN ('C', 'F');

        IF @ConstraintObjectId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: no CHECK or FOREIGN KEY constraint %s.%s exists, or %s may not see it (validating needs SELECT and VIEW DEFINITION on its table).',
                @SchemaName, @ConstraintName, USER_NAME());
            THROW 51400, @Message, 1;
        END;

        SET @TableName = OBJECT_NAME(@ParentObjectId);
        SET @QualifiedTable = QUOTENAME(@SchemaName) + N'.' + QUOTENAME(@TableName);

        /* The batch is read by dynamic SQL in the caller's security context: refuse now rather than fail with 229 later. */
        IF ISNULL(HAS_PERMS_BY_NAME(@QualifiedTable, N'OBJECT', N'SELECT'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: %s lacks SELECT on table %s.%s (constraint %s); grant it SELECT on the table, or validate as db_owner.',
                USER_NAME(), @SchemaName, @TableName, @ConstraintName);
            THROW 51413, @Message, 1;
        END;

        SELECT @IsNotTrusted = cc.is_not_trusted, @Definition = cc.definition
        FROM sys.check_constraints AS cc
        WHERE cc.object_id = @ConstraintObjectId;

        SELECT @IsNotTrusted = fk.is_not_trusted
        FROM sys.foreign_keys AS fk
        WHERE fk.object_id = @ConstraintObjectId;

        IF @IsNotTrusted = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: constraint %s.%s on table %s.%s is already trusted; there is nothing to validate.',
                @SchemaName, @ConstraintName, @SchemaName, @TableName);
            THROW 51401, @Message, 1;
        END;

        SELECT @KeyColumnCount = COUNT(*),
               @KeyColumn      = MAX(c.name),
               @KeyType        = MAX(TYPE_NAME(c.system_type_id)),
               @KeyIsUnique    = MAX(CONVERT(int, i.is_unique))
        FROM sys.indexes AS i
        JOIN sys.index_columns AS ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal > 0
        JOIN sys.columns AS c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
        WHERE i.object_id = @ParentObjectId
          AND i.index_id = 1;

        IF @KeyColumnCount <> 1 OR @KeyIsUnique <> 1 OR @KeyType NOT IN (N'tinyint', N'smallint', N'int', N'bigint')
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: table %s.%s (constraint %s) has no unique single-column integer clustered key (found %d key column(s), type %s); keyset validation supports only tables clustered on one unique tinyint/smallint/int/bigint column.',
                @SchemaName, @TableName, @ConstraintName, @KeyColumnCount, ISNULL(@KeyType, N'none (heap)'));
            THROW 51402, @Message, 1;
        END;

        /* Optional and approximate: sys.partitions needs only the table's metadata visibility (sys.dm_db_partition_stats
           would need VIEW DATABASE STATE, error 297 for a plain operator). */
        SELECT @EstimatedRows = SUM(p.rows)
        FROM sys.partitions AS p
        WHERE p.object_id = @ParentObjectId
          AND p.index_id IN (0, 1);

        /* 3. Build the violation predicate and the JSON of the constrained columns (identifiers via QUOTENAME only). */
        IF @ConstraintType = 'CHECK'
        BEGIN
            /* NULL unless the caller has VIEW DEFINITION on the table: NOT (NULL) would make the whole statement NULL,
               sp_executesql would run nothing, and the constraint would be reported done with 0 violations. */
            IF @Definition IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: %s cannot read the definition of CHECK constraint %s.%s on table %s.%s (it needs VIEW DEFINITION on the table); nothing was validated.',
                    USER_NAME(), @SchemaName, @ConstraintName, @SchemaName, @TableName);
                THROW 51411, @Message, 1;
            END;

            SET @Predicate = N'NOT (' + @Definition + N')';

            /* The constrained columns (for the violation's JSON): the table's columns whose bracketed name appears in the
               definition (SQL Server stores a CHECK's definition with every column as [name], ']' doubled as QUOTENAME
               does), plus a column-level CHECK's own column. Not sys.sql_expression_dependencies: by default only
               db_owner may SELECT it (a plain operator would get error 229), and it tracks a table's CHECK only where
               it references a module, type or XML schema collection, not plain column references. A string literal
               that happens to contain [name] adds a column to the JSON, nothing else. */
            SELECT @ColumnList = STRING_AGG(CONVERT(nvarchar(max), N't.' + QUOTENAME(c.name)), N', ') WITHIN GROUP (ORDER BY c.column_id)
            FROM sys.columns AS c
            WHERE c.object_id = @ParentObjectId
              AND (CHARINDEX(QUOTENAME(c.name), @Definition) > 0
                   OR c.column_id = (SELECT cc.parent_column_id FROM sys.check_constraints AS cc WHERE cc.object_id = @ConstraintObjectId));
        END
        ELSE
        BEGIN
            SELECT @ReferencedObjectId = fk.referenced_object_id,
                   @ParentTable        = QUOTENAME(OBJECT_SCHEMA_NAME(fk.referenced_object_id)) + N'.' + QUOTENAME(OBJECT_NAME(fk.referenced_object_id))
            FROM sys.foreign_keys AS fk
            WHERE fk.object_id = @ConstraintObjectId;

            SELECT @NotNullList = STRING_AGG(CONVERT(nvarchar(max), N't.' + QUOTENAME(pc.name) + N' IS NOT NULL'), N' AND ') WITHIN GROUP (ORDER BY fkc.constraint_column_id),
                   @JoinList    = STRING_AGG(CONVERT(nvarchar(max), N'p.' + QUOTENAME(rc.name) + N' = t.' + QUOTENAME(pc.name)), N' AND ') WITHIN GROUP (ORDER BY fkc.constraint_column_id),
                   @ColumnList  = STRING_AGG(CONVERT(nvarchar(max), N't.' + QUOTENAME(pc.name)), N', ') WITHIN GROUP (ORDER BY fkc.constraint_column_id)
            FROM sys.foreign_key_columns AS fkc
            JOIN sys.columns AS pc ON pc.object_id = fkc.parent_object_id AND pc.column_id = fkc.parent_column_id
            JOIN sys.columns AS rc ON rc.object_id = fkc.referenced_object_id AND rc.column_id = fkc.referenced_column_id
            WHERE fkc.constraint_object_id = @ConstraintObjectId;

            /* The referenced table's name and columns are NULL / missing when the caller has no permission on it. */
            IF @ParentTable IS NULL OR @JoinList IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: %s cannot see the table referenced by foreign key %s.%s (object_id %d) or its columns (it needs SELECT on that table); nothing was validated.',
                    USER_NAME(), @SchemaName, @ConstraintName, ISNULL(@ReferencedObjectId, 0));
                THROW 51412, @Message, 1;
            END;

            IF ISNULL(HAS_PERMS_BY_NAME(@ParentTable, N'OBJECT', N'SELECT'), 0) = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: %s lacks SELECT on %s, the table referenced by foreign key %s.%s; grant it SELECT on that table, or validate as db_owner.',
                    USER_NAME(), @ParentTable, @SchemaName, @ConstraintName);
                THROW 51413, @Message, 1;
            END;

            SET @Predicate = @NotNullList + N' AND NOT EXISTS (SELECT 1 FROM ' + @ParentTable + N' AS p WHERE ' + @JoinList + N')';
        END;

        IF @ColumnList IS NULL
            SET @ColumnList = N't.' + QUOTENAME(@KeyColumn);

        CREATE TABLE #Batch
        (
            KeyValue    bigint        NOT NULL PRIMARY KEY,
            IsViolation bit           NOT NULL,
            RowValues   nvarchar(max) NULL
        );

        /* 4. One short transaction: lock (or create) the progress row, read one batch, record, advance. */
        BEGIN TRANSACTION;

        UPDATE dbmerge.ConstraintValidation WITH (UPDLOCK, SERIALIZABLE)
           SET UpdatedAt = SYSUTCDATETIME()
        OUTPUT inserted.ConstraintValidationId, inserted.ConstraintObjectId, inserted.KeyColumn, inserted.LastKey, inserted.Status
          INTO @Current (ConstraintValidationId, ConstraintObjectId, KeyColumn, LastKey, Status)
         WHERE SchemaName = @SchemaName
           AND ConstraintName = @ConstraintName;

        IF @@ROWCOUNT = 0
            INSERT INTO dbmerge.ConstraintValidation (SchemaName, TableName, ConstraintName, ConstraintType, ConstraintObjectId, KeyColumn)
            OUTPUT inserted.ConstraintValidationId, inserted.ConstraintObjectId, inserted.KeyColumn, inserted.LastKey, inserted.Status
              INTO @Current (ConstraintValidationId, ConstraintObjectId, KeyColumn, LastKey, Status)
            VALUES (@SchemaName, @TableName, @ConstraintName, @ConstraintType, @ConstraintObjectId, @KeyColumn);

        SELECT @ValidationId    = c.ConstraintValidationId,
               @StoredObjectId  = c.ConstraintObjectId,
               @StoredKeyColumn = c.KeyColumn,
               @LastKey         = c.LastKey,
               @Status          = c.Status
        FROM @Current AS c;

        IF @Restart = 1 OR @StoredObjectId <> @ConstraintObjectId OR @StoredKeyColumn <> @KeyColumn
        BEGIN
            DELETE FROM dbmerge.ConstraintViolation
             WHERE ConstraintValidationId = @ValidationId;

            UPDATE dbmerge.ConstraintValidation
               SET TableName          = @TableName,
                   ConstraintType     = @ConstraintType,
                   ConstraintObjectId = @ConstraintObjectId,
                   KeyColumn          = @KeyColumn,
                   LastKey            = NULL,
                   RowsChecked        = 0,
                   ViolationCount     = 0,
                   Status             = 'running',
                   StartedAt          = SYSUTCDATETIME(),
                   UpdatedAt          = SYSUTCDATETIME(),
                   FinishedAt         = NULL,
                   TrustedAt          = NULL
             WHERE ConstraintValidationId = @ValidationId;

            SET @LastKey = NULL;
            SET @Status = 'running';
        END;

        IF @Status = 'running'
        BEGIN
            SET @Sql = N'INSERT INTO #Batch (KeyValue, IsViolation, RowValues)
SELECT TOP (@BatchSize)
       CONVERT(bigint, t.' + QUOTENAME(@KeyColumn) + N'),
       v.IsViolation,
       CASE WHEN v.IsViolation = 1 THEN (SELECT ' + @ColumnList + N' FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES) END
FROM ' + QUOTENAME(@SchemaName) + N'.' + QUOTENAME(@TableName) + N' AS t
CROSS APPLY (SELECT CONVERT(bit, CASE WHEN ' + @Predicate + N' THEN 1 ELSE 0 END) AS IsViolation) AS v
' + CASE WHEN @LastKey IS NULL THEN N'' ELSE N'WHERE t.' + QUOTENAME(@KeyColumn) + N' > @LastKey
' END + N'ORDER BY t.' + QUOTENAME(@KeyColumn) + N';';
            SET @Params = N'@BatchSize int, @LastKey ' + QUOTENAME(@KeyType); /* checked above: tinyint, smallint, int or bigint */

            /* Never "done" without having read the rows: sp_executesql runs nothing for a NULL statement. */
            IF @Sql IS NULL OR @Predicate IS NULL
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_ValidateBatch: the validation statement for constraint %s.%s on table %s.%s could not be built (part of its metadata read as NULL for %s); nothing was validated.',
                    @SchemaName, @ConstraintName, @SchemaName, @TableName, USER_NAME());
                THROW 51414, @Message, 1;
            END;

            EXEC sys.sp_executesql @stmt = @Sql, @params = @Params, @BatchSize = @BatchSize, @LastKey = @LastKey;

            SELECT @BatchRows       = COUNT(*),
                   @BatchViolations = ISNULL(SUM(CONVERT(int, b.IsViolation)), 0),
                   @BatchLastKey    = MAX(b.KeyValue)
            FROM #Batch AS b;

            INSERT INTO dbmerge.ConstraintViolation (ConstraintValidationId, KeyValue, RowValues)
            SELECT @ValidationId, b.KeyValue, b.RowValues
            FROM #Batch AS b
            WHERE b.IsViolation = 1;

            UPDATE dbmerge.ConstraintValidation
               SET LastKey        = ISNULL(@BatchLastKey, LastKey),
                   RowsChecked    = RowsChecked + @BatchRows,
                   ViolationCount = ViolationCount + @BatchViolations,
                   Status         = CASE WHEN @BatchRows < @BatchSize THEN 'done' ELSE 'running' END,
                   FinishedAt     = CASE WHEN @BatchRows < @BatchSize THEN SYSUTCDATETIME() END,
                   UpdatedAt      = SYSUTCDATETIME()
             WHERE ConstraintValidationId = @ValidationId;
        END;

        COMMIT TRANSACTION;

        /* 5. Result: the progress row after this batch. */
        SELECT cv.SchemaName,
               cv.TableName,
               cv.ConstraintName,
               cv.ConstraintType,
               cv.KeyColumn,
               cv.Status,
               cv.LastKey,
               cv.RowsChecked,
               cv.ViolationCount,
               @BatchRows AS BatchRows,
               @BatchViolations AS BatchViolations,
               @EstimatedRows AS EstimatedTotalRows,
               cv.StartedAt,
               cv.UpdatedAt,
               cv.FinishedAt
        FROM dbmerge.ConstraintValidation AS cv
        WHERE cv.ConstraintValidationId = @ValidationId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
