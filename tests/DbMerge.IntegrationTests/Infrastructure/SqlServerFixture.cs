using Xunit;

[assembly: AssemblyFixture(typeof(DbMerge.IntegrationTests.Infrastructure.SqlServerFixture))]

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// One SQL Server per test run. Uses DBMERGE_TEST_SQLSERVER (a connection string) when set, else starts
/// SQL Server 2022 with Testcontainers.MsSql; creates a test database and migrates it with the runner's
/// Migrator. With neither available, <see cref="IsAvailable"/> is false and <see cref="SkipReason"/> says why.
/// CONTRACT (filled in by the deployment work of issue 2): the members below keep these signatures.
/// </summary>
public sealed class SqlServerFixture : IAsyncLifetime
{
    public const string ServerEnvironmentVariable = "DBMERGE_TEST_SQLSERVER";

    public bool IsAvailable { get; private set; }

    public string SkipReason { get; private set; } = "SQL Server fixture not initialized.";

    /// <summary>The migrated test database.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The same server, database master (for creating scratch databases, KILL, and so on).</summary>
    public string MasterConnectionString { get; private set; } = string.Empty;

    /// <summary>Deletes all application and DbMerge data (Respawn), keeping the DbUp journal and reference data.</summary>
    public Task ResetAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <summary>Creates an empty database on the server and returns its connection string; dropped when the fixture ends.</summary>
    public Task<string> CreateScratchDatabaseAsync(string prefix, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException();

    public ValueTask InitializeAsync()
    {
        IsAvailable = false;
        SkipReason = "not implemented yet";
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
