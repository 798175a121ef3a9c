namespace DbMerge.Schema;

/// <summary>
/// The ONE place where DacFx code-analysis (SR) rules are suppressed. Every entry names the rule, optionally
/// one object (<c>[schema].[name]</c>), and why. Keep it short: a suppression hides a class of bugs.
/// </summary>
public static class AnalysisSuppressions
{
    /// <summary>A suppressed rule: <paramref name="RuleId"/> (e.g. <c>SR0016</c>), for <paramref name="Object"/> or every object when null.</summary>
    public sealed record Suppression(string RuleId, string? Object, string Reason);

    private const string Utc3 =
        "SYSUTCDATETIME() is datetime2(7); every DbMerge timestamp column is datetime2(3) by design (DESIGN §4), so " +
        "the narrowing to milliseconds is intended.";

    public static IReadOnlyList<Suppression> All { get; } =
    [
        // SR0007 asks to wrap nullable columns in ISNULL/COALESCE inside predicates. That makes predicates
        // non-sargable (no index seek) and hides the NULL semantics the procedures rely on; every predicate on a
        // nullable column is written NULL-aware (IS NULL / IS NOT NULL arms) and covered by integration tests.
        new("SR0007", null, "ISNULL around nullable columns defeats index seeks; predicates are NULL-aware by design."),

        // SR0014: implicit narrowing. Each object is listed with the cast it makes and why it cannot lose data.
        new("SR0014", "[api].[Document_Create]",
            "Parent path (varchar(252)) + step (varchar(7)) into varchar(252): the procedure throws 51207 before the " +
            "concatenation when the parent path is already 252 characters (depth 36). Also " + Utc3),
        new("SR0014", "[api].[Document_Move]",
            "Path arithmetic: prefixes are swapped only after the 51207 depth check (MAX(DATALENGTH) of the subtree " +
            "+ new prefix <= 252); bigint ROW_NUMBER ordinals are bounded by the siblings of one parent (< 2^31). Also " + Utc3),
        new("SR0014", "[dbmerge].[Path_Step]",
            "Base-36 digit arithmetic: @Number is range-checked (1..36^7-1) in the same CASE, so each digit fits decimal(10,0)/int."),
        new("SR0014", "[dbmerge].[Path_StepNumber]",
            "Decodes 7 base-36 digits: the largest value, 36^7-1 = 78,364,164,095, fits bigint and each term fits decimal(10,0)."),
        new("SR0014", "[api].[Invitation_Accept]", Utc3),
        new("SR0014", "[api].[Invitation_Decline]", Utc3),
        new("SR0014", "[api].[Invitation_Revoke]", Utc3),
        new("SR0014", "[api].[User_Merge]", Utc3),
        new("SR0014", "[dbmerge].[User_MergeCore]", Utc3),
        new("SR0014", "[dbmerge].[User_UnmergeCore]", Utc3),
        new("SR0014", "[dbmerge].[MergeRun_Start]", Utc3),
        new("SR0014", "[dbmerge].[MergeRun_Finish]", Utc3),
        new("SR0014", "[dbmerge].[Constraint_Trust]", Utc3),
        new("SR0014", "[dbmerge].[Constraint_ValidateBatch]", Utc3),
        new("SR0014", "[api].[Reconciliation_ImportBatch]", Utc3),
        new("SR0014", "[api].[Reconciliation_ImportFinish]", Utc3),
        new("SR0014", "[api].[Reconciliation_Confirm]", Utc3),
        new("SR0014", "[api].[Reconciliation_Claim]", Utc3),
        new("SR0014", "[api].[Reconciliation_Cancel]", Utc3),
        new("SR0014", "[dbmerge].[Reconciliation_ProcessOne]", Utc3),
        new("SR0014", "[api].[Outbox_Claim]", Utc3),
        new("SR0014", "[api].[Outbox_MarkDispatched]", Utc3),
        new("SR0014", "[api].[Setting_Set]", Utc3),
        new("SR0014", "[dbmerge].[Collection_ClaimCore]", Utc3),
        new("SR0014", "[api].[Collection_UndoClaim]", Utc3),

        // SR0015/SR0006: functions or expressions in predicates.
        new("SR0015", "[api].[User_Find]",
            "LTRIM/RTRIM apply to the @Email parameter, not to a column: the predicate still seeks IX on app.User.Email."),
        new("SR0015", "[api].[Document_Move]",
            "DATALENGTH(d.Path) is a residual predicate next to a Path range (Path > @P AND Path < @P + '['), which seeks; " +
            "it selects the direct children of one parent."),
        new("SR0006", "[api].[Document_Move]",
            "The flagged expression is on the @Sibling table variable (at most one parent's children), not on a base table."),

        new("SR0006", "[scenario].[BenchMerge]",
            "A benchmark seed (scratch databases only): 'i % 10 = 0' picks every tenth seeded row to collide with the target; " +
            "the scans are over the seed's own temporary tables and freshly seeded rows, once per run."),

        // SR0005: a LIKE pattern starting with '%'.
        new("SR0005", "[dbmerge].[Email_Validate]",
            "The patterns test the characters of the @Email parameter (and the domain part derived from it), not a " +
            "table column: there is no index to seek, and the function is applied to at most one import batch."),

        // SR0013: OUTPUT parameter not set on every path. The paths DacFx sees are the THROW paths.
        new("SR0013", "[api].[Document_Create]",
            "@DocumentId is set from the inserted row on the only path that returns normally; every other path THROWs."),
        new("SR0013", "[dbmerge].[User_MergeCore]",
            "@SummaryJson is set on the only path that returns normally; every other path THROWs and the caller's " +
            "transaction rolls back."),
        new("SR0013", "[dbmerge].[User_UnmergeCore]",
            "@SummaryJson is set on the only path that returns normally and in the CATCH before it re-throws; every other " +
            "path THROWs and the caller's transaction rolls back."),
        new("SR0013", "[dbmerge].[MergeRun_Start]",
            "@MergeRunId is set on the only path that returns normally; the paths that do not set it THROW (51110, 51116)."),
    ];

    public static bool IsSuppressed(string ruleId, string? objectName) =>
        All.Any(s => string.Equals(s.RuleId, ruleId, StringComparison.OrdinalIgnoreCase) &&
                     (s.Object is null || string.Equals(s.Object, objectName, StringComparison.OrdinalIgnoreCase)));
}
