using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>A script of the repository with its ScriptDom parse tree (null when it did not parse).</summary>
public sealed record ParsedScript(SqlScriptFile File, TSqlFragment? Fragment)
{
    /// <summary>
    /// When the file did not parse (<see cref="Fragment"/> null): its GO batches that do parse, parsed in place with the
    /// failing ones blanked (offsets and lines are the file's). Null when the file parsed, or when nothing of it parses.
    /// </summary>
    public TSqlFragment? PartialFragment { get; init; }

    /// <summary>The batches left out of <see cref="PartialFragment"/> because they do not parse (empty when the file parsed).</summary>
    public IReadOnlyList<SkippedBatch> Skipped { get; init; } = [];

    /// <summary>What the offline model uses: the whole parse, else the batches that parsed (null: nothing).</summary>
    public TSqlFragment? ModelFragment => Fragment ?? PartialFragment;
}

/// <summary>A GO batch of a script that does not parse: first and last line (1-based).</summary>
public sealed record SkippedBatch(int StartLine, int EndLine);

/// <summary>What a model rule may inspect: the repository, the replayed DacFx model, and every parsed script.</summary>
public sealed record ModelRuleContext(RepositoryLayout Layout, TSqlModel Model, IReadOnlyList<ParsedScript> Scripts);

/// <summary>
/// A whole-model check run by offline verification after DacFx validation succeeds
/// (for example: every foreign key to app.User has a merge policy).
/// </summary>
public interface IModelRule
{
    /// <summary>Stable rule id used in findings, e.g. <c>DBM040</c>.</summary>
    string Id { get; }

    IEnumerable<Finding> Check(ModelRuleContext context);
}

/// <summary>The model rules offline verification runs. Add one line per rule.</summary>
public static class ModelRules
{
    public static IReadOnlyList<IModelRule> All { get; } =
    [
        new Rules.MergePolicyCoverageRule(),
        new Rules.MergeHandlerRule(),
        new Rules.MergeGeneratedCodeRule(),
        new Rules.UnmergeCoverageRule(),
    ];
}
