SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.User_Unmerge
  Purpose:      undoes a committed user merge (or sweep) @MergeRunId (issue 14): every row the run journaled is
                restored to its image before the run, byte for byte — changed rows to their before-images, deleted rows
                inserted again with their original keys, in reverse journal order — so the source is active again with
                MergedIntoUserId NULL and accounts an earlier merge pointed at the source point at it again. The work
                is dbmerge.User_UnmergeCore (generated from the same policies as the merge; its header has the lock
                order, the bounds, the refusals and the report's meaning); this procedure checks the caller's role,
                starts the unmerge's own history row, owns the transaction, commits it (or rolls it back for a dry run)
                and finishes the run.
                Refuses, changing nothing: a run that is not a committed merge or sweep (51143: dry run, refused,
                failed, running, abandoned, an unmerge), one undone already (51144), one journaled before journal v2
                (51145), one that a later committed merge or sweep of either user followed (51146: undo that first), the
                source's e-mail now held by another active user (51147), a journaled row no longer as the run left it
                (51148: the first rows named, with the count), a restored row that conflicts with a row written since
                (51149).
                History: the unmerge is a run of its own (dbmerge.MergeRun, Kind unmerge, UndoesMergeRunId = the run it
                undoes, the same source and target), from its start (running) to committed, dry-run, refused or failed,
                with its own journal in dbmerge.MergeChange; the undone run then shows as undone (api.MergeRun_List,
                api.MergeRun_Get).
                Operator-only: the caller must be a member of DbMergeOperator or db_owner (51156) — DbMergeApp may
                execute schema api, so the procedure checks (undoing a merge overwrites the application's data).
  Transaction:  OWNS its transaction. Called inside an open transaction, or with IMPLICIT_TRANSACTIONS ON, it refuses
                (51140) without touching the caller's transaction (XACT_ABORT is switched off for the refusal only).
                Runs at DEADLOCK_PRIORITY LOW (restored when it returns): in a deadlock with an application transaction
                (possible only through the foreign-key checks of a re-inserted row, see dbmerge.User_UnmergeCore) the
                unmerge is the victim; it changed nothing, and DbMergeClient runs it again.
  Timeouts:     @LockTimeoutMs (0..600000; 0: no wait) bounds every single lock wait (51150); @MaxDurationMs
                (1000..86400000) the whole run (51151); @BatchSize (1..1000) journal rows per batch. A client's command
                timeout must exceed @MaxDurationMs + 2 × @LockTimeoutMs; DbMergeClient uses that plus 30 s and closes a
                connection whose call it abandoned (the run then shows as abandoned at once).
  Result set:   one row per policy of the undone run, in its ApplyOrder, and a first row ApplyOrder 0 (app.User.UpdatedAt,
                Policy locked) for the run's own lock of the two user rows:
                UnmergeRunId bigint, MergeRunId bigint (the run undone), ApplyOrder smallint, SchemaName sysname,
                TableName sysname, ColumnName sysname, Policy varchar(20), Moved int, Merged int, Deleted int, Locked int
                — the run's changes undone, by the action they undid (equal to the run's own summary). Same shape for a
                dry run. No result set on error. @UnmergeRunId OUTPUT: the unmerge's run id (also set when it is refused
                or fails, once its row exists).
  Errors:       (numbers of this procedure, of dbmerge.User_UnmergeCore and of dbmerge.MergeRun_Start / _Finish)
                51140 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51141 a parameter is missing or out of range (@MergeRunId, @Reason 1..400 characters, @DryRun,
                      @LockTimeoutMs, @MaxDurationMs, @BatchSize)
                51142 no run has @MergeRunId
                51143 the run is not a committed merge or sweep
                51144 the run was already undone
                51145 the run's journal predates journal v2 (migration 0040)
                51146 a later committed merge or sweep involves either user: undo it first
                51147 the source's e-mail is now held by another active user
                51148 rows the run journaled changed since (names the first rows and the count)
                51149 a restored row conflicts with a row written since the run
                51150 a lock was not granted within @LockTimeoutMs (names the step)
                51151 the run's time budget @MaxDurationMs was used up
                51152 the core was called without a transaction (dbmerge.User_UnmergeCore)
                51153 the core was given a run that is not running (dbmerge.User_UnmergeCore)
                51154 post-condition failed: a restore did not touch exactly the journaled rows (rolled back)
                51155 the journal holds a change dbmerge.User_UnmergeCore has no undo for
                51156 the caller is not a member of DbMergeOperator (or db_owner)
                51116 the run's history row could not be started or finished outside a transaction (dbmerge.MergeRun_Start,
                      dbmerge.MergeRun_Finish)
                51119 the new run's applock was not granted (dbmerge.MergeRun_Start)
  Example:      DECLARE @UnmergeRunId bigint;
                EXEC api.User_Unmerge @MergeRunId = 17, @Reason = N'ticket 4711: not the same person',
                     @RequestedBy = N'ops', @DryRun = 1, @UnmergeRunId = @UnmergeRunId OUTPUT,
                     @LockTimeoutMs = 10000, @BatchSize = 1000, @MaxDurationMs = 600000;
*/
CREATE OR ALTER PROCEDURE api.User_Unmerge
    @MergeRunId    bigint,
    @Reason        nvarchar(4000),
    @RequestedBy   nvarchar(128) = NULL,
    @DryRun        bit = 0,
    @UnmergeRunId  bigint = NULL OUTPUT,
    @LockTimeoutMs int = 10000,
    @BatchSize     int = 1000,
    @MaxDurationMs int = 600000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction, and under IMPLICIT_TRANSACTIONS ON, with XACT_ABORT OFF, before the TRY
       and before any statement that reads or writes a table (see api.User_Merge: THROW would otherwise roll the
       caller's work back, and under implicit transactions the COMMIT below would leave the work open). */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.User_Unmerge: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, run %s); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'));
        THROW 51140, @OpenMessage, 1;
    END;

    SET DEADLOCK_PRIORITY LOW;

    DECLARE @Message nvarchar(2048);
    DECLARE @SummaryJson nvarchar(max);
    DECLARE @Requester nvarchar(128) = COALESCE(NULLIF(LTRIM(RTRIM(@RequestedBy)), N''), ORIGINAL_LOGIN());
    DECLARE @ReasonText nvarchar(400) = LEFT(LTRIM(RTRIM(@Reason)), 400);
    DECLARE @IsDryRun bit = ISNULL(@DryRun, 0);
    DECLARE @SourceUserId int;
    DECLARE @TargetUserId int;
    DECLARE @Outcome varchar(10);
    DECLARE @ErrorNumber int;
    DECLARE @ErrorMessage nvarchar(2048);

    SET @UnmergeRunId = NULL;

    BEGIN TRY
        IF @MergeRunId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Unmerge: @MergeRunId is required: the merge run to undo (dbmerge merges list).');
            THROW 51141, @Message, 1;
        END;

        /* ---- the unmerge's own history row: committed, status running, before the transaction --------------------- */
        /* The run's users never change after its start (read without a lock; the core reads them again under its
           applocks). An unknown run still gets an unmerge row, refused with 51142 by the core. Seeks PK_dbmerge_MergeRun. */
        SELECT @SourceUserId = m.SourceUserId, @TargetUserId = m.TargetUserId
        FROM dbmerge.MergeRun AS m
        WHERE m.MergeRunId = @MergeRunId;

        EXEC dbmerge.MergeRun_Start @Kind = 'unmerge', @SourceUserId = @SourceUserId, @TargetUserId = @TargetUserId,
             @RequestedBy = @Requester, @Reason = @ReasonText, @IsDryRun = @IsDryRun, @MergeRunId = @UnmergeRunId OUTPUT,
             @UndoesMergeRunId = @MergeRunId;

        /* ---- check parameters and the caller (no transaction open; the core checks the run under its locks) ------- */
        IF @DryRun IS NULL OR NULLIF(LTRIM(RTRIM(@Reason)), N'') IS NULL OR LEN(@Reason) > 400
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Unmerge: @DryRun is required and @Reason 1 to 400 characters (run %I64d, reason length %s); say why the merge is undone.',
                @MergeRunId, ISNULL(CONVERT(nvarchar(12), LEN(@Reason)), N'NULL'));
            THROW 51141, @Message, 1;
        END;

        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.User_Unmerge: %s is not a member of DbMergeOperator (or db_owner): undoing a merge is an operator''s step (run %I64d).',
                ORIGINAL_LOGIN(), @MergeRunId);
            THROW 51156, @Message, 1;
        END;

        /* ---- locks, checks, restore, post-conditions: dbmerge.User_UnmergeCore ------------------------------------ */
        BEGIN TRANSACTION;

        EXEC dbmerge.User_UnmergeCore
             @UnmergeRunId = @UnmergeRunId,
             @MergeRunId = @MergeRunId,
             @IsDryRun = @DryRun,
             @LockTimeoutMs = @LockTimeoutMs,
             @MaxDurationMs = @MaxDurationMs,
             @BatchSize = @BatchSize,
             @SummaryJson = @SummaryJson OUTPUT;

        IF @DryRun = 1
        BEGIN
            /* The same code path, rolled back; the report lives in a variable and survives the rollback. */
            ROLLBACK TRANSACTION;
            SET @Outcome = 'dry-run';
        END
        ELSE
        BEGIN
            COMMIT TRANSACTION;
            SET @Outcome = 'committed';
        END;

        EXEC dbmerge.MergeRun_Finish @MergeRunId = @UnmergeRunId, @Outcome = @Outcome, @ErrorNumber = NULL,
             @ErrorMessage = NULL, @SummaryJson = @SummaryJson;

        /* ---- the one result set (from the report: the same for a committed unmerge and a dry run) ---------------- */
        SELECT @UnmergeRunId AS UnmergeRunId, @MergeRunId AS MergeRunId, j.ApplyOrder, j.SchemaName, j.TableName, j.ColumnName, j.Policy,
               j.Moved, j.Merged, j.Deleted, j.Locked
        FROM OPENJSON(@SummaryJson, '$.Tables')
             WITH (ApplyOrder smallint, SchemaName nvarchar(128), TableName nvarchar(128), ColumnName nvarchar(128), Policy varchar(20),
                   Moved int, Merged int, Deleted int, Locked int) AS j
        ORDER BY j.ApplyOrder, j.SchemaName, j.TableName, j.ColumnName;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;

        /* Failure logging: the run ends refused or failed (a no-op when the core already recorded it, with its report). */
        SET @ErrorNumber = ERROR_NUMBER();
        SET @ErrorMessage = ERROR_MESSAGE();
        EXEC dbmerge.MergeRun_Finish @MergeRunId = @UnmergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber,
             @ErrorMessage = @ErrorMessage, @SummaryJson = NULL;

        THROW;
    END CATCH;
END;
GO
