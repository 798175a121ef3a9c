SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_Merge
  Purpose:      merges the source user into the target user (DESIGN §5): everything that references the source is
                moved to the target following dbmerge.MergePolicy, the source ends inactive with MergedIntoUserId =
                target (its e-mail kept). The work is dbmerge.User_MergeCore (generated from the policies; its header
                has the locks, bounds and summary meanings); this procedure starts the run's history row, owns the
                transaction, commits it (or rolls it back for a dry run) and finishes the run.
                History: the run's dbmerge.MergeRun row exists from the start, committed before the merge transaction,
                status running (dbmerge.MergeRun_Start), and ends committed (written inside the merge transaction),
                dry-run, refused or failed (with the error and the summary so far); a run whose session died shows as
                abandoned (api.MergeRun_List / api.MergeRun_Get).
  Transaction:  OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses
                (51109) without touching the caller's transaction (XACT_ABORT is switched off for the refusal only).
  Timeouts:     @LockTimeoutMs (0..600000; 0: no wait) bounds every single lock wait (51108); @MaxDurationMs (1000..86400000) the
                whole run (51115). A client's command timeout must exceed @MaxDurationMs + 2 × @LockTimeoutMs (the
                waits of the batch running at the deadline): DbMergeClient uses that plus 30 s. A client that abandons
                the call (timeout, cancel) should close its session (not return it to the pool), so that the run's
                applock is released at once and the run shows as abandoned; DbMergeClient does.
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
                51105 a foreign key to app.User has no merge policy, or the deployed merge is not generated from the
                      current policies (from dbmerge.User_MergeCore)
                51106 refused collision: both users' parent rows hold an at-most-one child (e.g. two final qualifications)
                51107 residual rows still reference the source before commit
                51108 a lock was not granted within @LockTimeoutMs (names the step)
                51109 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51110 a parameter is missing or out of range (@Reason blank or too long, @LockTimeoutMs, @BatchSize, …)
                51114 refused: a table whose policy is refuse holds rows of the source
                51115 the run's time budget @MaxDurationMs was used up
                51116 the run's history row could not be started outside a transaction (dbmerge.MergeRun_Start)
                51118 the core was given a run that is not running (dbmerge.User_MergeCore)
                51119 the new run's applock was not granted (dbmerge.MergeRun_Start)
  Example:      DECLARE @RunId bigint;
                EXEC api.User_Merge @SourceUserId = 42, @TargetUserId = 7, @Reason = N'duplicate account',
                     @RequestedBy = NULL, @DryRun = 1, @LockTimeoutMs = 10000, @MergeRunId = @RunId OUTPUT,
                     @BatchSize = 1000, @MaxDurationMs = 600000;
*/
CREATE OR ALTER PROCEDURE api.User_Merge
    @SourceUserId  int,
    @TargetUserId  int,
    @Reason        nvarchar(4000),
    @RequestedBy   nvarchar(128) = NULL,
    @DryRun        bit = 0,
    @LockTimeoutMs int = 10000,
    @MergeRunId    bigint = NULL OUTPUT,
    @BatchSize     int = 1000,
    @MaxDurationMs int = 600000
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
    DECLARE @SummaryJson nvarchar(max);
    DECLARE @Requester nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @ReasonText nvarchar(400) = LEFT(LTRIM(RTRIM(@Reason)), 400);
    DECLARE @IsDryRun bit = ISNULL(@DryRun, 0);
    DECLARE @Outcome varchar(10);
    DECLARE @ErrorNumber int;
    DECLARE @ErrorMessage nvarchar(2048);

    SET @MergeRunId = NULL;

    BEGIN TRY
        /* ---- the run's history row: committed, status running, before the merge transaction ----------------- */
        EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @SourceUserId, @TargetUserId = @TargetUserId,
             @RequestedBy = @Requester, @Reason = @ReasonText, @IsDryRun = @IsDryRun, @MergeRunId = @MergeRunId OUTPUT;

        /* ---- check parameters (no transaction open; the core checks the rest, under its locks) --------------- */
        IF @SourceUserId IS NULL OR @TargetUserId IS NULL OR @DryRun IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: @SourceUserId, @TargetUserId and @DryRun are required (source %s, target %s).',
                ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF NULLIF(LTRIM(RTRIM(@Reason)), N'') IS NULL OR LEN(@Reason) > 400
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Merge: @Reason is required, 1 to 400 characters (source %d, target %d, length %s); say why the accounts are merged.',
                @SourceUserId, @TargetUserId, ISNULL(CONVERT(nvarchar(12), LEN(@Reason)), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        /* ---- locks, work, post-conditions: dbmerge.User_MergeCore ---------------------------------------------- */
        BEGIN TRANSACTION;

        EXEC dbmerge.User_MergeCore
             @MergeRunId = @MergeRunId,
             @Mode = 'merge',
             @SourceUserId = @SourceUserId,
             @TargetUserId = @TargetUserId,
             @IsDryRun = @DryRun,
             @LockTimeoutMs = @LockTimeoutMs,
             @MaxDurationMs = @MaxDurationMs,
             @BatchSize = @BatchSize,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
            /* Same code path, rolled back; the summary lives in a variable and survives the rollback. */
            ROLLBACK TRANSACTION;
            SET @Outcome = 'dry-run';
        END
        ELSE
        BEGIN
            COMMIT TRANSACTION;
            SET @Outcome = 'committed';
        END;

        EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = @Outcome, @ErrorNumber = NULL,
             @ErrorMessage = NULL, @SummaryJson = @SummaryJson;

        /* ---- the one result set (from the summary variable: the same for a committed run and a dry run) -- */
        SELECT @MergeRunId AS MergeRunId, j.SchemaName, j.TableName, j.ColumnName, j.Policy,
               j.Moved, j.Merged, j.Deleted, j.Conflicts
        FROM dbmerge.MergeSummary_Rows(@SummaryJson) AS j
        ORDER BY j.ApplyOrder;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        /* Failure logging: the run ends refused or failed (a no-op when the core already recorded it, with its summary). */
        SET @ErrorNumber = ERROR_NUMBER();
        SET @ErrorMessage = ERROR_MESSAGE();
        EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber,
             @ErrorMessage = @ErrorMessage, @SummaryJson = NULL;

        THROW;
    END CATCH;
END;
GO
