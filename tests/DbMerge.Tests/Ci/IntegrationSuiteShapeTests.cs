using System.Text.RegularExpressions;
using Xunit;

namespace DbMerge.Tests.Ci;

/// <summary>
/// The integration suite's own rules that can be read from its sources (they run only where SQL Server exists).
/// </summary>
public sealed partial class IntegrationSuiteShapeTests
{
    private static readonly string Suite = Path.Combine(Repo.Layout.Root, "tests", "DbMerge.IntegrationTests");

    /// <summary>
    /// A test class that bounds a writer's wait (WriterProbe) runs in the collection that disables parallelization: beside
    /// the parallel classes' bulk work, scheduling noise alone could exceed the CI margin and fail it for the wrong reason.
    /// </summary>
    [Fact]
    public void Every_class_that_bounds_a_writers_wait_runs_in_the_collection_run_alone()
    {
        var offenders = WriterBoundClassesOutsideTheCollection(Suite).ToList();
        Assert.Empty(offenders);
        // (and the rule has something to hold for)
        Assert.True(Directory.EnumerateFiles(Suite, "*.cs", SearchOption.AllDirectories).Count(f => ProbeUse().IsMatch(File.ReadAllText(f))) >= 3);
    }

    [Fact]
    public void A_writer_bound_class_outside_the_collection_is_caught()
    {
        var scratch = ScratchDirectory.Create("dbmerge-suite-");
        File.WriteAllText(Path.Combine(scratch, "PlantedTests.cs"), """
            public sealed class PlantedTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
            {
                [Fact]
                public async Task A_writer_is_never_blocked()
                {
                    await using var writer = await WriterProbe.StartAsync(ConnectionString, (c, i) => Task.CompletedTask);
                }
            }
            """);
        File.WriteAllText(Path.Combine(scratch, "GoodTests.cs"), """
            [Collection(WriterLatencyCollection.Name)]
            public sealed class GoodTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
            {
                public async Task W() { await using var writer = await WriterProbe.StartAsync(ConnectionString, (c, i) => Task.CompletedTask); }
            }
            """);

        Assert.Equal(["PlantedTests.cs"], WriterBoundClassesOutsideTheCollection(scratch).Select(Path.GetFileName));
    }

    private static IEnumerable<string> WriterBoundClassesOutsideTheCollection(string root) =>
        Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => ProbeUse().IsMatch(File.ReadAllText(f)))
            .Where(f => !InCollection().IsMatch(File.ReadAllText(f)))
            .Order(StringComparer.Ordinal);

    [GeneratedRegex(@"WriterProbe\.StartAsync\(")]
    private static partial Regex ProbeUse();

    [GeneratedRegex(@"\[Collection\(WriterLatencyCollection\.Name\)\]\s*public sealed class")]
    private static partial Regex InCollection();
}
