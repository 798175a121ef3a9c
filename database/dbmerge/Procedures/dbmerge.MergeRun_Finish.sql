SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.MergeRun_Finish
  Purpose:      ends a run started by dbmerge.MergeRun_Start: records its final status — unless the run is no longer
                running — and releases the run's session applock DbMerge.MergeRun:<id> when this session holds it.
                  @ErrorNumber NULL   @Outcome 'dry-run' records dry-run with @SummaryJson; @Outcome 'committed'
                                      records nothing (dbmerge.User_MergeCore writes committed inside the merge
                                      transaction; a row still running after a commit stays so and then shows as
                                      abandoned, which reveals a caller that committed without the core).
                  @ErrorNumber set    (@Outcome NULL) records refused for a refusal of the merge's data or arguments —
                                      51100 51101 51102 51103 51104 51105 51106 51109 51110 51114 51117, an unmerge's
                                      refusals 51140–51149 51155 51156 — or a calling procedure's own refusal (a
                                      DbMerge number outside the merge's block, e.g. 51522 a reconciliation claim
                                      taken meanwhile),
                                      and failed for anything else (51107, 51108, 51111, 51115, 51116, 51118, 51119,
                                      51150–51154, engine errors), with the error and @SummaryJson (the summary so
                                      far) when given.
                A second call for the same run changes nothing. Callable by every DbMerge procedure that runs
                dbmerge.User_MergeCore, also from a CATCH (after its rollback): it raises no error for a NULL or unknown
                run id, so it cannot hide the error being handled.
  Transaction:  none, and it refuses an open transaction or IMPLICIT_TRANSACTIONS ON (51116): call it after the merge
                transaction's COMMIT or ROLLBACK.
  Lock order:   dbmerge.MergeRun (last in the order); the applock it releases is the run's own.
  Result set:   none.
  Errors:       51110 neither or both of @Outcome ('committed' | 'dry-run') and @ErrorNumber
                51116 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
  Example:      EXEC dbmerge.MergeRun_Finish @MergeRunId = @Id, @Outcome = 'dry-run', @ErrorNumber = NULL,
                     @ErrorMessage = NULL, @SummaryJson = @Summary;
*/
CREATE OR ALTER PROCEDURE dbmerge.MergeRun_Finish
    @MergeRunId   bigint,
    @Outcome      varchar(10)    = NULL,
    @ErrorNumber  int            = NULL,
    @ErrorMessage nvarchar(2048) = NULL,
    @SummaryJson  nvarchar(max)  = NULL
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'dbmerge.MergeRun_Finish: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d, run %s); call it after the merge transaction''s COMMIT or ROLLBACK, with IMPLICIT_TRANSACTIONS OFF.',
            @@TRANCOUNT, ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'));
        THROW 51116, @OpenMessage, 1;
    END;

    DECLARE @Message nvarchar(2048);
    DECLARE @Status varchar(10);
    DECLARE @Resource nvarchar(255);

    BEGIN TRY
        IF (@ErrorNumber IS NULL AND (@Outcome IS NULL OR @Outcome NOT IN ('committed', 'dry-run'))) OR (@ErrorNumber IS NOT NULL AND @Outcome IS NOT NULL)
        BEGIN
            SET @Message = FORMATMESSAGE(N'dbmerge.MergeRun_Finish: give exactly one of @Outcome (committed | dry-run) and @ErrorNumber (run %s, outcome %s, error %s).',
                ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(10), @Outcome), N'NULL'), ISNULL(CONVERT(nvarchar(12), @ErrorNumber), N'NULL'));
            THROW 51110, @Message, 1;
        END;

        IF @MergeRunId IS NOT NULL
        BEGIN
            SET @Status = CASE
                              WHEN @ErrorNumber IS NULL THEN @Outcome
                              WHEN @ErrorNumber IN (51100, 51101, 51102, 51103, 51104, 51105, 51106, 51109, 51110, 51114, 51117) THEN 'refused'
                              WHEN @ErrorNumber BETWEEN 51140 AND 51149 OR @ErrorNumber IN (51155, 51156) THEN 'refused'
                              WHEN @ErrorNumber BETWEEN 51000 AND 51999 AND @ErrorNumber NOT BETWEEN 51100 AND 51199 THEN 'refused'
                              ELSE 'failed'
                          END;

            IF @Status <> 'committed'
            BEGIN
                UPDATE dbmerge.MergeRun
                SET Status = @Status,
                    FinishedAt = SYSUTCDATETIME(),
                    ErrorNumber = @ErrorNumber,
                    ErrorMessage = LEFT(@ErrorMessage, 2048),
                    SummaryJson = COALESCE(@SummaryJson, SummaryJson)
                WHERE MergeRunId = @MergeRunId
                  AND Status = 'running';
            END;

            SET @Resource = CONCAT(N'DbMerge.MergeRun:', @MergeRunId);
            IF APPLOCK_MODE(N'public', @Resource, N'Session') <> N'NoLock'
            BEGIN
                EXEC sys.sp_releaseapplock @Resource = @Resource, @LockOwner = N'Session';
            END;
        END;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
