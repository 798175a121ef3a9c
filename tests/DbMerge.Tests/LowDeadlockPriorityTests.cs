using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests;

/// <summary>
/// README "Which procedures can meet": the procedures whose residual cycle with a user merge is resolved by making them
/// the deadlock victim run at <c>SET DEADLOCK_PRIORITY LOW</c>, set before the TRY (before any table access; a SET
/// inside a procedure reverts when it returns), and DbMergeClient runs a victim (1205) again: api.Document_Move
/// (app.Document rows) and the four invitation procedures (defence in depth: the cycle through an address held by an
/// account merged into the merge's source is closed by lock order since review 14 — the merge U-locks it in L2).
/// </summary>
public sealed class LowDeadlockPriorityTests
{
    public static TheoryData<string> Procedures => new(
        "api.Document_Move",
        "api.Invitation_Create",
        "api.Invitation_Accept",
        "api.Invitation_Decline",
        "api.Invitation_Revoke");

    private static SqlScriptFile File(string procedure) => ProcedureContract.Load($"database/api/Procedures/{procedure}.sql");

    [Theory]
    [MemberData(nameof(Procedures))]
    public void The_procedure_runs_at_low_deadlock_priority_before_any_table_access_so_it_is_the_victim_of_a_deadlock_with_a_merge(string procedure)
    {
        var violation = ProcedureContract.LowDeadlockPriorityViolation(ProcedureContract.ParseProcedure(File(procedure)));

        Assert.True(violation is null, $"{procedure}: {violation}");
    }

    [Theory]
    [MemberData(nameof(Procedures))]
    public void The_header_says_the_procedure_is_the_victim_and_who_runs_it_again(string procedure)
    {
        var header = ProcedureContract.Header(File(procedure).RelativePath);

        Assert.Contains("DEADLOCK_PRIORITY LOW", header, StringComparison.Ordinal);
        Assert.Contains("1205", header, StringComparison.Ordinal);
        Assert.Contains("DbMergeClient.", header, StringComparison.Ordinal);
    }

    private const string Setting = "    SET DEADLOCK_PRIORITY LOW;\n";

    /// <summary>A copy of <paramref name="procedure"/>'s file with its text changed, parsed.</summary>
    private static string? ViolationOfPlanted(string procedure, Func<string, string> plant)
    {
        var file = File(procedure);
        Assert.Contains(Setting, file.Text, StringComparison.Ordinal);
        var planted = plant(file.Text);
        Assert.NotEqual(file.Text, planted);
        return ProcedureContract.LowDeadlockPriorityViolation(ProcedureContract.ParseProcedure(file with { Text = planted }));
    }

    [Theory]
    [MemberData(nameof(Procedures))]
    public void A_planted_copy_without_the_setting_is_caught(string procedure) =>
        Assert.Contains("0 SET DEADLOCK_PRIORITY", ViolationOfPlanted(procedure, t => t.Replace(Setting, string.Empty, StringComparison.Ordinal)));

    [Fact]
    public void A_planted_copy_with_the_setting_inside_the_TRY_is_caught() =>
        Assert.Contains("must come before the TRY", ViolationOfPlanted("api.Invitation_Create", t => t
            .Replace(Setting, string.Empty, StringComparison.Ordinal)
            .Replace("    BEGIN TRY\n", "    BEGIN TRY\n" + Setting, StringComparison.Ordinal)));

    [Fact]
    public void A_planted_copy_that_reads_a_table_before_the_setting_is_caught() =>
        Assert.Contains("a table is accessed before", ViolationOfPlanted("api.Invitation_Accept", t => t
            .Replace(Setting, "    DECLARE @Planted int = (SELECT COUNT(*) FROM app.Invitation);\n" + Setting, StringComparison.Ordinal)));

    [Fact]
    public void A_planted_copy_with_another_priority_is_caught() =>
        Assert.Contains("is not LOW", ViolationOfPlanted("api.Invitation_Revoke", t => t.Replace(Setting, "    SET DEADLOCK_PRIORITY NORMAL;\n", StringComparison.Ordinal)));
}
