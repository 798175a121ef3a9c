using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests;

public sealed class RepositoryLayoutTests
{
    [Fact]
    public void Migrations_are_listed_in_ordinal_file_name_order()
    {
        var names = Repo.Layout.Migrations().Select(m => m.Name).ToList();
        Assert.NotEmpty(names);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.All(names, n => Assert.Matches(@"^\d{4}_[a-z0-9]+(_[A-Za-z0-9]+)+\.sql$", n));
    }

    [Fact]
    public void Database_objects_are_ordered_functions_then_views_then_procedures_then_permissions()
    {
        var scratch = Repo.ScratchCopy();
        foreach (var (folder, name) in new[] { ("database/api/Procedures", "api.P.sql"), ("database/api/Functions", "api.F.sql"), ("database/api/Views", "api.V.sql") })
        {
            Directory.CreateDirectory(Path.Combine(scratch.Root, folder));
            File.WriteAllText(Path.Combine(scratch.Root, folder, name), "SELECT 1;");
        }

        var kinds = scratch.DatabaseObjects().Select(f => f.RelativePath.Split('/')[^2]).ToList();
        var firstPermission = kinds.IndexOf("permissions");
        Assert.True(kinds.IndexOf("Functions") < kinds.IndexOf("Views"), string.Join(",", kinds));
        Assert.True(kinds.IndexOf("Views") < kinds.IndexOf("Procedures"), string.Join(",", kinds));
        Assert.True(kinds.LastIndexOf("Procedures") < firstPermission, string.Join(",", kinds));
    }

    [Fact]
    public void A_folder_without_migrations_is_not_a_repository()
    {
        var empty = ScratchDirectory.Create("dbmerge-empty-");
        var error = Assert.Throws<DirectoryNotFoundException>(() => new RepositoryLayout(empty));
        Assert.Contains("migrations", error.Message);
    }
}
