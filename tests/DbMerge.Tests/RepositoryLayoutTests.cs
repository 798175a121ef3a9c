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

/// <summary>Which migrations a verb uses when the packed tool runs (README "Set-up", "Which repository a verb uses").</summary>
public sealed class PackagedReleaseDiscoveryTests
{
    private static string ToolFolderWithRelease()
    {
        var tool = DbMerge.Testing.ScratchDirectory.Create("dbmerge-tool-");
        Directory.CreateDirectory(Path.Combine(tool, RepositoryLayout.PackagedReleaseFolder, "migrations"));
        File.WriteAllText(Path.Combine(tool, RepositoryLayout.PackagedReleaseFolder, "migrations", "0001_create_x.sql"), "SELECT 1;");
        return tool;
    }

    [Fact]
    public void Outside_any_checkout_the_release_packaged_with_the_tool_is_used_and_says_so()
    {
        var elsewhere = DbMerge.Testing.ScratchDirectory.Create("dbmerge-elsewhere-");
        var tool = ToolFolderWithRelease();

        var layout = RepositoryLayout.Discover(elsewhere, tool);

        Assert.True(layout.IsPackagedRelease);
        Assert.Equal(Path.GetFullPath(Path.Combine(tool, RepositoryLayout.PackagedReleaseFolder)), layout.Root);
        Assert.Contains("release packaged with this dbmerge", layout.Describe(), StringComparison.Ordinal);
        Assert.Contains("0001_create_x.sql", layout.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Inside_a_checkout_the_checkout_wins_over_the_packaged_release()
    {
        var inside = Path.Combine(Repo.Layout.Root, "src", "DbMerge.Runner");
        var tool = ToolFolderWithRelease();

        var layout = RepositoryLayout.Discover(inside, tool);

        Assert.False(layout.IsPackagedRelease);
        Assert.Equal(Repo.Layout.Root, layout.Root);
    }

    [Fact]
    public void Without_a_checkout_or_a_packaged_release_the_error_says_to_pass_repo()
    {
        var elsewhere = DbMerge.Testing.ScratchDirectory.Create("dbmerge-elsewhere-");
        var emptyTool = DbMerge.Testing.ScratchDirectory.Create("dbmerge-tool-");

        var error = Assert.Throws<DirectoryNotFoundException>(() => RepositoryLayout.Discover(elsewhere, emptyTool));

        Assert.Contains("--repo", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_verb_given_a_checkout_uses_it_and_says_nothing_about_a_packaged_release()
    {
        var stderr = new StringWriter();
        var context = new DbMerge.Runner.Cli.CliContext(TextWriter.Null, stderr, false, environment: _ => null);

        var layout = DbMerge.Runner.Cli.CliRepository.Resolve(context, Repo.Layout.Root);

        Assert.False(layout.IsPackagedRelease);
        Assert.Equal(string.Empty, stderr.ToString());
    }
}
