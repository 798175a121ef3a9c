namespace DbMerge.Schema.HouseRules;

/// <summary>The house rules for re-runnable objects under database/ (DESIGN §7, STYLE.md "T-SQL"). Add one line per rule.</summary>
public static class ProcedureRules
{
    public static IReadOnlyList<IHouseRule> All { get; } =
    [
    ];
}
