using DbMerge.Schema.HouseRules;
using Xunit;
using static DbMerge.Tests.Schema.HouseRules.ProcedureRuleHarness;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>DBM001–DBM006: each rule proven by a planted violation (rule id, line, object) and a clean counterpart.</summary>
public sealed class ProcedureRuleTests
{
    [Fact]
    public void The_procedure_rules_are_DBM001_to_DBM013_each_once()
    {
        var ids = ProcedureRules.All.Select(r => r.Id).ToList();
        Assert.Equal(Enumerable.Range(1, 13).Select(n => $"DBM{n:000}"), ids);
        Assert.All(ProcedureRules.All, r => Assert.False(string.IsNullOrWhiteSpace(r.Description)));
    }

    [Fact]
    public void A_procedure_written_in_the_house_style_passes_every_procedure_rule()
    {
        var text = Procedure(prologue: GuardedPrologue, errors: GuardedErrors);
        foreach (var rule in ProcedureRules.All)
        {
            AssertClean(Run(rule, text));
        }
    }

    // ---- DBM001 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_procedure_that_switches_on_only_NOCOUNT_is_reported_for_XACT_ABORT()
    {
        var text = Procedure(prologue: "    SET NOCOUNT ON;\n    DECLARE @Message nvarchar(2048);");
        var finding = AssertSingle(Run(new SessionOptionsRule(), text), "DBM001", text, "SET NOCOUNT ON;");
        Assert.Contains("XACT_ABORT", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("NOCOUNT and", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_procedure_that_declares_before_setting_its_options_is_reported_at_the_first_statement()
    {
        var text = Procedure(prologue: "    DECLARE @Message nvarchar(2048);\n    SET NOCOUNT, XACT_ABORT ON;");
        AssertSingle(Run(new SessionOptionsRule(), text), "DBM001", text, "DECLARE @Message");
    }

    [Fact]
    public void NOCOUNT_and_XACT_ABORT_may_be_switched_on_in_two_statements()
    {
        var text = Procedure(prologue: "    SET XACT_ABORT ON;\n    SET NOCOUNT ON;\n    DECLARE @Message nvarchar(2048);");
        AssertClean(Run(new SessionOptionsRule(), text));
    }

    [Fact]
    public void XACT_ABORT_switched_off_outside_a_refusal_guard_is_reported()
    {
        var text = Procedure(work: "        SET XACT_ABORT OFF; -- off\n" + CleanWork);
        var finding = AssertSingle(Run(new SessionOptionsRule(), text), "DBM001", text, "-- off");
        Assert.Contains("XACT_ABORT off", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void XACT_ABORT_may_be_switched_off_inside_a_guard_that_throws()
    {
        var text = Procedure(prologue: CleanPrologue + """

                    IF @@TRANCOUNT > 0
                    BEGIN
                        SET XACT_ABORT OFF;
                        THROW 51001, N'api.X_Y: called inside a transaction.', 1;
                    END;
                """);
        AssertClean(Run(new SessionOptionsRule(), text));
    }

    // ---- DBM002 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_procedure_without_TRY_is_reported_at_its_CREATE()
    {
        var text = """
            SET ANSI_NULLS ON;
            SET QUOTED_IDENTIFIER ON;
            GO
            CREATE OR ALTER PROCEDURE api.X_Y
                @Id int
            AS
            BEGIN
                SET NOCOUNT, XACT_ABORT ON;
                SELECT d.DocumentId FROM app.Document AS d WHERE d.DocumentId = @Id;
            END;
            GO
            """;
        var finding = AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "CREATE OR ALTER PROCEDURE");
        Assert.Contains("BEGIN TRY", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Work_before_the_TRY_is_reported()
    {
        var text = Procedure(prologue: CleanPrologue + "\n    UPDATE app.Document SET Title = N'early' WHERE DocumentId = @Id;");
        var finding = AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "N'early'");
        Assert.Contains("before its BEGIN TRY", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_before_the_TRY_that_queries_a_table_is_reported()
    {
        var text = Procedure(prologue: CleanPrologue + """

                    IF NOT EXISTS (SELECT 1 FROM app.Document AS d WHERE d.DocumentId = @Id) -- query
                        THROW 51000, N'api.X_Y: no such document.', 1;
                """);
        AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- query");
    }

    [Fact]
    public void A_result_set_after_END_CATCH_is_reported()
    {
        var text = Procedure(epilogue: "    SELECT d.DocumentId FROM app.Document AS d WHERE d.DocumentId = @Id; -- after");
        var finding = AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- after");
        Assert.Contains("after its END CATCH", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CATCH_that_selects_the_error_and_returns_swallows_it_and_is_reported()
    {
        var text = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    SELECT ERROR_NUMBER() AS ErrorNumber, ERROR_MESSAGE() AS ErrorMessage;
                    RETURN 1;
            """);
        var findings = Run(new TryCatchRule(), text);
        Assert.All(findings, f => Assert.Equal("DBM002", f.Rule));
        Assert.Contains(findings, f => f.Line == LineOf(text, "ERROR_NUMBER()") && f.Message.Contains("SELECT", StringComparison.Ordinal) && f.Message.Contains("api.X_Y", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.Line == LineOf(text, "RETURN 1;") && f.Message.Contains("does not end with a bare THROW", StringComparison.Ordinal));
    }

    [Fact]
    public void A_CATCH_that_does_not_roll_back_first_is_reported()
    {
        var text = Procedure(catchBlock: "        THROW; -- no rollback");
        var finding = AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- no rollback");
        Assert.Contains("IF @@TRANCOUNT > 0 ROLLBACK", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_CATCH_that_writes_to_an_application_table_is_reported()
    {
        var text = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    UPDATE app.Document SET Title = N'failed' WHERE DocumentId = @Id;
                    THROW;
            """);
        AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "N'failed'");
    }

    [Fact]
    public void A_guard_before_the_TRY_and_failure_logging_into_dbmerge_in_the_CATCH_are_accepted()
    {
        var text = Procedure(
            prologue: CleanPrologue + """

                    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
                    BEGIN
                        SET XACT_ABORT OFF;
                        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.X_Y: called inside a transaction or with IMPLICIT_TRANSACTIONS ON (%d).', @@TRANCOUNT);
                        THROW 51001, @OpenMessage, 1;
                    END;
                """,
            catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK;
                    INSERT INTO dbmerge.MergeRun (MergeRunId, ErrorNumber) VALUES (1, ERROR_NUMBER());
                    THROW;
            """,
            errors: "51000 missing, 51001 in a transaction");
        foreach (var rule in ProcedureRules.All)
        {
            AssertClean(Run(rule, text));
        }
    }

    [Fact]
    public void A_CATCH_may_log_through_a_dbmerge_procedure_and_translate_a_lock_timeout_into_its_own_number()
    {
        var text = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    DECLARE @ErrorNumber int = ERROR_NUMBER();
                    SET @Message = ERROR_MESSAGE();
                    IF @ErrorNumber = 1222
                    BEGIN
                        SET @Message = FORMATMESSAGE(N'api.X_Y: a lock was not granted (%s).', ERROR_MESSAGE());
                    END;
                    EXEC dbmerge.MergeRun_Finish @MergeRunId = 1, @Outcome = NULL, @ErrorNumber = @ErrorNumber, @ErrorMessage = @Message, @SummaryJson = NULL;
                    IF ERROR_NUMBER() = 1222 THROW 51002, @Message, 1;
                    THROW;
            """,
            errors: "51000 missing, 51002 lock timeout");

        AssertClean(Run(new TryCatchRule(), text));
    }

    [Fact]
    public void A_CATCH_may_log_through_a_dbmerge_procedure_only_for_some_errors_but_not_read_a_table_to_decide()
    {
        var guarded = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    DECLARE @ErrorNumber int = ERROR_NUMBER();
                    IF @ErrorNumber <> 51118
                        EXEC dbmerge.MergeRun_Finish @MergeRunId = 1, @Outcome = NULL, @ErrorNumber = @ErrorNumber, @ErrorMessage = NULL, @SummaryJson = NULL;
                    THROW;
            """);
        AssertClean(Run(new TryCatchRule(), guarded));

        var reading = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    IF EXISTS (SELECT 1 FROM dbmerge.MergeRun AS r WHERE r.MergeRunId = 1) -- reads
                        EXEC dbmerge.MergeRun_Finish @MergeRunId = 1, @Outcome = NULL, @ErrorNumber = 1, @ErrorMessage = NULL, @SummaryJson = NULL;
                    THROW;
            """);
        AssertSingle(Run(new TryCatchRule(), reading), "DBM002", reading, "-- reads");
    }

    [Fact]
    public void A_CATCH_that_executes_a_procedure_outside_dbmerge_is_reported()
    {
        var text = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    EXEC api.Document_Tree @DocumentId = @Id; -- not logging
                    THROW;
            """);

        AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- not logging");
    }

    [Fact]
    public void A_CATCH_translation_that_reads_a_table_is_reported()
    {
        var text = Procedure(catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    IF EXISTS (SELECT 1 FROM app.Document AS d WHERE d.DocumentId = @Id) -- work
                        THROW 51002, N'api.X_Y: exists', 1;
                    THROW;
            """,
            errors: "51000 missing, 51002 exists");

        AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- work");
    }

    [Fact]
    public void A_CATCH_that_translates_the_engine_lock_timeout_into_its_own_number_is_accepted()
    {
        var text = Procedure(
            prologue: GuardedPrologue,
            catchBlock: """
                    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                    IF ERROR_NUMBER() = 1222
                    BEGIN
                        SET @Message = FORMATMESSAGE(N'api.X_Y: a lock was not granted in time (line %d); retry.', ERROR_LINE());
                        THROW 51002, @Message, 1;
                    END;
                    THROW;
            """,
            errors: GuardedErrors + ", 51002  a lock was not granted in time");
        foreach (var rule in ProcedureRules.All)
        {
            AssertClean(Run(rule, text));
        }
    }

    [Theory]
    [InlineData("IF ERROR_NUMBER() = 1222 -- other\n        BEGIN\n            UPDATE app.Document SET Title = N'x' WHERE DocumentId = @Id;\n            THROW 51001, N'api.X_Y: x', 1;\n        END;")]
    [InlineData("IF ERROR_NUMBER() = 1222 -- other\n            SET @Message = N'api.X_Y: x';\n        ELSE\n            THROW 51001, N'api.X_Y: x', 1;")]
    public void A_CATCH_translation_that_does_other_work_or_has_an_ELSE_is_reported(string translation)
    {
        var text = Procedure(
            catchBlock: "        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;\n        " + translation + "\n        THROW;",
            errors: "51000 missing, 51001 lock timeout");
        var finding = AssertSingle(Run(new TryCatchRule(), text), "DBM002", text, "-- other");
        Assert.Contains("its CATCH block runs", finding.Message, StringComparison.Ordinal);
    }

    // ---- DBM003 -------------------------------------------------------------------------------------------

    [Fact]
    public void RAISERROR_with_severity_16_is_reported()
    {
        var text = Procedure(work: "        RAISERROR(N'api.X_Y: failed', 16, 1);");
        var finding = AssertSingle(Run(new ThrowNotRaiseErrorRule(), text), "DBM003", text, "RAISERROR");
        Assert.Contains("THROW", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RAISERROR_with_a_variable_severity_is_reported()
    {
        var text = Procedure(work: "        DECLARE @Severity int = 10;\n        RAISERROR(N'api.X_Y: progress', @Severity, 1) WITH NOWAIT;");
        AssertSingle(Run(new ThrowNotRaiseErrorRule(), text), "DBM003", text, "RAISERROR");
    }

    [Fact]
    public void A_progress_message_with_severity_10_WITH_NOWAIT_is_allowed()
    {
        var text = Procedure(work: CleanWork + "\n        RAISERROR(N'api.X_Y: step 2 of 3', 10, 1) WITH NOWAIT;\n        RAISERROR(N'api.X_Y: note', 0, 1);");
        AssertClean(Run(new ThrowNotRaiseErrorRule(), text));
    }

    // ---- DBM004 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_MERGE_statement_is_reported()
    {
        var text = Procedure(work: """
                    MERGE app.DocumentFavorite AS t
                    USING (SELECT @Id AS DocumentId, 1 AS UserId) AS s ON t.DocumentId = s.DocumentId AND t.UserId = s.UserId
                    WHEN NOT MATCHED THEN INSERT (DocumentId, UserId) VALUES (s.DocumentId, s.UserId);
            """);
        var finding = AssertSingle(Run(new NoMergeStatementRule(), text), "DBM004", text, "MERGE app.DocumentFavorite");
        Assert.Contains("UPDLOCK, SERIALIZABLE", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_house_upsert_is_not_a_MERGE()
    {
        var text = Procedure(work: """
                    UPDATE app.DocumentFavorite WITH (UPDLOCK, SERIALIZABLE) SET CreatedAt = SYSUTCDATETIME() WHERE DocumentId = @Id AND UserId = 1;
                    IF @@ROWCOUNT = 0
                        INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@Id, 1);
            """);
        AssertClean(Run(new NoMergeStatementRule(), text));
    }

    // ---- DBM005 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("SELECT * FROM app.Document AS d WHERE d.DocumentId = @Id; -- star", "*")]
    [InlineData("SELECT d.* FROM app.Document AS d WHERE d.DocumentId = @Id; -- star", "d.*")]
    [InlineData("IF EXISTS (SELECT * FROM app.Document AS d WHERE d.DocumentId = @Id) SET @Message = N'x'; -- star", "*")]
    public void A_select_star_is_reported_also_inside_EXISTS(string statement, string shown)
    {
        var text = Procedure(work: "        " + statement);
        var finding = AssertSingle(Run(new NoSelectStarRule(), text), "DBM005", text, "-- star");
        Assert.Contains($"selects {shown}", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void COUNT_star_and_EXISTS_SELECT_1_are_not_select_star()
    {
        var text = Procedure(work: """
                    IF EXISTS (SELECT 1 FROM app.Document AS d WHERE d.DocumentId = @Id)
                        SELECT COUNT(*) AS Documents, COUNT_BIG(*) AS Big FROM app.Document AS d;
            """);
        AssertClean(Run(new NoSelectStarRule(), text));
    }

    [Fact]
    public void A_select_star_in_a_view_is_reported_with_the_view_name()
    {
        var text = """
            SET ANSI_NULLS ON;
            SET QUOTED_IDENTIFIER ON;
            GO
            CREATE OR ALTER VIEW dbmerge.Documents
            AS
            SELECT * FROM app.Document;
            GO
            """;
        AssertSingle(Run(new NoSelectStarRule(), text, "database/dbmerge/Views/dbmerge.Documents.sql"), "DBM005", text, "SELECT *", "view dbmerge.Documents");
    }

    // ---- DBM006 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("SELECT d.DocumentId FROM app.Document AS d WITH (NOLOCK) WHERE d.DocumentId = @Id; -- dirty", "NOLOCK")]
    [InlineData("SELECT d.DocumentId FROM app.Document AS d WITH (READUNCOMMITTED) WHERE d.DocumentId = @Id; -- dirty", "READUNCOMMITTED")]
    [InlineData("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; -- dirty", "READ UNCOMMITTED")]
    public void Dirty_reads_are_reported(string statement, string shown)
    {
        var text = Procedure(work: "        " + statement);
        var finding = AssertSingle(Run(new NoReadUncommittedRule(), text), "DBM006", text, "-- dirty");
        Assert.Contains(shown, finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void READPAST_UPDLOCK_and_READ_COMMITTED_are_allowed()
    {
        var text = Procedure(work: """
                    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
                    SELECT TOP (10) o.OutboxId FROM dbmerge.Outbox AS o WITH (READPAST, UPDLOCK, ROWLOCK) ORDER BY o.OutboxId;
            """);
        AssertClean(Run(new NoReadUncommittedRule(), text));
    }
}
