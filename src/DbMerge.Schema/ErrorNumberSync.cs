using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>
/// DBM030: the error numbers thrown under database/, the client's error registry and the README agree —
/// every THROW number is registered, every registered number is thrown somewhere, and every registered number
/// appears in the README (as text, e.g. in its error table).
/// </summary>
public static partial class ErrorNumberSync
{
    public const string RuleId = "DBM030";

    /// <param name="scripts">The repository's scripts: THROWs under database/ count.</param>
    /// <param name="generated">T-SQL the project generates (the DBA deploy script): its THROWs count too, under its own name.</param>
    /// <param name="registryNumbers">The client's registry numbers.</param>
    /// <param name="readmeText">README.md text.</param>
    internal static IReadOnlyList<Finding> Check(IEnumerable<ParsedScript> scripts, IEnumerable<ParsedScript> generated,
        IEnumerable<int> registryNumbers, string readmeText)
    {
        ArgumentNullException.ThrowIfNull(registryNumbers);
        readmeText ??= string.Empty;
        var registry = registryNumbers.ToHashSet();
        var findings = new List<Finding>();
        var thrown = new HashSet<int>();
        var throwing = scripts.Where(s => s.File.RelativePath.StartsWith("database/", StringComparison.Ordinal)).Concat(generated);
        foreach (var script in throwing)
        {
            foreach (var (number, line) in ThrowNumbers(script))
            {
                thrown.Add(number);
                if (!registry.Contains(number))
                {
                    findings.Add(new Finding(script.File.RelativePath, line, RuleId,
                        $"THROW {number} is not in the client's error registry: add it to src/DbMerge.Client/Errors/ErrorRegistry.<Area>.cs."));
                }
            }
        }

        foreach (var number in registry.Order())
        {
            if (!thrown.Contains(number))
            {
                findings.Add(new Finding("src/DbMerge.Client/Errors", 0, RuleId,
                    $"error {number} is in the client's registry but no procedure under database/ (nor the generated deploy script) throws it."));
            }

            if (!ContainsNumber(readmeText, number))
            {
                findings.Add(new Finding("README.md", 0, RuleId,
                    $"error {number} is in the client's registry but not in README.md (add it to the error table)."));
            }
        }

        return findings;
    }

    /// <summary>
    /// Literal error numbers of the THROW statements in a script, with their lines. Of a script that does not parse,
    /// the THROWs of the batches that do are read from the parse tree and those of the failing batches from the text
    /// (<c>THROW 51xxx</c> in code, outside comments and strings), so a typo elsewhere in a procedure does not make its
    /// numbers look unthrown.
    /// </summary>
    public static IEnumerable<(int Number, int Line)> ThrowNumbers(ParsedScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        if (script.Fragment is not null)
        {
            return ThrowNumbers(script.Fragment);
        }

        var parsed = script.PartialFragment is null ? [] : ThrowNumbers(script.PartialFragment).ToList();
        var text = script.File.Text;
        var kinds = HouseRules.SqlLexical.Classify(text);
        var fromText = ThrowInText().Matches(text)
            .Where(m => kinds[m.Index] == HouseRules.SqlCharKind.Code)
            .Select(m => (Number: int.Parse(m.Groups["number"].Value, System.Globalization.CultureInfo.InvariantCulture),
                Line: HouseRules.SqlLexical.LineOf(text, m.Index)))
            .Where(t => script.Skipped.Any(b => t.Line >= b.StartLine && t.Line <= b.EndLine));
        return parsed.Concat(fromText).ToList();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\bTHROW\s+(?<number>5\d{4})\b", System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex ThrowInText();

    /// <summary>Literal error numbers of the THROW statements in <paramref name="fragment"/> (a script, a procedure, …), with their lines.</summary>
    public static IEnumerable<(int Number, int Line)> ThrowNumbers(TSqlFragment fragment)
    {
        ArgumentNullException.ThrowIfNull(fragment);
        var visitor = new ThrowVisitor();
        fragment.Accept(visitor);
        foreach (var statement in visitor.Throws)
        {
            if (statement.ErrorNumber is IntegerLiteral literal && int.TryParse(literal.Value, out var number))
            {
                yield return (number, statement.StartLine);
            }
        }
    }

    private static bool ContainsNumber(string text, int number)
    {
        var value = number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var index = 0;
        while ((index = text.IndexOf(value, index, StringComparison.Ordinal)) >= 0)
        {
            var before = index == 0 || !char.IsDigit(text[index - 1]);
            var after = index + value.Length >= text.Length || !char.IsDigit(text[index + value.Length]);
            if (before && after)
            {
                return true;
            }

            index += value.Length;
        }

        return false;
    }

    private sealed class ThrowVisitor : TSqlFragmentVisitor
    {
        public List<ThrowStatement> Throws { get; } = [];

        public override void Visit(ThrowStatement node) => Throws.Add(node);
    }
}
