namespace DbMerge.Schema.HouseRules;

/// <summary>The house rules for migrations/ (DESIGN §7, STYLE.md "Migrations"). Add one line per rule.</summary>
public static class MigrationRules
{
    public static IReadOnlyList<IHouseRule> All { get; } =
    [
    ];
}
