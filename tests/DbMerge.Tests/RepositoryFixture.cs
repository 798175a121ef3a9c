using DbMerge.Schema;

namespace DbMerge.Tests;

/// <summary>The repository under test, and scratch copies of it for planting violations.</summary>
public static class Repo
{
    public static RepositoryLayout Layout { get; } = RepositoryLayout.Discover(AppContext.BaseDirectory);

    /// <summary>
    /// Copies migrations/, database/, the scenario procedures (src/DbMerge.Scenarios/Sql/), README.md and DbMerge.sln to a
    /// new temp folder and returns its layout. Plant a violation in the copy, never in the repository. The copy is
    /// deleted when the test ends.
    /// </summary>
    public static RepositoryLayout ScratchCopy()
    {
        var target = ScratchDirectory.Create("dbmerge-scratch-");
        foreach (var folder in new[] { "migrations", "database", ScenarioScripts.Folder })
        {
            var source = Path.Combine(Layout.Root, folder);
            foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
            {
                var destination = Path.Combine(target, folder, Path.GetRelativePath(source, file));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }
        }

        foreach (var file in new[] { "README.md", "DbMerge.sln" })
        {
            var source = Path.Combine(Layout.Root, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(target, file));
            }
        }

        return new RepositoryLayout(target);
    }
}
