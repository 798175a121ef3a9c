using System.Text.RegularExpressions;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbMerge.Tests.Constraints;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Documents;

/// <summary>
/// The procedures of issue 4 (api.Document_*) against their contracts: every THROW number is in the client registry,
/// documented in the header; every registry entry of 51200–51299 is thrown by the procedure it names; the house style
/// the offline rules enforce holds; the helper functions are inline (the move's batched path rewrite: DocumentMoveShapeTests).
/// </summary>
public sealed partial class DocumentProcedureContractTests
{
    private static readonly string[] ProcedureFiles =
    [
        "database/api/Procedures/api.Document_Create.sql",
        "database/api/Procedures/api.Document_Move.sql",
        "database/api/Procedures/api.Document_Tree.sql",
    ];

    private static readonly string[] FunctionFiles =
    [
        "database/dbmerge/Functions/dbmerge.Document_EffectiveRole.sql",
        "database/dbmerge/Functions/dbmerge.Path_Step.sql",
        "database/dbmerge/Functions/dbmerge.Path_StepNumber.sql",
    ];

    public static TheoryData<string> Files => new(ProcedureFiles);

    public static TheoryData<string> Functions => new(FunctionFiles);

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
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(relativePath, 51200, 51299);

    [Fact]
    public void Every_registered_document_error_is_thrown_by_the_procedure_it_names() =>
        ProcedureContract.AssertAreaErrorsAreThrownByTheProcedureTheyName(ProcedureFiles, 51200, 51299);

    [Theory]
    [MemberData(nameof(Files))]
    public void The_procedure_follows_the_house_rules(string relativePath) =>
        ProcedureContract.AssertHouseStyle(relativePath);

    [Theory]
    [MemberData(nameof(Functions))]
    public void The_helper_functions_are_inline_table_valued_and_documented(string relativePath)
    {
        var file = Load(relativePath);
        var fragment = MigrationSafety.Parse(file.Text, out var errors);
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors.Select(e => $"{relativePath}:{e.Line}: {e.Message}")));
        var script = Assert.IsType<TSqlScript>(fragment);
        var function = script.Batches.SelectMany(b => b.Statements).OfType<CreateOrAlterFunctionStatement>().Single();
        Assert.Equal(Path.GetFileNameWithoutExtension(relativePath), $"{function.Name.SchemaIdentifier.Value}.{function.Name.BaseIdentifier.Value}");
        Assert.IsType<SelectFunctionReturnType>(function.ReturnType);
        Assert.StartsWith("SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n", file.Text, StringComparison.Ordinal);
        foreach (var header in new[] { "Purpose:", "Result", "Transaction:", "Example:" })
        {
            Assert.Contains(header, HeaderComment().Match(file.Text).Value, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Move_and_create_take_transaction_owned_applocks_with_the_callers_timeout()
    {
        foreach (var file in new[] { "database/api/Procedures/api.Document_Move.sql", "database/api/Procedures/api.Document_Create.sql" })
        {
            var text = Load(file).Text;
            var calls = Regex.Matches(text, @"sys\.sp_getapplock[^;]*;");
            Assert.NotEmpty(calls);
            Assert.All(calls, c =>
            {
                Assert.Contains("@LockOwner = 'Transaction'", c.Value, StringComparison.Ordinal);

                // The one exception: the move's second look at its users' applocks, under the tree locks, out of the L1 order,
                // never waits (@LockTimeout = 0; DocumentMoveShapeTests checks where it is).
                if (!(c.Value.Contains("@Resource = @UserResource", StringComparison.Ordinal) && c.Value.Contains("@LockTimeout = 0;", StringComparison.Ordinal)))
                {
                    Assert.Contains("@LockTimeout = @LockTimeout", c.Value, StringComparison.Ordinal);
                }
            });
        }
    }

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex HeaderComment();
}
