using System.Text.RegularExpressions;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM024: a migration is named <c>NNNN_verb_object.sql</c> — four digits, a lower-case verb, then the object in
/// snake_case segments that keep the objects' own spelling (<c>0031_add_app_Invitation_OrganizationId.sql</c>);
/// numbers are unique (DbUp orders by name, a shared number makes the order depend on the rest of the name); and
/// the file opens with a header comment, before the first statement, that says why and which locks it takes.
/// </summary>
public sealed partial class MigrationNameAndHeaderRule : IHouseRule
{
    public const string RuleId = "DBM024";

    public string Id => RuleId;

    public string Description =>
        "Migration files are named NNNN_verb_object.sql with unique numbers and open with a header comment (why, locks).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var findings = new List<Finding>();
        var firstByNumber = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var migration in context.Migrations.OrderBy(m => m.File.RelativePath, StringComparer.Ordinal))
        {
            var path = migration.File.RelativePath;
            var name = migration.File.Name;
            var match = FileName().Match(name);
            if (!match.Success)
            {
                findings.Add(new Finding(path, 1, RuleId,
                    $"migration file name '{name}' is not NNNN_verb_object.sql: four digits, an underscore, a lower-case verb " +
                    "(create, add, alter, drop, …), then the object in underscore-separated parts of letters and digits, e.g. " +
                    "0031_add_app_Invitation_OrganizationId.sql. Rename it (it is not merged yet: merged migrations never change)."));
            }
            else if (!firstByNumber.TryAdd(match.Groups["number"].Value, path))
            {
                findings.Add(new Finding(path, 1, RuleId,
                    $"migration number {match.Groups["number"].Value} is already used by {firstByNumber[match.Groups["number"].Value]}: " +
                    "numbers are unique so the order DbUp applies them in is obvious. Take the next free number in your range."));
            }

            var header = LeadingComment(migration.File.Text);
            if (header is null)
            {
                findings.Add(new Finding(path, 1, RuleId,
                    $"migration {name} does not open with a header comment: before the first statement, write /* {Path.GetFileNameWithoutExtension(name)} " +
                    "Why: … Locks: … */ — why the change is made and which locks it takes, for how long."));
                continue;
            }

            var missing = new List<string>();
            if (!Why().IsMatch(header))
            {
                missing.Add("why the change is made (Why: …)");
            }

            if (!Locks().IsMatch(header))
            {
                missing.Add("which locks it takes (Locks: …)");
            }

            if (missing.Count > 0)
            {
                findings.Add(new Finding(path, 1, RuleId,
                    $"the header comment of migration {name} does not say {string.Join(" or ", missing)}."));
            }
        }

        return findings;
    }

    /// <summary>The comments (and whitespace) before the first code character, or null when the text starts with code.</summary>
    internal static string? LeadingComment(string text)
    {
        var kinds = SqlLexical.Classify(text);
        var end = 0;
        while (end < text.Length && (char.IsWhiteSpace(text[end]) || text[end] == '\uFEFF' ||
                                     kinds[end] is SqlCharKind.LineComment or SqlCharKind.BlockComment))
        {
            end++;
        }

        var leading = text[..end];
        return kinds.Take(end).Any(k => k is SqlCharKind.LineComment or SqlCharKind.BlockComment) ? leading : null;
    }

    [GeneratedRegex(@"^(?<number>[0-9]{4})_[a-z]+(_[A-Za-z0-9]+)+\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex FileName();

    [GeneratedRegex(@"\bwhy\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Why();

    [GeneratedRegex(@"\blocks?\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Locks();
}
