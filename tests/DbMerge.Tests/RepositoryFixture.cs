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
    public static RepositoryLayout ScratchCopy() => PlantedMergeTables.CopyRepository(Layout);
}
