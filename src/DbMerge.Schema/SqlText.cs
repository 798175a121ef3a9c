using System.Text;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>Parsing and text helpers shared by replay, model building and house rules.</summary>
public static class SqlText
{
    /// <summary>Parses <paramref name="file"/> with the SQL Server 2019 parser (quoted identifiers on).</summary>
    public static ParsedScript Parse(SqlScriptFile file, ICollection<Finding>? findings = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(file.Text);
        var fragment = parser.Parse(reader, out var errors);
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                findings?.Add(new Finding(file.RelativePath, error.Line, "parse", $"SQL{error.Number}: {error.Message}"));
            }

            return new ParsedScript(file, null);
        }

        return new ParsedScript(file, fragment);
    }

    /// <summary>The original text of <paramref name="fragment"/> (its tokens).</summary>
    public static string TextOf(TSqlFragment fragment)
    {
        var builder = new StringBuilder();
        for (var i = fragment.FirstTokenIndex; i <= fragment.LastTokenIndex; i++)
        {
            builder.Append(fragment.ScriptTokenStream[i].Text);
        }

        return builder.ToString();
    }

    /// <summary>Newlines that put text starting on <paramref name="line"/> of the original file back on that line.</summary>
    public static string PadToLine(string text, int line) =>
        new string('\n', Math.Max(0, line - 1)) + text;

    /// <summary>Scripts a (possibly edited) fragment with the SQL Server 2019 generator.</summary>
    public static string Generate(TSqlFragment fragment)
    {
        var generator = new Sql150ScriptGenerator(new SqlScriptGeneratorOptions { IncludeSemicolons = true });
        generator.GenerateScript(fragment, out var script);
        return script;
    }

    /// <summary>True for every <c>SET …</c> statement (options, variables, isolation level, row count, …).</summary>
    public static bool IsSetStatement(TSqlStatement statement)
    {
        var name = statement.GetType().Name;
        return name.StartsWith("Set", StringComparison.Ordinal) || statement is PredicateSetStatement;
    }

    /// <summary><c>[schema].[name]</c> in lower case (schema defaults to dbo): a dictionary key.</summary>
    public static string Key(SchemaObjectName name) =>
        $"[{(name.SchemaIdentifier?.Value ?? "dbo").ToLowerInvariant()}].[{name.BaseIdentifier.Value.ToLowerInvariant()}]";

    /// <summary><c>schema.name</c> as written (schema defaults to dbo).</summary>
    public static string Display(SchemaObjectName name) =>
        $"{name.SchemaIdentifier?.Value ?? "dbo"}.{name.BaseIdentifier.Value}";

    /// <summary>"CREATE PROCEDURE" for CreateProcedureStatement, "ALTER TABLE SWITCH" for AlterTableSwitchStatement, …</summary>
    public static string StatementKind(TSqlStatement statement)
    {
        var name = statement.GetType().Name;
        if (name.EndsWith("Statement", StringComparison.Ordinal))
        {
            name = name[..^"Statement".Length];
        }

        var builder = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && !char.IsUpper(name[i - 1]))
            {
                builder.Append(' ');
            }

            builder.Append(char.ToUpperInvariant(name[i]));
        }

        return builder.ToString();
    }
}
