using System.Text.RegularExpressions;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM010: the layout of a database/ file. Every file starts with the three lines <c>SET ANSI_NULLS ON;</c>,
/// <c>SET QUOTED_IDENTIFIER ON;</c>, <c>GO</c> (the settings a module is compiled with). Except under
/// database/permissions/, the file then holds exactly one object, created with <c>CREATE OR ALTER</c>
/// (re-runnable), of the kind its folder names (Procedures → procedure, Functions → function, Views → view),
/// named as the file and in the schema of its folder: <c>database/api/Procedures/api.Document_Move.sql</c> holds
/// exactly <c>api.Document_Move</c>. Types cannot be CREATE OR ALTER: they live in migrations/ (COMMON brief), so a
/// CREATE TYPE under database/ is a finding too. Other statements (GRANTs, DML) belong in permissions/ or migrations/.
/// </summary>
public sealed partial class FileLayoutRule : IHouseRule
{
    public const string RuleId = "DBM010";

    private static readonly string[] ExpectedHeader = ["SET ANSI_NULLS ON;", "SET QUOTED_IDENTIFIER ON;", "GO"];

    public string Id => RuleId;

    public string Description => "database/ files start with SET ANSI_NULLS ON; SET QUOTED_IDENTIFIER ON; GO and hold one CREATE OR ALTER object named as the file.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects)
        {
            foreach (var finding in CheckHeader(script))
            {
                yield return finding;
            }

            if (HouseRuleSet.KindOf(script.File.RelativePath) == "permissions" || script.Fragment is not TSqlScript tsql)
            {
                continue;
            }

            foreach (var finding in CheckObject(script, tsql))
            {
                yield return finding;
            }
        }
    }

    private static IEnumerable<Finding> CheckHeader(ParsedScript script)
    {
        var lines = script.File.Text.TrimStart('\uFEFF').Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < ExpectedHeader.Length; i++)
        {
            var actual = i < lines.Length ? Spaces().Replace(lines[i].Trim(), " ") : string.Empty;
            if (!string.Equals(actual, ExpectedHeader[i], StringComparison.OrdinalIgnoreCase))
            {
                yield return new Finding(script.File.RelativePath, i + 1, RuleId,
                    $"{ObjectOf(script)}: line {i + 1} is '{Shorten(actual)}' but a database/ file must start with the three lines " +
                    "'SET ANSI_NULLS ON;', 'SET QUOTED_IDENTIFIER ON;', 'GO' (the settings the object is compiled with).");
                yield break;
            }
        }
    }

    private static IEnumerable<Finding> CheckObject(ParsedScript script, TSqlScript tsql)
    {
        var path = script.File.RelativePath;
        var expectedName = Path.GetFileNameWithoutExtension(path);
        var parts = path.Split('/');
        var folderSchema = parts.Length >= 4 ? parts[1] : null;
        var folderKind = HouseRuleSet.KindOf(path);

        var statements = new List<TSqlStatement>();
        for (var b = 0; b < tsql.Batches.Count; b++)
        {
            foreach (var statement in tsql.Batches[b].Statements)
            {
                if (b == 0 && statement is PredicateSetStatement)
                {
                    continue;
                }

                statements.Add(statement);
            }
        }

        if (statements.Count == 0)
        {
            yield return new Finding(path, 1, RuleId,
                $"file {expectedName} creates no object: a database/ file holds exactly one CREATE OR ALTER {ExpectedKind(folderKind)} named {expectedName}.");
            yield break;
        }

        var first = statements[0];
        foreach (var extra in statements.Skip(1))
        {
            yield return Finding(script, extra, RuleId,
                $"file {expectedName} holds a second statement ({SqlText.StatementKind(extra)}) after {SqlText.StatementKind(first)}: " +
                "a database/ file holds exactly one object; put permissions in database/permissions/ and data or schema changes in a migration.");
        }

        var (kind, name, createOrAlter) = first switch
        {
            CreateOrAlterProcedureStatement p => ("Procedures", SqlText.Display(p.ProcedureReference.Name), true),
            ProcedureStatementBody p => ("Procedures", SqlText.Display(p.ProcedureReference.Name), false),
            CreateOrAlterFunctionStatement f => ("Functions", SqlText.Display(f.Name), true),
            FunctionStatementBody f => ("Functions", SqlText.Display(f.Name), false),
            CreateOrAlterViewStatement v => ("Views", SqlText.Display(v.SchemaObjectName), true),
            ViewStatementBody v => ("Views", SqlText.Display(v.SchemaObjectName), false),
            CreateTypeStatement t => ("Types", SqlText.Display(t.Name), false),
            _ => (null, null, false),
        };

        if (kind is null || name is null)
        {
            yield return Finding(script, first, RuleId,
                $"file {expectedName} starts with {SqlText.StatementKind(first)}, not a CREATE OR ALTER {ExpectedKind(folderKind)}: " +
                "a database/ file holds exactly one procedure, function or view; other statements belong in permissions/ or migrations/.");
            yield break;
        }

        if (kind == "Types")
        {
            yield return Finding(script, first, RuleId,
                $"file {expectedName} creates type {name}: types cannot be CREATE OR ALTER (a re-run fails); create them in a migration.");
            yield break;
        }

        if (!createOrAlter)
        {
            yield return Finding(script, first, RuleId,
                $"{ExpectedKind(kind)} {name} is created with {SqlText.StatementKind(first)}: write CREATE OR ALTER so the file is re-runnable.");
        }

        if (!string.Equals(name, expectedName, StringComparison.Ordinal))
        {
            yield return Finding(script, first, RuleId,
                $"file {expectedName}.sql holds {ExpectedKind(kind)} {name}: name the file after its object ({name}.sql) or the object after its file.");
        }

        var schema = name.Split('.')[0];
        if (folderSchema is not null && !string.Equals(schema, folderSchema, StringComparison.Ordinal))
        {
            yield return Finding(script, first, RuleId,
                $"{ExpectedKind(kind)} {name} is in schema {schema} but its file is under database/{folderSchema}/: move it to database/{schema}/{kind}/.");
        }

        if (!string.Equals(kind, folderKind, StringComparison.Ordinal))
        {
            yield return Finding(script, first, RuleId,
                $"{ExpectedKind(kind)} {name} is under database/{folderSchema}/{folderKind}/: move it to database/{schema}/{kind}/ (deployment order follows the folder).");
        }
    }

    private static string ExpectedKind(string folderKind) => folderKind switch
    {
        "Procedures" => "procedure",
        "Functions" => "function",
        "Views" => "view",
        _ => "object",
    };

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
