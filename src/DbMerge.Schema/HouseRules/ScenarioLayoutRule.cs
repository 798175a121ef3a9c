using System.Text.RegularExpressions;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM050: the layout of a scenario file (<see cref="ScenarioScripts"/>). <c>src/DbMerge.Scenarios/Sql/scenario.&lt;Name&gt;.sql</c>
/// (Name: a letter, then letters and digits) starts with <c>SET ANSI_NULLS ON;</c>, <c>SET QUOTED_IDENTIFIER ON;</c>,
/// <c>GO</c>, then holds exactly one statement, <c>CREATE OR ALTER PROCEDURE scenario.&lt;Name&gt;</c>, preceded by a header
/// comment that names it. Any <c>THROW</c> number is a literal outside 51000–51999: that block is the api's, documented in
/// the client's registry; a scenario's own errors use 50000–50999.
/// </summary>
public sealed partial class ScenarioLayoutRule : IHouseRule
{
    public const string RuleId = "DBM050";

    private static readonly string[] ExpectedHeader = ["SET ANSI_NULLS ON;", "SET QUOTED_IDENTIFIER ON;", "GO"];

    public string Id => RuleId;

    public string Description =>
        "A scenario file scenario.<Name>.sql starts with SET ANSI_NULLS ON; SET QUOTED_IDENTIFIER ON; GO and holds one CREATE OR ALTER " +
        "PROCEDURE scenario.<Name> with a header comment; its THROW numbers stay outside 51000-51999.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Scripts.Where(s => ScenarioScripts.IsScenarioPath(s.File.RelativePath)).SelectMany(CheckScript).ToList();
    }

    private static IEnumerable<Finding> CheckScript(ParsedScript script)
    {
        var path = script.File.RelativePath;
        var fileName = Path.GetFileNameWithoutExtension(path);
        if (path.LastIndexOf('/') != ScenarioScripts.Folder.Length || !FileName().IsMatch(fileName))
        {
            yield return new Finding(path, 1, RuleId,
                $"{path}: a scenario file is {ScenarioScripts.Folder}/scenario.<Name>.sql (Name: a letter, then letters and digits), " +
                "directly in that folder, holding CREATE OR ALTER PROCEDURE scenario.<Name>.");
            yield break;
        }

        var lines = script.File.Text.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < ExpectedHeader.Length; i++)
        {
            var actual = i < lines.Length ? Spaces().Replace(lines[i].Trim(), " ") : string.Empty;
            if (!string.Equals(actual, ExpectedHeader[i], StringComparison.OrdinalIgnoreCase))
            {
                yield return new Finding(path, i + 1, RuleId,
                    $"{fileName}: line {i + 1} must be '{ExpectedHeader[i]}': a scenario file starts with the three lines " +
                    "'SET ANSI_NULLS ON;', 'SET QUOTED_IDENTIFIER ON;', 'GO' (the settings the procedure is compiled with).");
                yield break;
            }
        }

        if (script.Fragment is not TSqlScript tsql)
        {
            yield break;
        }

        var statements = tsql.Batches
            .SelectMany((batch, b) => batch.Statements.Where(s => !(b == 0 && s is PredicateSetStatement)))
            .ToList();
        if (statements is not [CreateOrAlterProcedureStatement procedure])
        {
            var at = statements.FirstOrDefault(s => s is not CreateOrAlterProcedureStatement) ?? (TSqlFragment)tsql;
            yield return Finding(script, at, RuleId,
                $"{fileName} holds {(statements.Count == 0 ? "no statement" : string.Join(", ", statements.Select(SqlText.StatementKind)))}: " +
                $"a scenario file holds exactly one CREATE OR ALTER PROCEDURE {fileName} (one procedure per file).");
            yield break;
        }

        var name = SqlText.Display(procedure.ProcedureReference.Name);
        if (!string.Equals(name, fileName, StringComparison.Ordinal))
        {
            yield return Finding(script, procedure, RuleId,
                $"{fileName}.sql creates procedure {name}: a scenario file holds CREATE OR ALTER PROCEDURE {fileName} " +
                $"(schema {ScenarioScripts.Schema}, named as the file).");
        }

        var header = HeaderComment(procedure);
        if (!header.Contains(fileName, StringComparison.Ordinal) && !header.Contains(name, StringComparison.Ordinal))
        {
            yield return Finding(script, procedure, RuleId,
                $"procedure {name} has no header comment naming it: say what it seeds, its parameters, its result set and an example call.");
        }

        foreach (var error in All<ThrowStatement>(procedure).Where(t => t.ErrorNumber is not null))
        {
            if (error.ErrorNumber is not IntegerLiteral literal || !int.TryParse(literal.Value, out var number))
            {
                yield return Finding(script, error, RuleId, $"procedure {name}: THROW with a literal number (50000-50999 for a scenario).");
            }
            else if (number is >= 51000 and <= 51999)
            {
                yield return Finding(script, error, RuleId,
                    $"procedure {name} throws {number}: 51000-51999 is the api's block, documented in the client's registry; " +
                    "a scenario's own errors use 50000-50999.");
            }
        }
    }

    [GeneratedRegex(@"^scenario\.[A-Za-z][A-Za-z0-9]*$")]
    private static partial Regex FileName();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
