using DbMerge.Schema.Merge;

namespace DbMerge.Schema.Rules;

/// <summary>
/// DBM041: every merge policy has a handler the generator can build against the model — a known policy kind, an index
/// every statement can seek on, a unique index that makes the collision key unique per user, a valid rank table, child
/// tables a merge-children parent can re-point — and the policy rows can be read (only INSERT … VALUES, single-row UPDATE
/// … SET Col = literal and single-row DELETE write dbmerge.MergePolicy). The same plan generates
/// dbmerge.User_MergeCore, so a policy this rule accepts is one the merge handles; at run time the generated code refuses
/// (51105) a policy row or a foreign key it was not generated for.
/// </summary>
public sealed class MergeHandlerRule : IModelRule
{
    public const string RuleId = MergePolicySource.RuleId;

    public string Id => RuleId;

    public IEnumerable<Finding> Check(ModelRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return MergeGenerator.Generate(context.Model, Migrations(context)).Findings.Where(f => f.Rule != UnmergePlanner.RuleId);
    }

    internal static IReadOnlyList<ParsedScript> Migrations(ModelRuleContext context) =>
        context.Scripts.Where(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal)).ToList();
}

/// <summary>
/// DBM043: every change the merge can make has an undo (api.User_Unmerge, generated from the same plan as
/// dbmerge.User_MergeCore): every policy kind declares the journal operations its handler writes, every journaled table's
/// columns survive the journal's JSON images exactly, and every row can be followed through the journal by its key
/// (<see cref="UnmergePlanner"/>). A policy kind, or a table the merge can change, without an undo is a finding at the
/// policy's migration line, and `dbmerge generate merge` writes nothing.
/// </summary>
public sealed class UnmergeCoverageRule : IModelRule
{
    public const string RuleId = UnmergePlanner.RuleId;

    public string Id => RuleId;

    public IEnumerable<Finding> Check(ModelRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return MergeGenerator.Generate(context.Model, MergeHandlerRule.Migrations(context)).Findings.Where(f => f.Rule == RuleId);
    }
}

/// <summary>
/// DBM042: the committed generated files (database/dbmerge/Procedures/dbmerge.User_MergeCore.sql, the late-reference
/// procedures, dbmerge.User_UnmergeCore and api.MergeRun_Journal) equal what `dbmerge generate merge` writes from the current policies and model; a stale file is a finding at
/// its first line.
/// </summary>
public sealed class MergeGeneratedCodeRule : IModelRule
{
    public const string RuleId = "DBM042";

    public string Id => RuleId;

    public IEnumerable<Finding> Check(ModelRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var generation = MergeGenerator.Generate(context.Model, MergeHandlerRule.Migrations(context));
        if (generation.HasErrors)
        {
            yield break;
        }

        foreach (var (path, reason) in MergeGenerator.Stale(context.Layout, generation))
        {
            yield return new Finding(path, 1, RuleId,
                $"{path} is not what 'dbmerge generate merge' writes from the current merge policies and tables ({reason}): " +
                "run 'dbmerge generate merge' and commit the result (the file is generated: never edit it by hand).");
        }
    }
}
