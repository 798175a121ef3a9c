using System.Text.RegularExpressions;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests;

/// <summary>
/// The contract every procedure under database/ keeps with the client and the README, shared by the per-area
/// contract tests: the file holds exactly its procedure; every THROW number is registered for that procedure and
/// documented in the header; every registry entry of an area is thrown by the procedure it names; the house rules
/// hold; the header has its sections and business messages start with the procedure name.
/// </summary>
public static partial class ProcedureContract
{
    public static SqlScriptFile Load(string relativePath) =>
        Repo.Layout.DatabaseObjects().Single(f => f.RelativePath == relativePath);

    public static (TSqlScript Script, CreateOrAlterProcedureStatement Procedure) Parse(string relativePath)
    {
        var parsed = SqlText.Parse(Load(relativePath));
        var script = Assert.IsType<TSqlScript>(parsed.Fragment);
        var procedure = script.Batches.SelectMany(b => b.Statements).OfType<CreateOrAlterProcedureStatement>().Single();
        return (script, procedure);
    }

    public static string ProcedureName(CreateOrAlterProcedureStatement procedure) =>
        $"{procedure.ProcedureReference.Name.SchemaIdentifier.Value}.{procedure.ProcedureReference.Name.BaseIdentifier.Value}";

    /// <summary>The literal numbers of the THROW statements in <paramref name="fragment"/>, in order.</summary>
    public static IReadOnlyList<int> ThrownNumbers(TSqlFragment fragment) =>
        ErrorNumberSync.ThrowNumbers(fragment).Select(t => t.Number).ToList();

    public static IReadOnlyList<int> ThrownNumbers(string relativePath) => ThrownNumbers(Parse(relativePath).Script);

    /// <summary>The first block comment of the file (the header).</summary>
    public static string Header(string relativePath) => HeaderComment().Match(Load(relativePath).Text).Value;

    public static void AssertFileHoldsItsProcedure(string relativePath)
    {
        var (_, procedure) = Parse(relativePath);
        Assert.Equal(Path.GetFileNameWithoutExtension(relativePath), ProcedureName(procedure));
        Assert.StartsWith("SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n", Load(relativePath).Text, StringComparison.Ordinal);
    }

    public static void AssertThrownNumbersAreRegisteredAndDocumented(string relativePath, int first, int last)
    {
        var (_, procedure) = Parse(relativePath);
        var name = ProcedureName(procedure);
        var header = Header(relativePath);
        var numbers = ThrownNumbers(procedure);
        Assert.NotEmpty(numbers);
        foreach (var number in numbers.Distinct())
        {
            Assert.True(ErrorRegistry.TryGet(number, out var error), $"{name} throws {number}, which is not in the error registry.");
            Assert.InRange(number, first, last);
            Assert.Matches($@"\n\s+{number}\s+\S", header);
            Assert.False(string.IsNullOrWhiteSpace(error.Meaning));
        }
    }

    public static void AssertAreaErrorsAreThrownByTheProcedureTheyName(IEnumerable<string> files, int first, int last)
    {
        var thrownBy = files
            .Select(Parse)
            .SelectMany(p => ThrownNumbers(p.Procedure).Select(n => (Number: n, Procedure: ProcedureName(p.Procedure))))
            .ToLookup(t => t.Number, t => t.Procedure);
        var area = ErrorRegistry.All.Where(e => e.Number >= first && e.Number <= last).ToList();
        Assert.NotEmpty(area);
        foreach (var error in area)
        {
            Assert.True(thrownBy[error.Number].Contains(error.Procedure, StringComparer.OrdinalIgnoreCase),
                $"{error.Number} {error.Name} names {error.Procedure}, which does not throw it (thrown by: {string.Join(", ", thrownBy[error.Number])}).");
        }

        Assert.Equal(area.Count, area.Select(e => e.Name).Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>
    /// Every house rule (DBM001–DBM029, each proven by its own planted-violation tests) passes on the file; the
    /// header names its sections; every FORMATMESSAGE business message starts with the procedure name.
    /// </summary>
    public static void AssertHouseStyle(string relativePath, params string[] headerSections)
    {
        var file = Load(relativePath);
        var findings = HouseRuleSet.Check(Repo.Layout, [SqlText.Parse(file)]).Where(f => f.File == relativePath).ToList();
        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));

        var header = Header(relativePath);
        foreach (var section in headerSections.Length > 0 ? headerSections : ["Purpose:", "Transaction:", "Result set", "Errors:", "Example:"])
        {
            Assert.Contains(section, header, StringComparison.Ordinal);
        }

        var name = Path.GetFileNameWithoutExtension(relativePath);
        foreach (Match message in ThrowMessage().Matches(file.Text))
        {
            Assert.StartsWith(name + ":", message.Groups["text"].Value, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex HeaderComment();

    [GeneratedRegex(@"FORMATMESSAGE\(N'(?<text>[^']*)")]
    private static partial Regex ThrowMessage();
}
