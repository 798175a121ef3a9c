using Xunit;

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// The test classes that bound a concurrent writer's wait (<see cref="WriterProbe"/>: the DESIGN §8 target plus
/// <see cref="WriterProbe.CiMarginMs"/>). Their state is isolated like every class's (a database of their own), but the
/// server's CPU, log and tempdb are not: run beside 100,000-row imports and 20,000-row merges of the parallel classes,
/// scheduling noise alone could exceed the stated margin. xUnit runs a collection that disables parallelization after
/// every parallel collection has finished, alone, so the bound measures the operation under test, not the suite.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WriterLatencyCollection
{
    public const string Name = "Writer latency bounds (run alone)";
}
