using System.Text;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>Parsing and text helpers shared by replay, model building and house rules.</summary>
public static class SqlText
{
    /// <summary>
    /// Parses <paramref name="file"/> with the SQL Server 2019 parser (quoted identifiers on). When the file does not
    /// parse, every error is a <c>parse</c> finding, <see cref="ParsedScript.Fragment"/> is null (rules that need the
    /// whole file skip it), and the GO batches that do parse are parsed again in place, with the failing batches blanked
    /// (<see cref="ParsedScript.PartialFragment"/>: offsets and lines are the file's), so that the offline model can
    /// still use them; the failing batches are listed in <see cref="ParsedScript.Skipped"/>.
    /// </summary>
    public static ParsedScript Parse(SqlScriptFile file, ICollection<Finding>? findings = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var fragment = ParseText(file.Text, out var errors);
        if (errors.Count == 0)
        {
            return new ParsedScript(file, fragment);
        }

        foreach (var error in errors)
        {
            findings?.Add(new Finding(file.RelativePath, error.Line, "parse", $"SQL{error.Number}: {error.Message}"));
        }

        var (partial, skipped) = ParseBatchesThatParse(file.Text);
        return new ParsedScript(file, null) { PartialFragment = partial, Skipped = skipped };
    }

    private static TSqlFragment? ParseText(string text, out IList<ParseError> errors)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(text);
        return parser.Parse(reader, out errors);
    }

    /// <summary>
    /// Splits <paramref name="text"/> at its GO tokens, parses each batch alone (the rest blanked), and parses the
    /// text once more with the failing batches blanked. Returns that fragment (null when nothing is left) and the
    /// line ranges of the batches left out.
    /// </summary>
    private static (TSqlFragment? Partial, IReadOnlyList<SkippedBatch> Skipped) ParseBatchesThatParse(string text)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        IList<TSqlParserToken> tokens;
        using (var reader = new StringReader(text))
        {
            tokens = parser.GetTokenStream(reader, out _);
        }

        var segments = new List<(int Start, int End)>();
        var start = 0;
        foreach (var token in tokens.Where(t => t.TokenType == TSqlTokenType.Go))
        {
            segments.Add((start, token.Offset));
            start = token.Offset + token.Text.Length;
        }

        segments.Add((start, text.Length));
        var failing = segments.Where(s => !string.IsNullOrWhiteSpace(text[s.Start..s.End]))
            .Where(s => ParseText(KeepOnly(text, s), out var errors) is null || errors.Count > 0)
            .ToList();
        var skipped = failing.Select(s => new SkippedBatch(LineAt(text, s.Start, forward: true), LineAt(text, s.End, forward: false))).ToList();
        var blanked = Blank(text, failing);
        var partial = ParseText(blanked, out var remaining);
        if (partial is null || remaining.Count > 0)
        {
            // The batches parse alone but not together (rare): model nothing of this file.
            return (null, [new SkippedBatch(1, LineAt(text, text.Length, forward: false))]);
        }

        return (partial, skipped);
    }

    /// <summary>The text with every character outside <paramref name="keep"/> blanked (line breaks kept).</summary>
    private static string KeepOnly(string text, (int Start, int End) keep)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if ((i < keep.Start || i >= keep.End) && chars[i] is not ('\r' or '\n'))
            {
                chars[i] = ' ';
            }
        }

        return new string(chars);
    }

    private static string Blank(string text, IEnumerable<(int Start, int End)> ranges)
    {
        var chars = text.ToCharArray();
        foreach (var (s, e) in ranges)
        {
            for (var i = s; i < e; i++)
            {
                if (chars[i] is not ('\r' or '\n'))
                {
                    chars[i] = ' ';
                }
            }
        }

        return new string(chars);
    }

    /// <summary>
    /// 1-based line of the first (forward) or last (backward) non-blank character at or around <paramref name="offset"/>,
    /// so a skipped batch is reported from its first to its last written line.
    /// </summary>
    private static int LineAt(string text, int offset, bool forward)
    {
        var i = Math.Clamp(offset, 0, text.Length);
        if (forward)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }
        }
        else
        {
            while (i > 0 && char.IsWhiteSpace(text[i - 1]))
            {
                i--;
            }

            i = Math.Max(0, i - 1);
        }

        return text.AsSpan(0, Math.Min(i, text.Length)).Count('\n') + 1;
    }

    /// <summary>
    /// The comment(s) a script opens with, before its first statement (a migration's Why/Locks header), or null when
    /// it starts with code. Comment delimiters are kept.
    /// </summary>
    public static string? HeaderComment(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return HouseRules.MigrationNameAndHeaderRule.LeadingComment(text);
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
