namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM022: in every .sql file (migrations/ and database/), <c>GO</c> stands alone on its line — nothing before
/// or after it but whitespace. Three splitters read DbMerge's scripts and agree only on that form:
/// <list type="bullet">
/// <item>DbUp (<c>dbmerge migrate</c>) ends a batch at any <c>GO</c> between whitespace, even mid-line
/// (<c>SELECT 1 AS go</c> is cut in two), accepts <c>GO;</c>, and sends a count (<c>GO 2</c>) as the start of the next batch;</item>
/// <item>ScriptDom (offline model, <c>dbmerge script</c>) reads <c>GO</c> only at a line start, accepts a trailing
/// comment or <c>;</c>, and fails on a count;</item>
/// <item>DbMerge's own line splitter (<see cref="SqlBatches"/>) and sqlcmd/osql take a line holding only
/// <c>GO</c> as a separator even inside a <c>/* */</c> comment or a string, which DbUp and ScriptDom do not.</item>
/// </list>
/// The word "go" inside comments and strings (prose, messages) is never reported; only a line that holds nothing
/// but GO inside a comment or string is, because the splitters disagree on it.
/// </summary>
public sealed class GoAloneOnItsLineRule : IHouseRule
{
    public const string RuleId = "DBM022";

    public string Id => RuleId;

    public string Description => "GO stands alone on its line: no count, no semicolon, no comment, no statement beside it.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Scripts.SelectMany(s => Check(s.File)).ToList();
    }

    private static IEnumerable<Finding> Check(SqlScriptFile file)
    {
        var text = file.Text;
        var kinds = SqlLexical.Classify(text);
        foreach (var (number, start, length) in SqlLexical.Lines(text))
        {
            var line = text.Substring(start, length);
            var first = start + (line.Length - line.TrimStart().Length);
            if (string.Equals(line.Trim(), "GO", StringComparison.OrdinalIgnoreCase))
            {
                if (kinds[first] != SqlCharKind.Code)
                {
                    yield return new Finding(file.RelativePath, number, RuleId,
                        $"a line holding only GO inside {SqlLexical.Describe(kinds[first])}: sqlcmd and DbMerge's line splitter end the batch " +
                        "there, DbUp and ScriptDom do not, so the script would run differently depending on the tool. Reword the line " +
                        "(e.g. put the word in a sentence) so no line holds GO alone except a real batch separator.");
                }

                continue;
            }

            var go = FindGo(text, kinds, start, length, first);
            if (go < 0)
            {
                continue;
            }

            var rest = text.Substring(go + 2, start + length - go - 2).Trim();
            string problem;
            if (go != first)
            {
                problem = $"'{line.Trim()}' has a statement or comment before GO on the same line: DbUp ends the batch at this GO, " +
                          "ScriptDom and sqlcmd do not (after a statement they read it as an identifier), so the tools disagree on the batches";
            }
            else if (rest.Length > 0 && char.IsAsciiDigit(rest[0]))
            {
                problem = $"'{line.Trim()}' repeats the batch: sqlcmd runs it again, DbUp sends the count as the first word of the next " +
                          "batch and ScriptDom does not parse it; write repeated work out explicitly";
            }
            else if (rest.StartsWith(';'))
            {
                problem = $"'{line.Trim()}' ends GO with a semicolon: DbUp and ScriptDom accept it, DbMerge's line splitter does not " +
                          "see a separator";
            }
            else if (rest.StartsWith("--", StringComparison.Ordinal) || rest.StartsWith("/*", StringComparison.Ordinal))
            {
                problem = $"'{line.Trim()}' has a comment after GO: DbMerge's line splitter does not see a separator; put the comment " +
                          "on its own line";
            }
            else
            {
                problem = $"'{line.Trim()}' has text after GO";
            }

            yield return new Finding(file.RelativePath, number, RuleId, problem + ". Write GO alone on its own line.");
        }
    }

    /// <summary>
    /// Offset of the first batch-separating GO in code on the line, or -1. A GO counts when it follows the start of the
    /// text or whitespace (as DbUp reads it) and is followed by whitespace, ';' or the end of the text — or, at the start
    /// of the line, by anything that cannot continue an identifier.
    /// </summary>
    private static int FindGo(string text, SqlCharKind[] kinds, int start, int length, int first)
    {
        for (var i = start; i + 1 < start + length; i++)
        {
            if (kinds[i] != SqlCharKind.Code || kinds[i + 1] != SqlCharKind.Code ||
                char.ToUpperInvariant(text[i]) != 'G' || char.ToUpperInvariant(text[i + 1]) != 'O')
            {
                continue;
            }

            var before = i == 0 || char.IsWhiteSpace(text[i - 1]);
            var next = i + 2 < text.Length ? text[i + 2] : '\0';
            var after = next == '\0' || char.IsWhiteSpace(next) || next == ';' || (i == first && !IsIdentifierChar(next));
            if (before && after)
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsIdentifierChar(char c) => char.IsLetterOrDigit(c) || c is '_' or '@' or '#' or '$';
}
