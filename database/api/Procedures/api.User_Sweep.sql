SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_Sweep
  Purpose:      re-points the late references of one merged-away user — rows the application wrote after the user's
                merge committed that still reference it (or pending invitations addressed to its e-mail that no
                active user holds) — to the user it was merged into (its MergedIntoUserId), with the same generated
                policy code as the merge (dbmerge.User_MergeCore, @Mode = 'sweep'): the same locks, batches, journal
                and summary. One user per call and per transaction. Idempotent: a second sweep finds nothing and
                reports zeros. Every sweep is a run in the history (dbmerge.MergeRun, Kind sweep).
  Transaction:  OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses
                (51109) without touching the caller's transaction.
  Timeouts:     as api.User_Merge (@LockTimeoutMs per lock wait, @MaxDurationMs per run).
  Result set:   one row per merge policy, ordered by ApplyOrder: MergeRunId bigint, SchemaName sysname,
                TableName sysname, ColumnName sysname, Policy varchar(20), Moved int, Merged int, Deleted int,
                Conflicts int. Same shape for a dry run. @MergeRunId OUTPUT: the run id.
  Errors:       51100 the user does not exist
                51103 the user it was merged into is inactive or merged away itself
                51105 a foreign key to app.User has no merge policy, or the deployed merge is not generated from the
                      current policies (from dbmerge.User_MergeCore)
                51106 refused collision (from dbmerge.User_MergeCore)
                51107 residual rows still reference the user before commit
                51108 a lock was not granted within @LockTimeoutMs
                51109 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51110 a parameter is missing or out of range
                51114 refused: a table whose policy is refuse holds rows of the user
                51115 the run's time budget was used up
                51116 the run's history row could not be started outside a transaction (dbmerge.MergeRun_Start)
                51117 the user is not merged away
                51118 the core was given a run that is not running (dbmerge.User_MergeCore)
                51119 the new run's applock was not granted (dbmerge.MergeRun_Start)
  Example:      DECLARE @RunId bigint;
                EXEC api.User_Sweep @UserId = 42, @RequestedBy = N'ops', @DryRun = 0, @LockTimeoutMs = 10000,
                     @BatchSize = 1000, @MaxDurationMs = 600000, @MergeRunId = @RunId OUTPUT;
*/
CREATE OR ALTER PROCEDURE api.User_Sweep
    @UserId        int,
    @RequestedBy   nvarchar(128) = NULL,
    @DryRun        bit = 0,
    @LockTimeoutMs int = 10000,
    @BatchSize     int = 1000,
    @MaxDurationMs int = 600000,
    @MergeRunId    bigint = NULL OUTPUT
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.User_Sweep: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, user %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
        THROW 51109, @OpenMessage, 1;
    END;

    DECLARE @Message nvarchar(2048);
    DECLARE @SummaryJson nvarchar(max);
    DECLARE @Requester nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @IsDryRun bit = ISNULL(@DryRun, 0);
    DECLARE @Found bit = 0;
    DECLARE @TargetUserId int;
    DECLARE @Reason nvarchar(400);
    DECLARE @Outcome varchar(10);
    DECLARE @ErrorNumber int;
    DECLARE @ErrorMessage nvarchar(2048);

    SET @MergeRunId = NULL;

    BEGIN TRY
        /* ---- who the user was merged into (re-checked under the locks by the core) ------------------------------ */
        SELECT @Found = 1, @TargetUserId = u.MergedIntoUserId
        FROM app.[User] AS u
        WHERE u.UserId = @UserId;

        SET @Reason = CONCAT(N'sweep: late references of merged-away user ', @UserId, N' to user ', @TargetUserId);
        EXEC dbmerge.MergeRun_Start @Kind = 'sweep', @SourceUserId = @UserId, @TargetUserId = @TargetUserId,
             @RequestedBy = @Requester, @Reason = @Reason, @IsDryRun = @IsDryRun, @MergeRunId = @MergeRunId OUTPUT;

        IF @UserId IS NULL OR @DryRun IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Sweep: @UserId and @DryRun are required (user %s).', ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF @Found = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Sweep: user %d does not exist.', @UserId);
            THROW 51100, @Message, 1;
        END;

        IF @TargetUserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Sweep: user %d is not merged away (MergedIntoUserId is NULL): only a merged-away user''s late references are swept.', @UserId);
            THROW 51117, @Message, 1;
        END;

        BEGIN TRANSACTION;

        EXEC dbmerge.User_MergeCore
             @MergeRunId = @MergeRunId,
             @Mode = 'sweep',
             @SourceUserId = @UserId,
             @TargetUserId = @TargetUserId,
             @IsDryRun = @DryRun,
             @LockTimeoutMs = @LockTimeoutMs,
             @MaxDurationMs = @MaxDurationMs,
             @BatchSize = @BatchSize,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
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

        SELECT @MergeRunId AS MergeRunId, j.SchemaName, j.TableName, j.ColumnName, j.Policy,
               j.Moved, j.Merged, j.Deleted, j.Conflicts
        FROM dbmerge.MergeSummary_Rows(@SummaryJson) AS j
        ORDER BY j.ApplyOrder;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        SET @ErrorNumber = ERROR_NUMBER();
        SET @ErrorMessage = ERROR_MESSAGE();
        EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber,
             @ErrorMessage = @ErrorMessage, @SummaryJson = NULL;

        THROW;
    END CATCH;
END;
GO
