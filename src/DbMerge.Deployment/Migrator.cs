using System.Diagnostics;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbUp;
using DbUp.Engine;
using DbUp.Engine.Transactions;
using DbUp.SqlServer;
using DbUp.Support;
using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment;

/// <summary>Options for <see cref="Migrator"/>; safe defaults.</summary>
public sealed class MigratorOptions
{
    public required RepositoryLayout Layout { get; init; }

    /// <summary>Command timeout of each script batch (the batch timeout). Default 5 minutes.</summary>
    public TimeSpan ExecutionTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long to wait for another deployment's lock before giving up. Default 60 seconds.</summary>
    public TimeSpan DeploymentLockTimeout { get; init; } = TimeSpan.FromMilliseconds(DeploymentJournal.DefaultLockTimeoutMilliseconds);

    /// <summary>
    /// How long re-creating one <c>database/</c> object waits for its schema-modification lock (SET LOCK_TIMEOUT)
    /// before the attempt fails with 1222 and is retried. While a CREATE OR ALTER waits behind the callers of a busy
    /// procedure, every new caller queues behind it: the wait is kept short. Default 3 seconds.
    /// </summary>
    public TimeSpan DatabaseObjectLockTimeout { get; init; } = TimeSpan.FromMilliseconds(DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds);

    /// <summary>How often a script failing on lock timeout (1222) is retried. Default 5.</summary>
    public int LockTimeoutRetries { get; init; } = DeploymentJournal.LockTimeoutRetries;

    /// <summary>First retry delay; doubles per retry. Default 1 second.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Receives progress lines (script started, applied, retried, warnings). Never receives the connection string.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Receives every message the scripts print (PRINT, RAISERROR with severity 10 or less) as it arrives, with the name
    /// of the script that printed it. Null: discarded.
    /// </summary>
    public Action<ScriptMessage>? ScriptOutput { get; init; }

    /// <summary>Add how long each script took to its <see cref="Log"/> line ("applied X (412 ms)"), for --verbose. Default off.</summary>
    public bool ReportTimings { get; init; }

    /// <summary>Receives DbUp's own detailed log lines (for --verbose). Null: discarded.</summary>
    public Action<string>? Trace { get; init; }

    /// <summary>
    /// Apply migrations only up to and including this file name, and run no <c>database/</c> script
    /// (they may depend on later migrations). Null (default): everything. For half-migrated test databases.
    /// </summary>
    public string? StopAfterMigration { get; init; }
}

/// <summary>A message a script printed (PRINT, or RAISERROR with severity 10 or less).</summary>
/// <param name="Script">The script that was running (a migration's file name or a database/ path).</param>
/// <param name="Message">The message text.</param>
public sealed record ScriptMessage(string Script, string Message);

/// <summary>A script that completed: its name, whether it is a migration, how long it took.</summary>
public sealed record ScriptRun(string Name, bool IsMigration, TimeSpan Elapsed);

/// <summary>What a migration run did.</summary>
public sealed record MigrationResult(
    IReadOnlyList<string> AppliedMigrations,
    IReadOnlyList<string> DatabaseObjectsRun,
    int LockTimeoutRetries)
{
    /// <summary>Every script run, in order, with its duration (a retried script appears once, with its successful run).</summary>
    public IReadOnlyList<ScriptRun> Scripts { get; init; } = [];
}

/// <summary>
/// Deploys DbMerge with DbUp: migrations RunOnce (journaled, with checksums), then every database/ script
/// RunAlways in dependency order, under a session applock so concurrent deployments never double-apply.
/// Before anything is applied it refuses a system database, a database newer than the release (its journal holds
/// migrations the release lacks) and a database whose applied migration changed. Cancellation stops between scripts.
/// </summary>
public sealed partial class Migrator
{
    /// <summary>Migrations run first; each database/ script gets its own later group so DbUp keeps the dependency order.</summary>
    private const int MigrationRunGroup = 1;
    private const int FirstDatabaseObjectRunGroup = 1000;

    /// <summary>Messages SQL Server sends at login, not printed by a script (changed database context, changed language).</summary>
    private static readonly HashSet<int> LoginMessages = [5701, 5703];

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

        string? current = null;
        using var announceStop = cancellationToken.Register(() =>
            _options.Log?.Invoke(current is null
                ? "stopping (cancelled) before the next script..."
                : $"stopping (cancelled) after {current}: a running script is one transaction and is not interrupted..."));

        DeploymentLock deployLock;
        try
        {
            deployLock = await DeploymentLock.AcquireAsync(
                connectionString, _options.DeploymentLockTimeout, _options.Log, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested && ex is OperationCanceledException or SqlException)
        {
            throw new MigrationCancelledException(null, null, [], cancellationToken);
        }

        await using var lockScope = deployLock;

        // Refuse before applying anything: a database newer than this release (never downgrade), a changed migration.
        var journal = await DeploymentJournal.ReadAsync(deployLock.Connection, cancellationToken).ConfigureAwait(false);
        var newer = DeploymentJournal.FindUnknown(journal, checksums);
        if (newer.Count > 0)
        {
            throw new DatabaseNewerException(newer);
        }

        var mismatches = DeploymentJournal.FindMismatches(journal, checksums);
        if (mismatches.Count > 0)
        {
            throw new DeploymentRefusedException(mismatches);
        }

        return await RunScriptsAsync(migrations, databaseObjects, checksums,
            script => new SqlConnectionManager(() => OpenScriptConnection(connectionString, script)),
            name => current = name, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the scripts with DbUp (one transaction per script, journaled), retrying a lock timeout and stopping between
    /// two scripts once <paramref name="cancellationToken"/> is cancelled. <paramref name="connect"/> makes DbUp's
    /// connection manager (given the name of the running script, for the messages it prints).
    /// </summary>
    internal async Task<MigrationResult> RunScriptsAsync(IReadOnlyList<SqlScriptFile> migrations, IReadOnlyList<SqlScriptFile> databaseObjects,
        IReadOnlyDictionary<string, string> checksums, Func<Func<string?>, IConnectionManager> connect, Action<string?>? running,
        CancellationToken cancellationToken)
    {
        var applied = new List<string>();
        var objectsRun = new List<string>();
        var timings = new List<ScriptRun>();
        string? lastCompleted = null;
        string? current = null;
        void SetCurrent(string? name)
        {
            current = name;
            running?.Invoke(name);
        }

        var totalRetries = 0;
        var retriesOfScript = 0;
        string? lastFailed = null;
        while (true)
        {
            // A retry must not run the database/ scripts that already ran again (RunAlways scripts are not journaled).
            var scripts = BuildScripts(migrations, RemainingObjects(databaseObjects, objectsRun), _options.DatabaseObjectLockTimeout);
            var watch = Stopwatch.StartNew();
            var engine = DeployChanges.To
                .SqlDatabase(connect(() => current))
                .WithScripts(scripts)
                .WithTransactionPerScript()
                .WithVariablesDisabled()
                .WithExecutionTimeout(_options.ExecutionTimeout)
                .WithPreprocessor(new StopBetweenScripts(cancellationToken))
                .JournalTo((connectionManager, log) => new ChecksumJournal(connectionManager, log, checksums))
                .ResetConfiguredLoggers()
                .LogTo(new CallbackUpgradeLog(_options.Trace, name =>
                {
                    SetCurrent(name);
                    watch.Restart();
                }))
                .Build();
            engine.ScriptExecuted += (_, e) =>
            {
                var script = ((ScriptExecutedEventArgs)e).Script;
                var isMigration = script.SqlScriptOptions.ScriptType == ScriptType.RunOnce;
                var run = new ScriptRun(script.Name, isMigration, watch.Elapsed);
                timings.Add(run);
                lastCompleted = script.Name;
                (isMigration ? applied : objectsRun).Add(script.Name);
                var took = _options.ReportTimings ? $" ({FormatElapsed(run.Elapsed)})" : string.Empty;
                _options.Log?.Invoke(isMigration ? $"applied {script.Name}{took}" : $"ran {script.Name}{took}");
                watch.Restart(); // in case DbUp's "Executing …" line (which restarts it precisely) ever changes
            };

            var result = await Task.Run(engine.PerformUpgrade, CancellationToken.None).ConfigureAwait(false);
            SetCurrent(null);
            if (result.Successful)
            {
                break;
            }

            var error = result.Error ?? new InvalidOperationException("DbUp reported a failure without an exception.");
            var failed = result.ErrorScript?.Name ?? FailedScriptName(error) ?? "(unknown script)";
            if (error is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw new MigrationCancelledException(lastCompleted, failed, applied, cancellationToken);
            }

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
                var what = IsDatabaseObject(failed, databaseObjects)
                    ? $"{failed} waited {_options.DatabaseObjectLockTimeout.TotalMilliseconds:0} ms for its schema lock (1222), so callers of the object do not queue behind it;"
                    : $"{failed} hit a lock timeout ({SqlErrors.LockRequestTimeout});";
                _options.Log?.Invoke($"{what} retry {retriesOfScript}/{_options.LockTimeoutRetries} in {FormatDelay(delay)}");
                try
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    throw new MigrationCancelledException(lastCompleted, failed, applied, cancellationToken);
                }

                continue;
            }

            throw new DeploymentFailedException(failed, retriesOfScript, error);
        }

        return new MigrationResult(applied, objectsRun.Distinct(StringComparer.Ordinal).ToList(), totalRetries) { Scripts = timings };
    }

    /// <summary>
    /// A connection for DbUp whose messages (PRINT, RAISERROR ≤ 10) are forwarded as they arrive, with the script
    /// that was running; the login's own messages (changed database context, language) are not.
    /// </summary>
    private SqlConnection OpenScriptConnection(string connectionString, Func<string?> currentScript)
    {
        var connection = new SqlConnection(connectionString);
        if (_options.ScriptOutput is { } output)
        {
            connection.InfoMessage += (_, e) =>
            {
                foreach (SqlError message in e.Errors)
                {
                    if (!LoginMessages.Contains(message.Number))
                    {
                        output(new ScriptMessage(currentScript() ?? "(between scripts)", message.Message));
                    }
                }
            };
        }

        return connection;
    }

    /// <summary>
    /// The DbUp scripts: migrations RunOnce named by file name (group 1, so DbUp orders them by name), then each
    /// database/ script RunAlways in its own later group so DbUp keeps the layout's dependency order. Every script
    /// starts with a batch that sets its lock timeout (session state: DbUp runs all scripts on one connection, so a
    /// migration's SET LOCK_TIMEOUT must not leak into the next script): none for a migration (its own header says
    /// which it sets), <paramref name="objectLockTimeout"/> for a database/ script.
    /// </summary>
    internal static List<SqlScript> BuildScripts(IReadOnlyList<SqlScriptFile> migrations, IReadOnlyList<SqlScriptFile> databaseObjects,
        TimeSpan? objectLockTimeout = null)
    {
        var objectTimeout = (int)Math.Clamp((objectLockTimeout ?? TimeSpan.FromMilliseconds(DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds)).TotalMilliseconds, 0, int.MaxValue);
        var scripts = new List<SqlScript>();
        scripts.AddRange(migrations.Select(m => new SqlScript(m.Name, "SET LOCK_TIMEOUT -1;\nGO\n" + m.Text,
            new SqlScriptOptions { ScriptType = ScriptType.RunOnce, RunGroupOrder = MigrationRunGroup })));
        scripts.AddRange(databaseObjects.Select((o, i) => new SqlScript(o.RelativePath, $"SET LOCK_TIMEOUT {objectTimeout};\nGO\n" + o.Text,
            new SqlScriptOptions { ScriptType = ScriptType.RunAlways, RunGroupOrder = FirstDatabaseObjectRunGroup + i })));
        return scripts;
    }

    /// <summary>The database/ scripts not yet run in this deployment, in order (a retry continues where it failed).</summary>
    internal static IReadOnlyList<SqlScriptFile> RemainingObjects(IReadOnlyList<SqlScriptFile> databaseObjects, IReadOnlyCollection<string> alreadyRun) =>
        databaseObjects.Where(o => !alreadyRun.Contains(o.RelativePath)).ToList();

    private static bool IsDatabaseObject(string scriptName, IReadOnlyList<SqlScriptFile> databaseObjects) =>
        databaseObjects.Any(o => string.Equals(o.RelativePath, scriptName, StringComparison.Ordinal));

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

    internal static string FormatElapsed(TimeSpan elapsed) =>
        elapsed.TotalSeconds >= 10
            ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{elapsed.TotalSeconds:0.0} s")
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{elapsed.TotalMilliseconds:0} ms");

    private static string FormatDelay(TimeSpan delay) =>
        delay.TotalSeconds >= 1 && delay.TotalSeconds == Math.Floor(delay.TotalSeconds)
            ? $"{delay.TotalSeconds:0}s"
            : $"{delay.TotalMilliseconds:0}ms";

    /// <summary>
    /// Runs before DbUp executes each script (outside its transaction): once cancellation is requested, the next script
    /// is not started, so a stop always falls between two committed scripts.
    /// </summary>
    internal sealed class StopBetweenScripts(CancellationToken cancellationToken) : IScriptPreprocessor
    {
        public string Process(string contents)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return contents;
        }
    }

    /// <summary>Connection-failure test shared with the runner's mapping (transport class ≥ 20, login and database-open errors).</summary>
    private static class Verbs
    {
        public static bool IsConnectionFailure(SqlException ex) =>
            ex.Class >= 20 || ex.Number is 18456 or 18452 or 18470 or 18487 or 18488 or 4060 or 53 or 40 or 26 or 10060 or 10061 or 11001;
    }
}
