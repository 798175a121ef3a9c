using DbMerge.Schema;

namespace DbMerge.Tests.UserMerge;

/// <summary>The model rules' context for a repository: the offline model exactly as <c>dbmerge validate</c> builds it.</summary>
internal static class OfflineModel
{
    public static ModelRuleContext Build(RepositoryLayout layout)
    {
        var result = SchemaVerifier.Verify(layout, VerificationOptions.ModelOnly);
        Xunit.Assert.True(result.Model is not null && !result.HasErrors,
            "The offline model did not build:\n" + string.Join("\n", result.Findings));
        return new ModelRuleContext(layout, result.Model, result.Scripts);
    }
}
