SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Constraint_Trust
  Purpose:
    The explicit operator step after validation: marks an untrusted CHECK or FOREIGN KEY constraint trusted
    with ALTER TABLE ... WITH CHECK CHECK CONSTRAINT. That statement takes a schema-modification (Sch-M) lock
    on the table and re-reads every row while holding it: every query on the table waits for the whole scan.
    Run it in a maintenance window, never as part of a normal deploy.
    Refused while the constraint was never fully validated by dbmerge.Constraint_ValidateBatch (no progress
    row, still running, or the constraint/clustered key changed since: validate again), and while recorded
    violations remain (fix the rows, then run `dbmerge constraints validate --restart` to recompute).
    The lock wait is bounded by @LockTimeoutMs (engine error 1222 when it expires; nothing changed, retry later).
    Lock order: the progress row (dbmerge.ConstraintValidation, UPDLOCK) is locked and re-checked inside the transaction
    before the ALTER's Sch-M on the table, as dbmerge.Constraint_ValidateBatch locks it before reading the table.
    Already trusted: a no-op that returns the constraint with AlreadyTrusted = 1.
    Permissions (the caller's): member of DbMergeOperator or db_owner (51404). The ALTER is dynamic SQL (no
    ownership chaining), so the caller also needs ALTER on the table, checked before anything changes (51413);
    the constraint must be visible to it (any permission on the table; else 51400). db_owner has all of these.
  Transaction: owns its transaction (the ALTER, the post-check that the constraint is now trusted, and the
    progress row's TrustedAt commit together or not at all). Called inside an open transaction, or with
    IMPLICIT_TRANSACTIONS ON, it refuses (51410) before anything else, without touching the caller's transaction
    (XACT_ABORT is switched off for that refusal only).
  Result set (one row):
    SchemaName sysname, TableName sysname, ConstraintName sysname, ConstraintType varchar(11),
    IsTrusted bit, AlreadyTrusted bit, TrustedAt datetime2(3) NULL
  Errors:
    51400  no CHECK or FOREIGN KEY constraint with that name in that schema (or the caller may not see it)
    51404  the caller is not a member of DbMergeOperator or db_owner
    51405  recorded violations remain for the constraint (trust refused)
    51406  the constraint was never fully validated (never run, still running, or re-created since)
    51407  @LockTimeoutMs outside 1..600000
    51408  @SchemaName or @ConstraintName is missing
    51409  the constraint is still untrusted after WITH CHECK CHECK CONSTRAINT (for example NOT FOR
           REPLICATION); rolled back
    51413  the caller lacks ALTER on the constraint's table
    51410  called inside an open transaction or with IMPLICIT_TRANSACTIONS ON: call it outside one, with
           IMPLICIT_TRANSACTIONS OFF (the caller's transaction is left untouched)
    1222   (engine) lock request timed out after @LockTimeoutMs: nothing changed, run again later
    547    (engine) a row violates the constraint after all (e.g. it was disabled meanwhile): validate again
  Example:
    EXEC dbmerge.Constraint_Trust @SchemaName = N'app', @ConstraintName = N'CK_app_Invitation_ExactlyOneTarget',
         @LockTimeoutMs = 5000;
*/
CREATE OR ALTER PROCEDURE dbmerge.Constraint_Trust
    @SchemaName     sysname,
    @ConstraintName sysname,
    @LockTimeoutMs  int = 5000
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'dbmerge.Constraint_Trust: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, schema ''%s'', constraint ''%s''); it owns its transaction and refused without touching yours: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(@SchemaName, N'NULL'), ISNULL(@ConstraintName, N'NULL'));
        THROW 51410, @OpenMessage, 1;
    END;

    DECLARE @Message            nvarchar(2048);
    DECLARE @ConstraintObjectId int;
    DECLARE @ParentObjectId     int;
    DECLARE @ConstraintType     varchar(11);
    DECLARE @TableName          sysname;
    DECLARE @IsNotTrusted       bit;
    DECLARE @AlreadyTrusted     bit = 0;
    DECLARE @ValidationId       int;
    DECLARE @Status             varchar(10);
    DECLARE @StoredObjectId     int;
    DECLARE @RemainingCount     bigint;
    DECLARE @Sql                nvarchar(max);
    DECLARE @TrustedAt          datetime2(3);

    BEGIN TRY
        /* 1. Check parameters (no transaction open). */
        IF @SchemaName IS NULL OR LEN(@SchemaName) = 0 OR @ConstraintName IS NULL OR LEN(@ConstraintName) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: @SchemaName and @ConstraintName are required (got schema ''%s'', constraint ''%s'').',
                ISNULL(@SchemaName, N'NULL'), ISNULL(@ConstraintName, N'NULL'));
            THROW 51408, @Message, 1;
        END;

        IF @LockTimeoutMs IS NULL OR @LockTimeoutMs < 1 OR @LockTimeoutMs > 600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: @LockTimeoutMs must be between 1 and 600000 (got %s) for constraint %s.%s.',
                ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'), @SchemaName, @ConstraintName);
            THROW 51407, @Message, 1;
        END;

        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: %s is not a member of DbMergeOperator or db_owner; trusting a constraint is operator-only (constraint %s.%s).',
                USER_NAME(), @SchemaName, @ConstraintName);
            THROW 51404, @Message, 1;
        END;

        /* 2. Resolve the constraint and check it was fully validated without remaining violations. */
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
            SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: no CHECK or FOREIGN KEY constraint %s.%s exists, or %s may not see it (trusting needs ALTER on its table).',
                @SchemaName, @ConstraintName, USER_NAME());
            THROW 51400, @Message, 1;
        END;

        SET @TableName = OBJECT_NAME(@ParentObjectId);

        SELECT @IsNotTrusted = cc.is_not_trusted FROM sys.check_constraints AS cc WHERE cc.object_id = @ConstraintObjectId;
        SELECT @IsNotTrusted = fk.is_not_trusted FROM sys.foreign_keys AS fk WHERE fk.object_id = @ConstraintObjectId;

        SELECT @ValidationId   = cv.ConstraintValidationId,
               @Status         = cv.Status,
               @StoredObjectId = cv.ConstraintObjectId,
               @TrustedAt      = cv.TrustedAt
        FROM dbmerge.ConstraintValidation AS cv
        WHERE cv.SchemaName = @SchemaName
          AND cv.ConstraintName = @ConstraintName;

        IF @IsNotTrusted = 0
            SET @AlreadyTrusted = 1;

        IF @AlreadyTrusted = 0
        BEGIN
            IF @ValidationId IS NULL OR @Status <> 'done' OR @StoredObjectId <> @ConstraintObjectId
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: constraint %s.%s on table %s.%s was never fully validated (%s); run dbmerge constraints validate --constraint %s first.',
                    @SchemaName, @ConstraintName, @SchemaName, @TableName,
                    CASE WHEN @ValidationId IS NULL THEN N'never run'
                         WHEN @StoredObjectId <> @ConstraintObjectId THEN N're-created since its validation'
                         ELSE N'validation still running' END,
                    @ConstraintName);
                THROW 51406, @Message, 1;
            END;

            SELECT @RemainingCount = COUNT_BIG(*)
            FROM dbmerge.ConstraintViolation AS v
            WHERE v.ConstraintValidationId = @ValidationId;

            IF @RemainingCount > 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: %s violation(s) of constraint %s.%s on table %s.%s are recorded in dbmerge.ConstraintViolation; fix those rows and run dbmerge constraints validate --constraint %s --restart before trusting it.',
                    CONVERT(nvarchar(20), @RemainingCount), @SchemaName, @ConstraintName, @SchemaName, @TableName, @ConstraintName);
                THROW 51405, @Message, 1;
            END;

            /* The ALTER runs as dynamic SQL in the caller's security context: refuse now rather than fail half-way. */
            IF ISNULL(HAS_PERMS_BY_NAME(QUOTENAME(@SchemaName) + N'.' + QUOTENAME(@TableName), N'OBJECT', N'ALTER'), 0) = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: %s lacks ALTER on table %s.%s (constraint %s); grant it ALTER on the table, or trust as db_owner.',
                    USER_NAME(), @SchemaName, @TableName, @ConstraintName);
                THROW 51413, @Message, 1;
            END;

            /* 3. Trust it: Sch-M lock and a full scan, bounded lock wait. */
            SET @Sql = N'SET LOCK_TIMEOUT ' + CONVERT(nvarchar(12), @LockTimeoutMs) + N';
ALTER TABLE ' + QUOTENAME(@SchemaName) + N'.' + QUOTENAME(@TableName) + N' WITH CHECK CHECK CONSTRAINT ' + QUOTENAME(@ConstraintName) + N';';

            BEGIN TRANSACTION;

            /* The progress row first (UPDLOCK, HOLDLOCK: held to commit), then the table's Sch-M: the order of
               dbmerge.Constraint_ValidateBatch (progress row, then the table's rows). In the other order a batch of a
               restarted validation holding the progress row waits for the Sch-M while this ALTER, holding it, waits
               for the progress row: a deadlock that blocks every query on the table until the deadlock monitor ends
               it. Re-checked under the lock: a restart may have begun since the read above. */
            SET LOCK_TIMEOUT @LockTimeoutMs;
            SET @Status = NULL;
            SELECT @Status = cv.Status, @StoredObjectId = cv.ConstraintObjectId
            FROM dbmerge.ConstraintValidation AS cv WITH (UPDLOCK, HOLDLOCK)
            WHERE cv.ConstraintValidationId = @ValidationId;

            IF @Status IS NULL OR @Status <> 'done' OR @StoredObjectId <> @ConstraintObjectId
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: the validation of constraint %s.%s on table %s.%s was restarted or changed while trusting it (status %s); run dbmerge constraints validate --constraint %s first.',
                    @SchemaName, @ConstraintName, @SchemaName, @TableName, ISNULL(CONVERT(nvarchar(10), @Status), N'none'), @ConstraintName);
                THROW 51406, @Message, 1;
            END;

            IF EXISTS (SELECT 1 FROM dbmerge.ConstraintViolation AS v WHERE v.ConstraintValidationId = @ValidationId)
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: violations of constraint %s.%s on table %s.%s were recorded while trusting it; fix those rows and run dbmerge constraints validate --constraint %s --restart before trusting it.',
                    @SchemaName, @ConstraintName, @SchemaName, @TableName, @ConstraintName);
                THROW 51405, @Message, 1;
            END;

            EXEC sys.sp_executesql @stmt = @Sql;

            IF EXISTS (SELECT 1 FROM sys.check_constraints AS cc WHERE cc.object_id = @ConstraintObjectId AND cc.is_not_trusted = 1)
               OR EXISTS (SELECT 1 FROM sys.foreign_keys AS fk WHERE fk.object_id = @ConstraintObjectId AND fk.is_not_trusted = 1)
            BEGIN
                SET @Message = FORMATMESSAGE(N'dbmerge.Constraint_Trust: constraint %s.%s on table %s.%s is still untrusted after WITH CHECK CHECK CONSTRAINT (NOT FOR REPLICATION?); rolled back.',
                    @SchemaName, @ConstraintName, @SchemaName, @TableName);
                THROW 51409, @Message, 1;
            END;

            SET @TrustedAt = SYSUTCDATETIME();

            UPDATE dbmerge.ConstraintValidation
               SET TrustedAt = @TrustedAt,
                   UpdatedAt = @TrustedAt
             WHERE ConstraintValidationId = @ValidationId;

            COMMIT TRANSACTION;
        END;

        /* 4. Result. */
        SELECT @SchemaName AS SchemaName,
               @TableName AS TableName,
               @ConstraintName AS ConstraintName,
               @ConstraintType AS ConstraintType,
               CONVERT(bit, 1) AS IsTrusted,
               @AlreadyTrusted AS AlreadyTrusted,
               @TrustedAt AS TrustedAt;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
