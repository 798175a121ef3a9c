using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Scenarios;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Scenarios;

/// <summary>
/// DbMerge.Scenarios.ScratchDatabase: the one scratch-database lifecycle (create, migrate with the runner's Migrator,
/// deploy the scenario procedures, drop), and the demo and benchmark scenarios it deploys, run against SQL Server.
/// </summary>
public sealed class ScratchDatabaseTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<string> _log = [];

    private ScratchDatabaseOptions Options(RepositoryLayout? layout = null, bool keep = false) => new()
    {
        ServerConnectionString = Fixture.MasterConnectionString,
        Layout = layout ?? Fixture.Layout,
        Prefix = "DbMergeTestScratch",
        Keep = keep,
        Log = line =>
        {
            _log.Add(line);
            Output.WriteLine(line);
        },
        Trace = line => Output.WriteLine(line),
    };

    [Fact]
    public async Task A_scratch_database_is_created_migrated_given_every_scenario_and_dropped_on_dispose()
    {
        // Given a scratch database
        string name;
        await using (var scratch = await ScratchDatabase.CreateAsync(Options(), Ct))
        {
            name = scratch.Name;
            Assert.StartsWith("DbMergeTestScratch_", name, StringComparison.Ordinal);

            // Then it exists, holds every migration in its journal, and every embedded scenario procedure
            Assert.Equal(1, await MasterScalarAsync<int>("SELECT COUNT(*) FROM sys.databases WHERE name = @n;", name));
            var journal = await ScalarOnAsync<int>(scratch.ConnectionString, $"SELECT COUNT(*) FROM {DeploymentJournal.Schema}.{DeploymentJournal.Table};");
            Assert.Equal(Fixture.Layout.Migrations().Count, journal);
            var procedures = await ListOnAsync(scratch.ConnectionString,
                "SELECT s.name + N'.' + p.name FROM sys.procedures AS p JOIN sys.schemas AS s ON s.schema_id = p.schema_id WHERE s.name = N'scenario' ORDER BY p.name;");
            Assert.NotEmpty(procedures);
            Assert.Equal(ScenarioCatalog.All.Select(s => s.ProcedureName), procedures);
            Assert.Equal(procedures, scratch.Scenarios);
            Assert.Equal(0, await ScalarOnAsync<int>(ConnectionString, "SELECT COUNT(*) FROM sys.schemas WHERE name = N'scenario';"));
        }

        // When it is disposed, then it is gone, and the log said what happened
        Assert.Equal(0, await MasterScalarAsync<int>("SELECT COUNT(*) FROM sys.databases WHERE name = @n;", name));
        Assert.Contains(_log, l => l.StartsWith($"Creating scratch database {name}", StringComparison.Ordinal));
        Assert.Contains(_log, l => l == $"Dropped scratch database {name}.");
    }

    [Fact]
    public async Task A_kept_scratch_database_survives_dispose_and_says_so()
    {
        string name;
        await using (var scratch = await ScratchDatabase.CreateAsync(Options(keep: true), Ct))
        {
            name = scratch.Name;
        }

        try
        {
            Assert.Equal(1, await MasterScalarAsync<int>("SELECT COUNT(*) FROM sys.databases WHERE name = @n;", name));
            Assert.Contains(_log, l => l.StartsWith($"Kept scratch database {name}", StringComparison.Ordinal));
        }
        finally
        {
            SqlConnection.ClearAllPools();
            await MasterExecAsync($"ALTER DATABASE [{name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{name}];");
        }
    }

    [Fact]
    public async Task A_migration_that_fails_drops_the_scratch_database_again()
    {
        // Given a repository whose only migration fails
        var root = DbMerge.Testing.ScratchDirectory.Create("dbmerge-failing-");
        Directory.CreateDirectory(Path.Combine(root, "migrations"));
        await File.WriteAllTextAsync(Path.Combine(root, "migrations", "0001_create_failure.sql"),
            "/* Why: planted. Locks: none. */\nTHROW 50000, N'planted failure', 1;\n", Ct);

        // When a scratch database is created from it, then the migration's failure surfaces
        await Assert.ThrowsAsync<DeploymentFailedException>(() => ScratchDatabase.CreateAsync(Options(new RepositoryLayout(root)), Ct));

        // And the database was dropped
        var created = Assert.Single(_log, l => l.StartsWith("Creating scratch database ", StringComparison.Ordinal));
        var name = created["Creating scratch database ".Length..].Split(' ')[0];
        Assert.Equal(0, await MasterScalarAsync<int>("SELECT COUNT(*) FROM sys.databases WHERE name = @n;", name));
        Assert.Contains(_log, l => l == $"Dropped scratch database {name}.");
    }

    [Fact]
    public async Task The_demo_scenario_seeds_two_accounts_whose_merge_verifies_and_matches_its_dry_run()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);

        var seed = await scratch.RunScenarioAsync("DemoMerge", Ct);

        var (source, target) = (seed.Get<int>("SourceUserId"), seed.Get<int>("TargetUserId"));
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });
        var references = await client.GetUserReferencesAsync(source, Ct);
        Assert.True(references.Sum(r => r.ReferencingRows) >= 15, string.Join(", ", references));
        var dry = await client.MergeUsersAsync(source, target, "scenario test", null, dryRun: true, Ct);
        var merged = await client.MergeUsersAsync(source, target, "scenario test", null, dryRun: false, Ct);
        var verification = await client.VerifyMergeAsync(merged.MergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("; ", verification.Problems));
        Assert.Equal(dry.Tables, merged.Tables);
        Assert.Contains(merged.Tables, t => t.Conflicts > 0);
    }

    [Fact]
    public async Task The_bench_merge_scenario_seeds_about_N_rows_referencing_the_source_and_a_second_seed_stays_apart()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });

        // Given two seeds before any merge (as the bench seeds its small and large pair): new users, new roots after
        // the highest root step, so the second seed never collides with the first on UQ_app_Document_Path
        var seeds = new[]
        {
            await scratch.RunScenarioAsync("BenchMerge", Ct, ("Rows", 1000)),
            await scratch.RunScenarioAsync("BenchMerge", Ct, ("Rows", 2000)),
        };

        foreach (var (seed, rows) in seeds.Zip(new[] { 1000, 2000 }))
        {
            var source = seed.Get<int>("SourceUserId");
            var bystander = seed.Get<int>("BystanderUserId");
            var references = (await client.GetUserReferencesAsync(source, Ct)).Sum(r => r.ReferencingRows);
            Output.WriteLine($"{rows} rows: {references} rows reference source {source}");
            Assert.InRange(references, rows * 9 / 10, rows * 11 / 10);

            // The bystander holds a row in every table the merge writes (the writer updates it)
            var written = await ScalarOnAsync<int>(scratch.ConnectionString, $"EXEC scenario.BenchMergeWrite @UserId = {bystander};");
            Assert.Equal(15, written);

            var merged = await client.MergeUsersAsync(source, seed.Get<int>("TargetUserId"), "scenario test", null, dryRun: false, Ct);
            Assert.True((await client.VerifyMergeAsync(merged.MergeRunId, Ct)).Verified);
            Assert.Contains(merged.Tables, t => t.Policy == "readdress" && t.Moved > 0);
            Assert.Contains(merged.Tables, t => t.Policy == "merge-children" && t.Merged > 0);
        }
    }

    [Fact]
    public async Task A_scenario_refuses_parameters_out_of_range_with_its_own_number()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);

        var error = await Assert.ThrowsAsync<SqlException>(() => scratch.RunScenarioAsync("BenchMerge", Ct, ("Rows", 0)));

        Assert.Equal(50001, error.Number);
        Assert.StartsWith("scenario.BenchMerge:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_bench_move_scenario_builds_a_subtree_that_moves_in_one_pass()
    {
        // Given a seeded subtree of 50 documents, each with a direct access
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);
        var tree = await scratch.RunScenarioAsync("BenchMove", Ct, ("Nodes", 50L));
        var (user, subtree, targetRoot) = (tree.Get<int>("UserId"), tree.Get<int>("SubtreeRootId"), tree.Get<int>("TargetRootId"));
        Assert.Equal(50, tree.Get<int>("Documents"));
        Assert.Equal(50, await ScalarOnAsync<int>(scratch.ConnectionString,
            $"SELECT COUNT(*) FROM app.DocumentAccess WHERE UserId = {user} AND Role = 'editor';"));

        // When the bench user (owner of both roots) moves it under the other root
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });
        var moved = await client.MoveDocumentAsync(subtree, targetRoot, DocumentMovePositions.LastChild, user, cancellationToken: Ct);

        // Then all 50 moved, the subtree root lost its own access only, and the subtree is whole under its new root
        Assert.Equal(50, moved.DocumentsMoved);
        Assert.Equal(50, moved.PathsRewritten);
        Assert.True(moved.ScopeChanged);
        Assert.Equal(1, moved.AccessesDeleted);
        Assert.Equal(50, (await client.GetTreeAsync(subtree, cancellationToken: Ct)).Count);
        Assert.Equal(51, (await client.GetTreeAsync(targetRoot, cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task An_unknown_scenario_is_refused_before_any_SQL_runs_naming_the_known_ones()
    {
        await using var scratch = await ScratchDatabase.CreateAsync(Options(), Ct);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => scratch.RunScenarioAsync("NoSuchScenario", Ct));

        Assert.Contains("DemoMerge", error.Message, StringComparison.Ordinal);
    }

    private async Task<T> MasterScalarAsync<T>(string sql, string name)
    {
        await using var connection = new SqlConnection(Fixture.MasterConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new SqlCommand(sql, connection);
        command.Parameters.AddWithValue("@n", name);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync(Ct))!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task MasterExecAsync(string sql)
    {
        await using var connection = new SqlConnection(Fixture.MasterConnectionString);
        await connection.OpenAsync(Ct);
        await using var command = new SqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    private static async Task<T> ScalarOnAsync<T>(string connectionString, string sql)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new SqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync(Ct))!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<List<string>> ListOnAsync(string connectionString, string sql)
    {
        var rows = new List<string>();
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var command = new SqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
