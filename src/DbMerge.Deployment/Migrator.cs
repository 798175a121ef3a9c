using DbMerge.Schema;

namespace DbMerge.Deployment;

/// <summary>Options for <see cref="Migrator"/>; safe defaults.</summary>
public sealed class MigratorOptions
{
    public required RepositoryLayout Layout { get; init; }

    /// <summary>Timeout for each script batch. Default 5 minutes.</summary>
    public TimeSpan ExecutionTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long to wait for another deployment's lock before giving up. Default 60 seconds.</summary>
    public TimeSpan DeploymentLockTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often a migration failing on lock timeout (1222) is retried. Default 5.</summary>
    public int LockTimeoutRetries { get; init; } = 5;

    /// <summary>First retry delay; doubles per retry. Default 1 second.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Receives progress lines (script started, applied, retried). Never receives the connection string.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>What a migration run did.</summary>
public sealed record MigrationResult(
    IReadOnlyList<string> AppliedMigrations,
    IReadOnlyList<string> DatabaseObjectsRun,
    int LockTimeoutRetries);

/// <summary>
/// Deploys DbMerge with DbUp: migrations RunOnce (journaled, with checksums), then every database/ script
/// RunAlways in dependency order, under a session applock so concurrent deployments never double-apply.
/// </summary>
public sealed partial class Migrator
{
    private readonly MigratorOptions _options;

    public Migrator(MigratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    public Task<MigrationResult> MigrateAsync(string connectionString, CancellationToken cancellationToken = default) =>
        throw new NotImplementedException("Migrator.MigrateAsync is implemented by the deployment work of issue 2.");
}
