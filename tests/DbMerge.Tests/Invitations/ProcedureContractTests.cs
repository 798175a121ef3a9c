using System.Text.RegularExpressions;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbMerge.Tests.Constraints;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Invitations;

/// <summary>
/// The procedures of issue 5 (api.Invitation_*, dbmerge.Constraint_*) against their contracts: every THROW number
/// is in the client registry with the procedure that throws it, documented in the header; every registry entry of
/// 51300–51499 is thrown; and the house style the offline rules enforce holds for these files.
/// </summary>
public sealed partial class ProcedureContractTests
{
    private static readonly string[] ProcedureFiles =
    [
        "database/api/Procedures/api.Invitation_Create.sql",
        "database/api/Procedures/api.Invitation_Accept.sql",
        "database/api/Procedures/api.Invitation_Decline.sql",
        "database/api/Procedures/api.Invitation_Revoke.sql",
        "database/dbmerge/Procedures/dbmerge.Constraint_ValidateBatch.sql",
        "database/dbmerge/Procedures/dbmerge.Constraint_Trust.sql",
    ];

    public static TheoryData<string> Files => new(ProcedureFiles);

    private static SqlScriptFile Load(string relativePath) => ProcedureContract.Load(relativePath);

    private static (TSqlScript Script, CreateOrAlterProcedureStatement Procedure) Parse(string relativePath) =>
        ProcedureContract.Parse(relativePath);

    [Theory]
    [MemberData(nameof(Files))]
    public void The_file_holds_exactly_its_procedure_and_starts_with_the_session_settings(string relativePath) =>
        ProcedureContract.AssertFileHoldsItsProcedure(relativePath);

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_thrown_number_is_registered_for_its_procedure_and_documented_in_its_header(string relativePath) =>
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(relativePath, 51300, 51499);

    [Fact]
    public void Every_registered_invitation_and_constraint_error_is_thrown_by_the_procedure_it_names() =>
        ProcedureContract.AssertAreaErrorsAreThrownByTheProcedureTheyName(ProcedureFiles, 51300, 51499);

    [Theory]
    [MemberData(nameof(Files))]
    public void The_procedure_follows_the_house_rules(string relativePath) =>
        ProcedureContract.AssertHouseStyle(relativePath);

    [Fact]
    public void Accept_writes_the_membership_with_the_house_upsert_and_never_with_if_exists()
    {
        var text = HeaderComment().Replace(Load("database/api/Procedures/api.Invitation_Accept.sql").Text, string.Empty);
        Assert.DoesNotMatch(@"(?i)IF\s+(NOT\s+)?EXISTS", text);
        Assert.Equal(2, Regex.Matches(text, @"WITH \(UPDLOCK, SERIALIZABLE\)").Count);
        Assert.Equal(2, Regex.Matches(text, @"IF @@ROWCOUNT = 0\s+INSERT INTO app\.(Channel|Organization)Member").Count);
        // The UPDATE matches an existing row whatever its role (the rank comparison is inside CASE, not in WHERE),
        // so a higher existing role is kept and never falls into the INSERT branch.
        Assert.DoesNotMatch(@"WHERE[^;]*RoleRank\s*<", text);
    }

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex HeaderComment();
}
