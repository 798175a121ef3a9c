using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;
using static DbMerge.Tests.Schema.HouseRules.ProcedureRuleHarness;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>
/// DBM013: a procedure that issues BEGIN TRANSACTION refuses a caller's open transaction and IMPLICIT_TRANSACTIONS ON
/// with an IF @@TRANCOUNT &gt; 0 OR (@@OPTIONS &amp; 2) = 2 guard (SET XACT_ABORT OFF, THROW with a literal number) before
/// its TRY, before any BEGIN TRANSACTION and before any statement that could open an implicit transaction. Each violation
/// is planted and reported with rule id, line and object; each clean shape passes.
/// </summary>
public sealed class OwnTransactionGuardRuleTests
{
    private const string RuleId = OwnTransactionGuardRule.RuleId;

    private const string Guard = """
                IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2 -- guard
                BEGIN
                    SET XACT_ABORT OFF;
                    DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.X_Y: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (%d); call it outside one.', @@TRANCOUNT);
                    THROW 51001, @OpenMessage, 1;
                END;
        """;

    private const string WorkWithoutTransaction = """
                IF @Id IS NULL
                BEGIN
                    SET @Message = FORMATMESSAGE(N'api.X_Y: @Id is required (got %s).', N'NULL');
                    THROW 51000, @Message, 1;
                END;

                SELECT d.DocumentId, d.Title FROM app.Document AS d WHERE d.DocumentId = @Id;
        """;

    private static IReadOnlyList<Finding> Check(string text) => Run(new OwnTransactionGuardRule(), text);

    // ---- planted violations --------------------------------------------------------------------------------

    [Fact]
    public void A_procedure_that_begins_a_transaction_without_a_guard_is_reported_at_its_BEGIN_TRANSACTION()
    {
        var text = Procedure();

        var finding = AssertSingle(Check(text), RuleId, text, "BEGIN TRANSACTION;");

        Assert.Contains("IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2", finding.Message, StringComparison.Ordinal);
        Assert.Contains("SET XACT_ABORT OFF", finding.Message, StringComparison.Ordinal);
        Assert.Contains("before its BEGIN TRY", finding.Message, StringComparison.Ordinal);
        Assert.Equal(DefaultPath, finding.File);
    }

    [Fact]
    public void A_guard_that_does_not_switch_XACT_ABORT_off_is_reported_at_the_guard()
    {
        var text = Procedure(prologue: CleanPrologue + """

                    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2 -- guard
                        THROW 51001, N'api.X_Y: called inside an open transaction.', 1;
                """);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains("does not SET XACT_ABORT OFF", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("does not test IMPLICIT_TRANSACTIONS", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("inside the TRY", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_inside_the_TRY_is_reported_because_the_CATCH_would_still_roll_the_callers_work_back()
    {
        var text = Procedure(work: Guard + "\n" + CleanWork);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains("is inside the TRY", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_after_a_BEGIN_TRANSACTION_is_reported_at_the_guard_and_names_that_line()
    {
        var text = Procedure(prologue: CleanPrologue + "\n    BEGIN TRANSACTION; -- early\n" + Guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains($"after the BEGIN TRANSACTION at line {LineOf(text, "-- early")}", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("inside the TRY", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_that_throws_a_variable_number_is_reported()
    {
        var text = Procedure(prologue: CleanPrologue + """

                    DECLARE @Number int = 51001;
                    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2 -- guard
                    BEGIN
                        SET XACT_ABORT OFF;
                        THROW @Number, N'api.X_Y: called inside an open transaction.', 1;
                    END;
                """);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains("literal", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_that_only_rolls_back_is_not_a_guard_and_the_BEGIN_TRANSACTION_is_reported()
    {
        var text = Procedure(prologue: CleanPrologue + "\n    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; -- not a refusal\n");

        AssertSingle(Check(text), RuleId, text, "BEGIN TRANSACTION;");
    }

    [Fact]
    public void A_transaction_begun_only_in_a_nested_block_still_needs_the_guard()
    {
        var work = CleanWork.Replace("BEGIN TRANSACTION;", "IF @Id > 0\n            BEGIN TRANSACTION; -- nested", StringComparison.Ordinal)
            .Replace("COMMIT TRANSACTION;", "IF @@TRANCOUNT > 0 COMMIT TRANSACTION;", StringComparison.Ordinal);
        var text = Procedure(work: work);

        AssertSingle(Check(text), RuleId, text, "-- nested");
    }

    [Fact]
    public void A_guard_that_tests_only_TRANCOUNT_is_reported_because_IMPLICIT_TRANSACTIONS_would_leave_the_work_open()
    {
        var guard = Guard.Replace("IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2", "IF @@TRANCOUNT > 0", StringComparison.Ordinal);
        var text = Procedure(prologue: CleanPrologue + "\n" + guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains("does not test IMPLICIT_TRANSACTIONS", finding.Message, StringComparison.Ordinal);
        Assert.Contains("(@@OPTIONS & 2) = 2", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("XACT_ABORT OFF (", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_whose_OPTIONS_test_checks_another_bit_is_reported()
    {
        var guard = Guard.Replace("(@@OPTIONS & 2) = 2", "(@@OPTIONS & 16384) = 16384", StringComparison.Ordinal);
        var text = Procedure(prologue: CleanPrologue + "\n" + guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains("does not test IMPLICIT_TRANSACTIONS", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_ANDed_with_the_OPTIONS_test_is_not_a_guard_and_the_BEGIN_TRANSACTION_is_reported()
    {
        var guard = Guard.Replace(" OR (@@OPTIONS", " AND (@@OPTIONS", StringComparison.Ordinal);
        var text = Procedure(prologue: CleanPrologue + "\n" + guard);

        AssertSingle(Check(text), RuleId, text, "BEGIN TRANSACTION;");
    }

    [Fact]
    public void A_guard_after_a_table_read_is_reported_because_the_read_opens_the_implicit_transaction_first()
    {
        var text = Procedure(prologue: """
                    SET NOCOUNT, XACT_ABORT ON;

                    DECLARE @Message nvarchar(2048);
                    DECLARE @Title nvarchar(255) = (SELECT d.Title FROM app.Document AS d WHERE d.DocumentId = @Id); -- read
                """ + "\n" + Guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains($"may open an implicit transaction (line {LineOf(text, "-- read")}", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_after_a_SELECT_from_a_table_is_reported()
    {
        var text = Procedure(prologue: CleanPrologue + "\n    SELECT @Message = d.Title FROM app.Document AS d WHERE d.DocumentId = @Id; -- read\n" + Guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains($"line {LineOf(text, "-- read")}", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_whose_message_reads_a_table_is_reported_because_that_read_opens_the_implicit_transaction_it_refuses()
    {
        var guard = Guard.Replace(
            "DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(",
            "DECLARE @Title nvarchar(255) = (SELECT d.Title FROM app.Document AS d WHERE d.DocumentId = @Id); -- read\n                    DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(",
            StringComparison.Ordinal);
        Assert.NotEqual(Guard, guard);
        var text = Procedure(prologue: CleanPrologue + "\n" + guard);

        var finding = AssertSingle(Check(text), RuleId, text, "-- guard");

        Assert.Contains($"may open an implicit transaction (line {LineOf(text, "-- read")}", finding.Message, StringComparison.Ordinal);
        Assert.Contains("builds its refusal", finding.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("IF (@@OPTIONS & 2) = 2 OR @@TRANCOUNT > 0")]
    [InlineData("IF (@@TRANCOUNT > 0 OR (@@OPTIONS & 2) <> 0)")]
    [InlineData("IF @@TRANCOUNT <> 0 OR @@OPTIONS & 2 = 2")]
    [InlineData("IF 0 < @@TRANCOUNT OR 2 = (2 & @@OPTIONS)")]
    [InlineData("IF @@TRANCOUNT != 0 OR (@@OPTIONS & 2) > 0")]
    public void The_guard_may_write_both_tests_in_other_equivalent_forms(string test)
    {
        var guard = Guard.Replace("IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2", test, StringComparison.Ordinal);
        AssertClean(Check(Procedure(prologue: CleanPrologue + "\n" + guard)));
    }

    [Fact]
    public void SET_options_and_DECLAREs_that_read_no_table_may_precede_the_guard()
    {
        var prologue = """
                    SET NOCOUNT, XACT_ABORT ON;
                    SET LOCK_TIMEOUT 1000;
                    SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
                    DECLARE @Message nvarchar(2048) = CONCAT(N'x', @Id);
                    DECLARE @Seen TABLE (Id int NOT NULL);
            """ + "\n" + Guard;

        AssertClean(Check(Procedure(prologue: prologue)));
    }

    // ---- clean counterparts --------------------------------------------------------------------------------

    [Fact]
    public void A_procedure_guarded_like_api_User_Merge_passes()
    {
        AssertClean(Check(Procedure(prologue: GuardedPrologue, errors: GuardedErrors)));
    }

    [Fact]
    public void The_guard_may_test_TRANCOUNT_not_equal_to_zero_in_parentheses()
    {
        var guard = Guard.Replace("IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2", "IF ((@@TRANCOUNT <> 0) OR ((@@OPTIONS & 2) = 2))", StringComparison.Ordinal);
        AssertClean(Check(Procedure(prologue: CleanPrologue + "\n" + guard)));
    }

    [Fact]
    public void A_procedure_without_BEGIN_TRANSACTION_needs_no_guard()
    {
        AssertClean(Check(Procedure(work: WorkWithoutTransaction)));
    }

    [Fact]
    public void A_procedure_that_requires_its_callers_transaction_like_User_MergeCore_passes()
    {
        var work = """
                    IF @@TRANCOUNT = 0
                    BEGIN
                        SET @Message = FORMATMESSAGE(N'api.X_Y: requires its caller''s transaction (document %d).', @Id);
                        THROW 51001, @Message, 1;
                    END;

                    UPDATE app.Document SET Title = N'x' WHERE DocumentId = @Id;
            """;

        AssertClean(Check(Procedure(work: work)));
    }

    [Fact]
    public void BEGIN_TRANSACTION_in_a_comment_or_string_does_not_count()
    {
        var work = "        -- BEGIN TRANSACTION is the caller's job\n        SET @Message = N'BEGIN TRANSACTION';\n" + WorkWithoutTransaction;
        AssertClean(Check(Procedure(work: work)));
    }

    // ---- the repository ------------------------------------------------------------------------------------

    [Fact]
    public void Every_procedure_in_the_repository_that_begins_a_transaction_has_the_guard()
    {
        var scripts = Repo.Layout.DatabaseObjects().Select(f => SqlText.Parse(f)).ToList();
        var context = new HouseRuleContext(Repo.Layout, scripts);
        var owning = ProcedureRuleSupport.Procedures(context)
            .Where(p => ProcedureRuleSupport.All<BeginTransactionStatement>(p.Statement).Any())
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(
            [
                "api.Collection_ClaimLegacy", "api.Collection_ClaimSession", "api.Collection_UndoClaim",
                "api.Document_Create", "api.Document_Move", "api.Invitation_Accept", "api.Invitation_Create", "api.Invitation_Decline",
                "api.Invitation_Revoke", "api.Reconciliation_Confirm", "api.Reconciliation_ImportBatch", "api.Reconciliation_ImportBegin",
                "api.Reconciliation_ImportFinish", "api.User_Merge", "api.User_Sweep", "api.User_Unmerge", "dbmerge.Constraint_Trust", "dbmerge.Constraint_ValidateBatch",
                "dbmerge.Reconciliation_ProcessOne",
            ],
            owning);
        AssertClean(new OwnTransactionGuardRule().Check(context).ToList());
    }

    [Theory]
    [InlineData("database/api/Procedures/api.User_Merge.sql")]
    [InlineData("database/api/Procedures/api.Document_Move.sql")]
    [InlineData("database/dbmerge/Procedures/dbmerge.Constraint_ValidateBatch.sql")]
    public void A_repository_guard_that_loses_its_OPTIONS_test_is_reported_at_the_guard(string relative)
    {
        var text = File.ReadAllText(Path.Combine(Repo.Layout.Root, relative.Replace('/', Path.DirectorySeparatorChar)));
        Assert.Empty(Run(new OwnTransactionGuardRule(), text, relative));
        var planted = text.Replace("IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2\n", "IF @@TRANCOUNT > 0\n", StringComparison.Ordinal);
        Assert.NotEqual(text, planted);

        var finding = Assert.Single(Run(new OwnTransactionGuardRule(), planted, relative));

        Assert.Equal(relative, finding.File);
        Assert.Equal(LineOf(planted, "    IF @@TRANCOUNT > 0"), finding.Line);
        Assert.Contains("does not test IMPLICIT_TRANSACTIONS", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_guard_removed_in_a_scratch_copy_is_reported_by_the_verifier_with_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        try
        {
            const string relative = "database/api/Procedures/api.Invitation_Decline.sql";
            var path = Path.Combine(copy.Root, relative.Replace('/', Path.DirectorySeparatorChar));
            var text = File.ReadAllText(path);
            var start = text.IndexOf("    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2\n", StringComparison.Ordinal);
            var end = text.IndexOf("    END;\n", start, StringComparison.Ordinal) + "    END;\n".Length;
            Assert.True(start > 0 && end > start, "the guard of api.Invitation_Decline was not found");
            var planted = text[..start] + text[end..];
            File.WriteAllText(path, planted);

            using var result = SchemaVerifier.Verify(copy, new VerificationOptions { RunCodeAnalysis = false });

            var finding = Assert.Single(result.Findings, f => f.Rule == RuleId);
            Assert.Equal(relative, finding.File);
            Assert.Equal(LineOf(planted, "        BEGIN TRANSACTION;"), finding.Line);
            Assert.Contains("api.Invitation_Decline", finding.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(copy.Root, recursive: true);
        }
    }
}
