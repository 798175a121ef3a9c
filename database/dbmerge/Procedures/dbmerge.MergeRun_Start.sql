SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.MergeRun_Start
  Purpose:      starts a user merge, sweep or unmerge run's history row (DESIGN §5: every run has a row from its start):
                takes a new run id from dbmerge.MergeRunSequence, takes the session-owned applock
                DbMerge.MergeRun:<id> (held until dbmerge.MergeRun_Finish, or until the session ends), then inserts the
                row with status running, committed at once. A run whose session dies — killed, timed out, connection
                lost — keeps its running row but no longer holds the applock: api.MergeRun_List / api.MergeRun_Get show
                it as abandoned (APPLOCK_TEST, which any caller may use).
                Callable by every DbMerge procedure that runs dbmerge.User_MergeCore (api.User_Merge, api.User_Sweep,
                reconciliation processing): see the contract in dbmerge.User_MergeCore's header; and by api.User_Unmerge
                (@Kind 'unmerge' with @UndoesMergeRunId, the run it undoes: see dbmerge.User_UnmergeCore's header).
  Transaction:  none, and it refuses an open transaction or IMPLICIT_TRANSACTIONS ON (51116): the row must be
                committed before the merge transaction begins, so that a run that dies in that transaction still
                has its row. The caller's transaction is not touched (XACT_ABORT is switched off for the refusal).
  Lock order:   the applock DbMerge.MergeRun:<id> names a new id: no other session requests it (APPLOCK_TEST only
                probes); the row is new. Neither takes part in the lock order.
  Result set:   none. @MergeRunId OUTPUT: the new run id.
  Errors:       51110 @Kind is not merge, sweep or unmerge, @UndoesMergeRunId is missing for an unmerge or given for
                      another kind, or @IsDryRun / @RequestedBy is missing
                51116 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51119 the run's applock was not granted (it is new: this means a session holds a stale lock of that name)
  Example:      DECLARE @Id bigint;
                EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = 42, @TargetUserId = 7, @RequestedBy = N'ops',
                     @Reason = N'duplicate account', @IsDryRun = 0, @MergeRunId = @Id OUTPUT;
*/
CREATE OR ALTER PROCEDURE dbmerge.MergeRun_Start
    @Kind         varchar(10),
    @SourceUserId int,
    @TargetUserId int,
    @RequestedBy  nvarchar(128),
    @Reason       nvarchar(400),
    @IsDryRun     bit,
    @MergeRunId   bigint OUTPUT,
    @UndoesMergeRunId bigint = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'dbmerge.MergeRun_Start: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d); a run''s row must be committed before the merge transaction: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF.', @@TRANCOUNT);
        THROW 51116, @OpenMessage, 1;
    END;

    DECLARE @Message nvarchar(2048);
    DECLARE @Resource nvarchar(255);
    DECLARE @LockResult int;

    BEGIN TRY
        IF @Kind IS NULL OR @Kind NOT IN ('merge', 'sweep', 'unmerge') OR @IsDryRun IS NULL OR NULLIF(LTRIM(RTRIM(@RequestedBy)), N'') IS NULL
           OR (@Kind = 'unmerge' AND @UndoesMergeRunId IS NULL) OR (@Kind <> 'unmerge' AND @UndoesMergeRunId IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.MergeRun_Start: @Kind must be merge, sweep or unmerge, @UndoesMergeRunId is given for an unmerge only, and @IsDryRun and @RequestedBy are required (kind %s, source %s, target %s, undoes %s).',
                ISNULL(CONVERT(nvarchar(10), @Kind), N'NULL'), ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'),
                ISNULL(CONVERT(nvarchar(20), @UndoesMergeRunId), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        SET @MergeRunId = NEXT VALUE FOR dbmerge.MergeRunSequence;
        SET @Resource = CONCAT(N'DbMerge.MergeRun:', @MergeRunId);

        /* The applock first, then the row: there is never a committed running row without its lock. */
        EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0;
        IF @LockResult < 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.MergeRun_Start: applock %s of new run %I64d was not granted (sp_getapplock returned %d).', @Resource, @MergeRunId, @LockResult);
            THROW 51119, @Message, 1;
        END;

        INSERT INTO dbmerge.MergeRun (MergeRunId, SourceUserId, TargetUserId, RequestedBy, Reason, IsDryRun, Status, StartedAt, Kind, SessionId, UndoesMergeRunId)
        VALUES (@MergeRunId, @SourceUserId, @TargetUserId, LTRIM(RTRIM(@RequestedBy)), @Reason, @IsDryRun, 'running', SYSUTCDATETIME(), @Kind, @@SPID, @UndoesMergeRunId);
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
