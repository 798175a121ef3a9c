using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbUp;
using DbUp.Engine;
using DbUp.Support;
using Microsoft.Data.SqlClient;

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

    /// <summary>Receives DbUp's own detailed log lines (for --verbose). Null: discarded.</summary>
    public Action<string>? Trace { get; init; }

    /// <summary>
    /// Apply migrations only up to and including this file name, and run no <c>database/</c> script
    /// (they may depend on later migrations). Null (default): everything. For half-migrated test databases.
    /// </summary>
    public string? StopAfterMigration { get; init; }
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
    /// <summary>Migrations run first; each database/ script gets its own later group so DbUp keeps the dependency order.</summary>
    private const int MigrationRunGroup = 1;
    private const int FirstDatabaseObjectRunGroup = 1000;

    /// <summary>
    /// Prepended to every script: SET LOCK_TIMEOUT is session state, and DbUp runs all scripts on one
    /// connection, so a migration's SET LOCK_TIMEOUT must not leak into the scripts after it.
    /// </summary>
    private const string ResetSessionBatch = "SET LOCK_TIMEOUT -1;\nGO\n";

    private readonly MigratorOptions _options;

    public Migrator(MigratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    public async Task<MigrationResult> MigrateAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var layout = _options.Layout;
        var allMigrations = layout.Migrations();
        var checksums = allMigrations.ToDictionary(m => m.Name, m => MigrationChecksums.ComputeFile(m.FullPath), StringComparer.Ordinal);
        var migrations = allMigrations;
        var databaseObjects = layout.DatabaseObjects();
        if (_options.StopAfterMigration is { } stopAfter)
        {
            var index = allMigrations.ToList().FindIndex(m => string.Equals(m.Name, stopAfter, StringComparison.Ordinal));
            if (index < 0)
            {
                throw new ArgumentException($"StopAfterMigration '{stopAfter}' is not a migration of {layout.MigrationsDirectory}.", nameof(connectionString));
            }

            migrations = allMigrations.Take(index + 1).ToList();
            databaseObjects = [];
        }

        // checksums.txt drifting from the files is a repository problem the offline test catches; say it here too.
        foreach (var problem in MigrationChecksums.Verify(layout))
        {
            _options.Log?.Invoke("warning: " + problem);
        }

        await using var deployLock = await DeploymentLock.AcquireAsync(
            connectionString, _options.DeploymentLockTimeout, _options.Log, cancellationToken).ConfigureAwait(false);

        // Refuse before applying anything when an applied migration's file changed.
        var journal = await DeploymentJournal.ReadAsync(deployLock.Connection, cancellationToken).ConfigureAwait(false);
        var mismatches = DeploymentJournal.FindMismatches(journal, checksums);
        if (mismatches.Count > 0)
        {
            throw new DeploymentRefusedException(mismatches);
        }

        foreach (var unknown in journal.Select(j => j.ScriptName).Distinct(StringComparer.Ordinal).Where(n => !checksums.ContainsKey(n)))
        {
            _options.Log?.Invoke($"warning: {unknown} is in the journal but not in {layout.Relative(layout.MigrationsDirectory)}/ (the database is ahead of this repository?).");
        }

        var scripts = BuildScripts(migrations, databaseObjects);

        var applied = new List<string>();
        var objectsRun = new List<string>();
        var totalRetries = 0;
        var retriesOfScript = 0;
        string? lastFailed = null;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var engine = DeployChanges.To
                .SqlDatabase(connectionString)
                .WithScripts(scripts)
                .WithTransactionPerScript()
                .WithVariablesDisabled()
                .WithExecutionTimeout(_options.ExecutionTimeout)
                .JournalTo((connectionManager, log) => new ChecksumJournal(connectionManager, log, checksums))
                .ResetConfiguredLoggers()
                .LogTo(new CallbackUpgradeLog(_options.Trace))
                .Build();
            engine.ScriptExecuted += (_, e) =>
            {
                var script = ((ScriptExecutedEventArgs)e).Script;
                if (script.SqlScriptOptions.ScriptType == ScriptType.RunOnce)
                {
                    applied.Add(script.Name);
                    _options.Log?.Invoke($"applied {script.Name}");
                }
                else
                {
                    objectsRun.Add(script.Name);
                    _options.Log?.Invoke($"ran {script.Name}");
                }
            };

            var result = await Task.Run(engine.PerformUpgrade, cancellationToken).ConfigureAwait(false);
            if (result.Successful)
            {
                break;
            }

            var error = result.Error ?? new InvalidOperationException("DbUp reported a failure without an exception.");
            var failed = result.ErrorScript?.Name ?? FailedScriptName(error) ?? "(unknown script)";
            retriesOfScript = string.Equals(failed, lastFailed, StringComparison.Ordinal) ? retriesOfScript : 0;
            lastFailed = failed;
            if (error is SqlException sql && Verbs.IsConnectionFailure(sql))
            {
                // Unreachable server or refused login: not a script failure; let the caller map it.
                throw sql;
            }

            if (SqlErrors.IsLockTimeout(error) && retriesOfScript < _options.LockTimeoutRetries)
            {
                retriesOfScript++;
                totalRetries++;
                var delay = TimeSpan.FromTicks(_options.RetryBaseDelay.Ticks * (1L << Math.Min(retriesOfScript - 1, 20)));
                _options.Log?.Invoke(
                    $"{failed} hit a lock timeout ({SqlErrors.LockRequestTimeout}); retry {retriesOfScript}/{_options.LockTimeoutRetries} in {FormatDelay(delay)}");
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                continue;
            }

            throw new DeploymentFailedException(failed, retriesOfScript, error);
        }

        return new MigrationResult(applied, objectsRun.Distinct(StringComparer.Ordinal).ToList(), totalRetries);
    }

    /// <summary>
    /// The DbUp scripts: migrations RunOnce named by file name (group 1, so DbUp orders them by name), then each
    /// database/ script RunAlways in its own later group so DbUp keeps the layout's dependency order.
    /// </summary>
    internal static List<SqlScript> BuildScripts(IReadOnlyList<SqlScriptFile> migrations, IReadOnlyList<SqlScriptFile> databaseObjects)
    {
        var scripts = new List<SqlScript>();
        scripts.AddRange(migrations.Select(m => new SqlScript(m.Name, ResetSessionBatch + m.Text,
            new SqlScriptOptions { ScriptType = ScriptType.RunOnce, RunGroupOrder = MigrationRunGroup })));
        scripts.AddRange(databaseObjects.Select((o, i) => new SqlScript(o.RelativePath, ResetSessionBatch + o.Text,
            new SqlScriptOptions { ScriptType = ScriptType.RunAlways, RunGroupOrder = FirstDatabaseObjectRunGroup + i })));
        return scripts;
    }

    private static string? FailedScriptName(Exception error)
    {
        foreach (System.Collections.DictionaryEntry entry in error.Data)
        {
            if (entry.Key is string key && key.StartsWith("Error occurred in script", StringComparison.Ordinal))
            {
                return entry.Value as string;
            }
        }

        return null;
    }

    private static string FormatDelay(TimeSpan delay) =>
        delay.TotalSeconds >= 1 && delay.TotalSeconds == Math.Floor(delay.TotalSeconds)
            ? $"{delay.TotalSeconds:0}s"
            : $"{delay.TotalMilliseconds:0}ms";

    /// <summary>Connection-failure test shared with the runner's mapping (transport class ≥ 20, login and database-open errors).</summary>
    private static class Verbs
    {
        public static bool IsConnectionFailure(SqlException ex) =>
            ex.Class >= 20 || ex.Number is 18456 or 18452 or 18470 or 18487 or 18488 or 4060 or 53 or 40 or 26 or 10060 or 10061 or 11001;
    }
}
