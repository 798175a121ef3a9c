using System.Text.RegularExpressions;
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
    ];

    [Fact]
    public void The_user_merge_procedures_resolve_every_table_and_column_against_the_migrations()
    {
        var model = OfflineModel.Build(Repo.Layout).Model;
        foreach (var path in Objects)
        {
            var text = File.ReadAllText(Path.Combine(Repo.Layout.Root, path));
            var body = Regex.Split(text, @"^\s*GO\s*$", RegexOptions.Multiline).Single(b => b.Contains("CREATE OR ALTER", StringComparison.Ordinal));
            model.AddOrUpdateObjects(body.Replace("CREATE OR ALTER", "CREATE", StringComparison.Ordinal), path, new TSqlObjectOptions());
        }

        // System objects (sys.foreign_keys, sp_getapplock, sp_executesql) need the master model, which the
        // schema work's verifier supplies; everything else must resolve.
        var messages = model.Validate().Select(m => m.ToString()).Where(m => !m.Contains("[sys].", StringComparison.Ordinal)).ToList();

        Assert.True(messages.Count == 0, string.Join(Environment.NewLine, messages));
    }
}
