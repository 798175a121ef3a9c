using DbMerge.Client.Errors;
using Xunit;

namespace DbMerge.Tests.UserMerge;

public sealed class ErrorRegistryUserMergeTests
{
    private static readonly string[] Procedures =
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
        "database/api/Procedures/api.User_Unmerge.sql",
        "database/dbmerge/Procedures/dbmerge.User_UnmergeCore.sql",
        "database/api/Procedures/api.MergeRun_Journal.sql",
    ];

    [Fact]
    public void Every_number_the_user_merge_procedures_throw_is_in_the_registry_and_every_registry_entry_is_thrown()
    {
        var thrown = Procedures.SelectMany(ThrownNumbers).ToHashSet();
        var registered = ErrorRegistry.All.Where(e => e.Number is >= 51100 and <= 51199).Select(e => e.Number).ToHashSet();

        Assert.NotEmpty(thrown);
        Assert.All(thrown, n => Assert.InRange(n, 51100, 51199));
        Assert.Empty(thrown.Except(registered));
        Assert.Empty(registered.Except(thrown));
    }

    [Fact]
    public void Every_number_a_procedure_throws_is_documented_in_its_header_and_every_documented_number_is_thrown()
    {
        var allThrown = Procedures.SelectMany(ThrownNumbers).ToHashSet();
        foreach (var path in Procedures)
        {
            var text = File.ReadAllText(Path.Combine(Repo.Layout.Root, path));
            var header = text[..text.IndexOf("*/", StringComparison.Ordinal)];
            var documented = System.Text.RegularExpressions.Regex.Matches(header, @"\b511\d\d\b").Select(m => int.Parse(m.Value, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            var thrown = ThrownNumbers(path).ToHashSet();

            // api.User_Merge, api.User_Sweep and api.User_Unmerge also document the numbers their cores and dbmerge.MergeRun_Start raise through them.
            Assert.True(thrown.IsSubsetOf(documented), $"{path}: throws {string.Join(",", thrown.Except(documented))} without documenting them");
            Assert.True(documented.IsSubsetOf(allThrown), $"{path}: documents {string.Join(",", documented.Except(allThrown))}, which nothing throws");
        }
    }

    [Fact]
    public void User_merge_registry_entries_have_unique_names_and_a_meaning()
    {
        var entries = ErrorRegistry.All.Where(e => e.Number is >= 51100 and <= 51199).ToList();
        Assert.Equal(entries.Count, entries.Select(e => e.Name).Distinct().Count());
        Assert.All(entries, e => Assert.False(string.IsNullOrWhiteSpace(e.Meaning)));
        Assert.Equal(DbMergeErrorKind.LockTimeout, ErrorRegistry.Get(ErrorRegistry.MergeLockTimeout).Kind);
        Assert.Equal(DbMergeErrorKind.Conflict, ErrorRegistry.Get(ErrorRegistry.MergeRefusedCollision).Kind);
    }

    private static IEnumerable<int> ThrownNumbers(string relativePath) => ProcedureContract.ThrownNumbers(relativePath);
}
