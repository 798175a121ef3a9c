namespace DbMerge.Schema.HouseRules;

/// <summary>The house rules for re-runnable objects under database/ (DESIGN §7, STYLE.md "T-SQL"). Add one line per rule.</summary>
public static class ProcedureRules
{
    public static IReadOnlyList<IHouseRule> All { get; } =
    [
        new SessionOptionsRule(),
        new TryCatchRule(),
        new ThrowNotRaiseErrorRule(),
        new NoMergeStatementRule(),
        new NoSelectStarRule(),
        new NoReadUncommittedRule(),
        new NoCursorOrRowLoopRule(),
        new DynamicSqlRule(),
        new NamedArgumentsRule(),
        new FileLayoutRule(),
        new HeaderListsErrorsRule(),
        new ThrowMessageRule(),
        new OwnTransactionGuardRule(),
    ];
}
