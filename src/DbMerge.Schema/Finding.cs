namespace DbMerge.Schema;

public enum FindingSeverity
{
    Error,
    Warning,
}

/// <summary>
/// One problem found by offline verification.
/// </summary>
/// <param name="File">Repository-relative path of the script ('/'-separated), or empty when no file applies.</param>
/// <param name="Line">1-based line in <paramref name="File"/>, or 0 when unknown.</param>
/// <param name="Rule">Stable rule id: <c>parse</c>, <c>replay</c>, <c>SQL71501</c>, <c>SR0001</c>, <c>DBM001</c>, …</param>
/// <param name="Message">What is wrong and, where possible, what to do.</param>
/// <param name="Severity">Errors fail validation; warnings are reported only.</param>
public sealed record Finding(string File, int Line, string Rule, string Message, FindingSeverity Severity = FindingSeverity.Error)
{
    public override string ToString() =>
        $"{(File.Length == 0 ? "(model)" : File)}:{Line}: {Severity.ToString().ToLowerInvariant()} {Rule}: {Message}";
}
