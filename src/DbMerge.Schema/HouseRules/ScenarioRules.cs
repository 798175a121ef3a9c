namespace DbMerge.Schema.HouseRules;

/// <summary>
/// The house rules for scenario procedures (<see cref="ScenarioScripts"/>: demo and benchmark seeds, deployed only into
/// scratch databases). They are fixtures, not operations, so they follow the rules that keep any T-SQL safe and
/// reviewable, and skip the ones that define the api contract:
/// <list type="bullet">
/// <item>apply: DBM001 (SET NOCOUNT, XACT_ABORT ON), DBM003 (THROW, not RAISERROR), DBM004 (no MERGE), DBM005 (no
/// SELECT *), DBM006 (no NOLOCK), DBM008 (dynamic SQL only through sp_executesql with parameters), DBM009 (named
/// arguments), DBM022 (GO alone), DBM023 (no script variables), DBM025 (no table or index DDL: temporary tables only),
/// and DBM050 (the scenario file layout, below);</item>
/// <item>do not apply: DBM002 (TRY/CATCH: a failed seed fails the scratch run, XACT_ABORT rolls it back), DBM007 (row
/// loops: seeds are not data paths), DBM010 (replaced by DBM050), DBM011/DBM012/DBM030 (error numbers: scenarios are not
/// in the client's registry; DBM050 keeps them out of 51000–51999), DBM013 (a seed may own its transaction without the
/// caller guard: it runs only in a scratch database, called by DbMerge.Scenarios).</item>
/// </list>
/// DacFx validation (SQL71501/SQL71502) and code analysis (SR rules) apply to scenarios like to database/.
/// </summary>
public static class ScenarioRules
{
    public static IReadOnlyList<IHouseRule> All { get; } =
    [
        new SessionOptionsRule(),
        new ThrowNotRaiseErrorRule(),
        new NoMergeStatementRule(),
        new NoSelectStarRule(),
        new NoReadUncommittedRule(),
        new DynamicSqlRule(),
        new NamedArgumentsRule(),
        new GoAloneOnItsLineRule(),
        new NoScriptVariablesRule(),
        new MigrationsHoldTransitionsOnlyRule(),
        new ScenarioLayoutRule(),
    ];

    /// <summary>Runs <see cref="All"/> over the scenario scripts.</summary>
    public static IEnumerable<Finding> Check(RepositoryLayout layout, IReadOnlyList<ParsedScript> scenarios)
    {
        var context = new HouseRuleContext(layout, scenarios) { ScenarioScope = true };
        return All.SelectMany(rule => rule.Check(context)).ToList();
    }
}
