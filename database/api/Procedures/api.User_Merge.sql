SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_Merge
  Purpose:      merges the source user into the target user (DESIGN §5): everything that references the source
                is moved to the target following dbmerge.MergePolicy, the source ends inactive with
                MergedIntoUserId = target (its e-mail kept). The work is dbmerge.User_MergeCore; this procedure
                validates, owns the transaction, commits (or rolls back for a dry run) and records the run.
                Every run gets a dbmerge.MergeRun row: committed (written in the transaction, with the journal),
                dry-run (after the rollback, same summary), refused (a 51xxx refusal) or failed (other errors).
  Transaction:  OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it
                refuses (51109) before anything else, without touching the caller's transaction (XACT_ABORT is
                switched off for that refusal only).
  Result set:   one row per merge policy, ordered by the policy's ApplyOrder:
                MergeRunId bigint, SchemaName sysname, TableName sysname, ColumnName sysname, Policy varchar(20),
                Moved int, Merged int, Deleted int, Conflicts int
                (meanings in dbmerge.User_MergeCore). Same shape for a dry run. No result set on error.
                @MergeRunId OUTPUT: the run id (also set when the run is refused or fails).
  Errors:       51100 source user does not exist
                51101 target user does not exist
                51102 source and target are the same user
                51103 target user is inactive or merged away
                51104 source user is already merged into another user
                51105 a foreign key to app.User has no merge policy (from dbmerge.User_MergeCore)
                51106 refused collision: both enrollments of a course hold a final qualification
                51107 residual rows still reference the source before commit
                51108 a user lock could not be acquired within @LockTimeoutMs
                51109 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51110 a parameter is missing or out of range (@Reason blank or too long, @LockTimeoutMs, …)
  Example:      DECLARE @RunId bigint;
                EXEC api.User_Merge @SourceUserId = 42, @TargetUserId = 7, @Reason = N'duplicate account',
                     @RequestedBy = NULL, @DryRun = 1, @LockTimeoutMs = 10000, @MergeRunId = @RunId OUTPUT;
*/
CREATE OR ALTER PROCEDURE api.User_Merge
    @SourceUserId  int,
    @TargetUserId  int,
    @Reason        nvarchar(4000),
    @RequestedBy   nvarchar(128) = NULL,
    @DryRun        bit = 0,
    @LockTimeoutMs int = 10000,
    @MergeRunId    bigint = NULL OUTPUT
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
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.User_Merge: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, source %s, target %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF, or call dbmerge.User_MergeCore inside yours.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'));
        THROW 51109, @OpenMessage, 1;
    END;

    DECLARE @Message nvarchar(2048);
    DECLARE @StartedAt datetime2(3) = SYSUTCDATETIME();
    DECLARE @SummaryJson nvarchar(max);
    DECLARE @Requester nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @ReasonText nvarchar(400) = LEFT(LTRIM(RTRIM(@Reason)), 400);

    SET @MergeRunId = NEXT VALUE FOR dbmerge.MergeRunSequence;

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF @SourceUserId IS NULL OR @TargetUserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: @SourceUserId and @TargetUserId are required (source %s, target %s).',
                ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF NULLIF(LTRIM(RTRIM(@Reason)), N'') IS NULL OR LEN(@Reason) > 400
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: @Reason is required, 1 to 400 characters (source %d, target %d, length %s); say why the accounts are merged.',
                @SourceUserId, @TargetUserId, ISNULL(CONVERT(nvarchar(12), LEN(@Reason)), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF @DryRun IS NULL OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 3600000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: @DryRun must be 0 or 1 and @LockTimeoutMs 0..3600000 (source %d, target %d, lock timeout %s).',
                @SourceUserId, @TargetUserId, ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF @SourceUserId = @TargetUserId
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: source and target are the same user %d.', @SourceUserId);
            THROW 51102, @Message, 1;
        END;

        DECLARE @SourceExists bit = 0, @SourceMergedInto int;
        DECLARE @TargetExists bit = 0, @TargetIsActive bit, @TargetMergedInto int;

        SELECT @SourceExists = 1, @SourceMergedInto = u.MergedIntoUserId
        FROM app.[User] AS u
        WHERE u.UserId = @SourceUserId;

        SELECT @TargetExists = 1, @TargetIsActive = u.IsActive, @TargetMergedInto = u.MergedIntoUserId
        FROM app.[User] AS u
        WHERE u.UserId = @TargetUserId;

        IF @SourceExists = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: source user %d does not exist.', @SourceUserId);
            THROW 51100, @Message, 1;
        END;

        IF @TargetExists = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: target user %d does not exist.', @TargetUserId);
            THROW 51101, @Message, 1;
        END;

        IF @SourceMergedInto IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: source user %d is already merged into user %d.', @SourceUserId, @SourceMergedInto);
            THROW 51104, @Message, 1;
        END;

        IF @TargetIsActive = 0 OR @TargetMergedInto IS NOT NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: target user %d is inactive or merged away (merged into %s); merge into an active user.',
                @TargetUserId, ISNULL(CONVERT(nvarchar(12), @TargetMergedInto), N'nobody'));
            THROW 51103, @Message, 1;
        END;

        /* ---- locks, work, post-conditions: dbmerge.User_MergeCore re-checks everything under the locks -- */
        BEGIN TRANSACTION;

        EXEC dbmerge.User_MergeCore
             @MergeRunId = @MergeRunId,
             @SourceUserId = @SourceUserId,
             @TargetUserId = @TargetUserId,
             @Reason = @ReasonText,
             @RequestedBy = @Requester,
             @IsDryRun = @DryRun,
             @StartedAt = @StartedAt,
             @LockTimeoutMs = @LockTimeoutMs,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
            /* Same code path, rolled back; the summary lives in a variable and survives the rollback. */
            ROLLBACK TRANSACTION;

            INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, FinishedAt, SummaryJson)
            VALUES (@MergeRunId, @SourceUserId, @TargetUserId, @Requester, @ReasonText, 1, 'dry-run', @StartedAt, SYSUTCDATETIME(), @SummaryJson);
        END
        ELSE
        BEGIN
            COMMIT TRANSACTION;
        END;

        /* ---- the one result set (from the summary variable: the same for a committed run and a dry run) -- */
        SELECT @MergeRunId AS MergeRunId, j.SchemaName, j.TableName, j.ColumnName, j.Policy,
               j.Moved, j.Merged, j.Deleted, j.Conflicts
        FROM OPENJSON(@SummaryJson)
             WITH (ApplyOrder smallint, SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128), Policy varchar(20),
                   Moved int, Merged int, Deleted int, Conflicts int) AS j
        ORDER BY j.ApplyOrder;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        /* Failure logging: the run's row, written after the rollback (a 51xxx refusal is 'refused'). */
        INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, FinishedAt, ErrorNumber, ErrorMessage, SummaryJson)
        VALUES (@MergeRunId, @SourceUserId, @TargetUserId, @Requester, @ReasonText, ISNULL(@DryRun, 0),
                IIF(ERROR_NUMBER() BETWEEN 51000 AND 51999 AND ERROR_NUMBER() <> 51107, 'refused', 'failed'),
                @StartedAt, SYSUTCDATETIME(), ERROR_NUMBER(), LEFT(ERROR_MESSAGE(), 2048), @SummaryJson);

        THROW;
    END CATCH;
END;
GO
