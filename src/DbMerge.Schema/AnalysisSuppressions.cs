namespace DbMerge.Schema;

/// <summary>
/// The ONE place where DacFx code-analysis (SR) rules are suppressed. Every entry names the rule, optionally
/// one object (<c>[schema].[name]</c>), and why. Keep it short: a suppression hides a class of bugs.
/// </summary>
public static class AnalysisSuppressions
{
    /// <summary>A suppressed rule: <paramref name="RuleId"/> (e.g. <c>SR0016</c>), for <paramref name="Object"/> or every object when null.</summary>
    public sealed record Suppression(string RuleId, string? Object, string Reason);

    public static IReadOnlyList<Suppression> All { get; } =
    [
    ];

    public static bool IsSuppressed(string ruleId, string? objectName) =>
        All.Any(s => string.Equals(s.RuleId, ruleId, StringComparison.OrdinalIgnoreCase) &&
                     (s.Object is null || string.Equals(s.Object, objectName, StringComparison.OrdinalIgnoreCase)));
}
