using DbMerge.Client;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Scenarios;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Documents;

/// <summary>
/// The seeds of <c>dbmerge bench move</c> against SQL Server, in a scratch database as the verb uses them: the forest
/// (scenario.BenchMoveForest) is appended after the existing roots with one access per document, and a subtree moved to
/// an appending position beside it writes exactly the subtree's rows and leaves every forest row alone.
/// </summary>
public sealed class BenchMoveScenarioTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ScratchDatabaseOptions Options() => new()
    {
        ServerConnectionString = Fixture.MasterConnectionString,
        Layout = Fixture.Layout,
        Prefix = "DbMergeTestBenchMove",
        Log = Output.WriteLine,
        Trace = Output.WriteLine,
    };

    private static async Task<T> ScalarOnAsync<T>(string connectionString, string sql)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new SqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync(Ct))!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_subtree_moved_beside_the_forest_writes_exactly_its_rows_and_leaves_the_forest_alone()
    {
        // Given a scratch database with a first subtree seed, then a forest of 20 trees of 3 documents
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);
        var first = await scratch.RunScenarioAsync("BenchMove", Ct, ("Nodes", 10L));
        var forest = await scratch.RunScenarioAsync("BenchMoveForest", Ct, ("Trees", 20), ("DocumentsPerTree", 3));
        Assert.Equal(20, forest.Get<int>("Trees"));
        Assert.Equal(60, forest.Get<int>("Documents"));
        Assert.Equal(60, forest.Get<int>("Accesses"));
        Assert.Equal("0000003", await ScalarOnAsync<string>(scratch.ConnectionString, $"SELECT Path FROM app.Document WHERE DocumentId = {forest.Get<int>("FirstRootId")};"));
        Assert.Equal("000000M", await ScalarOnAsync<string>(scratch.ConnectionString, $"SELECT Path FROM app.Document WHERE DocumentId = {forest.Get<int>("LastRootId")};")); // 22 in base 36
        const string ForestRows = "SELECT CHECKSUM_AGG(CHECKSUM(DocumentId, Path, UpdatedAt)) FROM app.Document WHERE Path >= '0000003' AND Path < '000000M[';";
        var before = await ScalarOnAsync<int>(scratch.ConnectionString, ForestRows);

        // When a subtree of 50 seeded after it moves to the last child of another root
        var tree = await scratch.RunScenarioAsync("BenchMove", Ct, ("Nodes", 50L));
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });
        var warmUp = await client.MoveDocumentAsync(tree.Get<int>("SubtreeRootId"), tree.Get<int>("SourceRootId"), DocumentMovePositions.LastChild,
            tree.Get<int>("UserId"), cancellationToken: Ct); // the verb's untimed warm-up: the subtree root is its root's only child
        Assert.True(warmUp.NoOp);
        var moved = await client.MoveDocumentAsync(tree.Get<int>("SubtreeRootId"), tree.Get<int>("TargetRootId"), DocumentMovePositions.LastChild,
            tree.Get<int>("UserId"), cancellationToken: Ct);

        // Then it wrote exactly the subtree's 50 rows and no forest row changed
        Assert.Equal(50, moved.DocumentsMoved);
        Assert.Equal(50, moved.RowsWritten);
        Assert.Equal(0, moved.SiblingsShifted);
        Assert.Equal(before, await ScalarOnAsync<int>(scratch.ConnectionString, ForestRows));
        Assert.Equal(10, first.Get<int>("Documents"));
    }

    [Fact]
    public async Task The_forest_scenario_refuses_sizes_out_of_range_with_its_own_number()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);

        var error = await Assert.ThrowsAsync<SqlException>(() => scratch.RunScenarioAsync("BenchMoveForest", Ct, ("Trees", 0), ("DocumentsPerTree", 10)));

        Assert.Equal(50003, error.Number);
        Assert.StartsWith("scenario.BenchMoveForest:", error.Message, StringComparison.Ordinal);
    }
}
