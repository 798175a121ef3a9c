using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Respawn;
using Respawn.Graph;

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// One migrated database of the test run: a test class's own (<see cref="SqlServerFixture.DatabaseForClassAsync"/>) or
/// a test's own (<see cref="SqlServerFixture.CreateMigratedDatabaseAsync"/>). <see cref="ResetAsync"/> deletes every
/// application and DbMerge row with Respawn, keeping the DbUp journal and the reference data the migrations seed.
/// </summary>
public sealed class TestDatabase(string name, string connectionString, RepositoryLayout layout)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Respawner? _respawner;

    public string Name { get; } = name;

    public string ConnectionString { get; } = connectionString;

    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await using var connection = new SqlConnection(ConnectionString);
            await connection.OpenAsync(cancellationToken);

            // Built once per database, on its first reset: it reads this database's foreign-key graph.
            _respawner ??= await Respawner.CreateAsync(connection, new RespawnerOptions
            {
                DbAdapter = DbAdapter.SqlServer,
                SchemasToInclude = ["app", "dbmerge"],
                TablesToIgnore =
                [
                    new Table(DeploymentJournal.Schema, DeploymentJournal.Table),
                    .. ReferenceData.Tables(layout).Select(t => new Table(t.Schema, t.Table)),
                ],
            });
            await _respawner.ResetAsync(connection);
        }
        finally
        {
            _gate.Release();
        }
    }
}
