using Microsoft.SqlServer.Dac.Model;
using Xunit;

namespace DbMerge.Tests.UserMerge;

public sealed class UserMergeModelTests
{
    private static readonly string[] Objects =
    [
        "database/dbmerge/Procedures/dbmerge.User_MergeCore.sql",
        "database/api/Procedures/api.User_Merge.sql",
        "database/api/Procedures/api.MergeRun_List.sql",
        "database/api/Procedures/api.MergeRun_Get.sql",
        "database/api/Procedures/api.User_Find.sql",
        "database/api/Procedures/api.User_References.sql",
        "database/api/Procedures/api.User_Sweep.sql",
        "database/api/Procedures/api.User_LateReferences.sql",
        "database/api/Procedures/api.User_LateReferenceUsers.sql",
        "database/dbmerge/Procedures/dbmerge.MergeRun_Start.sql",
        "database/dbmerge/Procedures/dbmerge.MergeRun_Finish.sql",
        "database/dbmerge/Procedures/dbmerge.User_LateReferenceCounts.sql",
        "database/dbmerge/Procedures/dbmerge.User_LateReferenceUsers.sql",
    ];

    [Fact]
    public void The_user_merge_procedures_resolve_every_table_and_column_against_the_migrations()
    {
        var result = DbMerge.Schema.SchemaVerifier.Verify(Repo.Layout, DbMerge.Schema.VerificationOptions.ModelOnly);

        var problems = result.Findings.Where(f => Objects.Contains(f.File)).Select(f => f.ToString()).ToList();
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.NotNull(result.Model);
        var procedures = result.Model.GetObjects(DacQueryScopes.UserDefined, Procedure.TypeClass).Select(p => p.Name.ToString()).ToHashSet();
        foreach (var path in Objects)
        {
            var name = Path.GetFileNameWithoutExtension(path).Split('.');
            Assert.Contains($"[{name[0]}].[{name[1]}]", procedures);
        }
    }
}
