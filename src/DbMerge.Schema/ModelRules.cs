using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>A script of the repository with its ScriptDom parse tree (null when it did not parse).</summary>
public sealed record ParsedScript(SqlScriptFile File, TSqlFragment? Fragment);

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
    ];
}
