using System.Globalization;
using System.Text.RegularExpressions;
using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;

namespace DbMerge.Scenarios;

/// <summary>Options for <see cref="ScratchDatabase.CreateAsync"/>; safe defaults.</summary>
public sealed class ScratchDatabaseOptions
{
    /// <summary>
    /// Any connection string to the server. Its own database is never touched: the scratch database is created from
    /// <c>master</c> with the same credentials (the login needs CREATE DATABASE). Never logged.
    /// </summary>
    public required string ServerConnectionString { get; init; }

    /// <summary>The migrations/ and database/ deployed into the scratch database (the same Migrator as <c>dbmerge migrate</c>).</summary>
    public required RepositoryLayout Layout { get; init; }

    /// <summary>
    /// The start of the database name: a letter, then up to 39 letters or digits. The name is
    /// <c>&lt;Prefix&gt;_&lt;UTC yyyyMMddHHmmss&gt;_&lt;6 hex digits&gt;</c>. Default <c>DbMergeScratch</c>.
    /// </summary>
    public string Prefix { get; init; } = "DbMergeScratch";

    /// <summary>Keep the database when disposed (its name is logged) instead of dropping it. Default false.</summary>
    public bool Keep { get; init; }

    /// <summary>Receives one line per step (created, migrated, deployed, ran, dropped): the runner writes them to stderr.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Receives detail: the Migrator's DbUp lines and the server's messages (PRINT, RAISERROR ≤ 10). Null: discarded.</summary>
    public Action<string>? Trace { get; init; }

    /// <summary>Timeout of CREATE DATABASE and of each scenario call. Default 1 hour (benchmark seeds of millions of rows).</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>
/// The one scratch-database lifecycle of DbMerge (demo, benchmarks, tests): <see cref="CreateAsync"/> creates a database
/// with a unique name on the server, migrates it with the same <see cref="Migrator"/> as <c>dbmerge migrate</c>, and
/// deploys every scenario procedure of <see cref="ScenarioCatalog"/> (schema <c>scenario</c>); <see cref="RunScenarioAsync"/>
/// runs one; <see cref="DisposeAsync"/> drops the database (<c>ROLLBACK IMMEDIATE</c> ends its sessions) unless
/// <see cref="ScratchDatabaseOptions.Keep"/>. It refuses nothing and says what it does through
/// <see cref="ScratchDatabaseOptions.Log"/>. A failure or cancellation after the CREATE still drops the database.
/// </summary>
public sealed partial class ScratchDatabase : IAsyncDisposable
{
    private readonly ScratchDatabaseOptions _options;
    private readonly string _master;
    private bool _disposed;

    private ScratchDatabase(ScratchDatabaseOptions options, string name, string master, string connectionString)
    {
        _options = options;
        _master = master;
        Name = name;
        ConnectionString = connectionString;
    }

    /// <summary>The database's name, e.g. <c>DbMergeDemo_20250101120000_1a2b3c</c>.</summary>
    public string Name { get; }

    /// <summary>A connection string to the scratch database (the server's credentials). Never log it.</summary>
    public string ConnectionString { get; }

    /// <summary>What the migration applied.</summary>
    public MigrationResult Migration { get; private set; } = new([], [], 0);

    /// <summary>The scenario procedures deployed (<c>scenario.DemoMerge</c>, …).</summary>
    public IReadOnlyList<string> Scenarios { get; private set; } = [];

    /// <summary>"server/database", safe to print.</summary>
    public string Describe() => $"{new SqlConnectionStringBuilder(ConnectionString).DataSource}/{Name}";

    /// <summary>Creates, migrates and prepares a scratch database; drops it again when any step fails or is cancelled.</summary>
    public static async Task<ScratchDatabase> CreateAsync(ScratchDatabaseOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ServerConnectionString, nameof(options.ServerConnectionString));
        ArgumentNullException.ThrowIfNull(options.Layout);
        if (!PrefixPattern().IsMatch(options.Prefix))
        {
            throw new ArgumentException($"Scratch database prefix '{options.Prefix}' must be a letter followed by up to 39 letters or digits.", nameof(options));
        }

        var name = string.Create(CultureInfo.InvariantCulture,
            $"{options.Prefix}_{DateTime.UtcNow:yyyyMMddHHmmss}_{Guid.NewGuid().ToString("N")[..6]}");
        var server = new SqlConnectionStringBuilder(options.ServerConnectionString);
        var master = new SqlConnectionStringBuilder(options.ServerConnectionString) { InitialCatalog = "master" }.ConnectionString;
        var scratch = new SqlConnectionStringBuilder(options.ServerConnectionString) { InitialCatalog = name }.ConnectionString;

        options.Log?.Invoke($"Creating scratch database {name} on {server.DataSource}…");
        await ExecuteAsync(master, $"CREATE DATABASE {Quote(name)};", options.CommandTimeout, cancellationToken).ConfigureAwait(false);
        var database = new ScratchDatabase(options, name, master, scratch);
        try
        {
            options.Log?.Invoke($"Migrating {name}…");
            database.Migration = await new Migrator(new MigratorOptions
                {
                    Layout = options.Layout,
                    Log = options.Trace is null ? null : m => options.Trace($"  {m}"),
                    Trace = options.Trace,
                })
                .MigrateAsync(scratch, cancellationToken).ConfigureAwait(false);
            options.Log?.Invoke($"Migrated {name}: {database.Migration.AppliedMigrations.Count} migration(s), " +
                                $"{database.Migration.DatabaseObjectsRun.Count} database object(s).");

            database.Scenarios = await database.DeployScenariosAsync(cancellationToken).ConfigureAwait(false);
            options.Log?.Invoke($"Deployed {database.Scenarios.Count} scenario procedure(s): {string.Join(", ", database.Scenarios)}.");
            return database;
        }
        catch
        {
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs <c>scenario.&lt;name&gt;</c> with the given parameters (<c>("Rows", 1000)</c> is <c>@Rows = 1000</c>) and returns
    /// the first row of its last result set (the scenario contract). Server messages go to the trace.
    /// </summary>
    /// <exception cref="ArgumentException">No embedded scenario has that name.</exception>
    /// <exception cref="InvalidOperationException">The scenario returned no row.</exception>
    public async Task<ScenarioRow> RunScenarioAsync(string name, CancellationToken cancellationToken = default, params (string Name, object? Value)[] parameters)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var scenario = ScenarioCatalog.Get(name);
        _options.Log?.Invoke($"Running {scenario.ProcedureName}…");
        await using var connection = await OpenAsync(ConnectionString, cancellationToken).ConfigureAwait(false);
        return await ScenarioSession.RunOnAsync(connection, scenario, _options.CommandTimeout, parameters, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops the database (ending its sessions), or logs that it is kept. Never throws: a failed drop is logged.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_options.Keep)
        {
            _options.Log?.Invoke($"Kept scratch database {Name} on {Describe()} (drop it with DROP DATABASE {Quote(Name)}).");
            return;
        }

        SqlConnection.ClearPool(new SqlConnection(ConnectionString));
        try
        {
            // Azure SQL Database (engine edition 5) has no SINGLE_USER; there DROP DATABASE ends the sessions itself.
            await ExecuteAsync(_master,
                $"IF DB_ID(N'{Name}') IS NOT NULL BEGIN IF CONVERT(int, SERVERPROPERTY('EngineEdition')) <> 5 " +
                $"ALTER DATABASE {Quote(Name)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE {Quote(Name)}; END;",
                TimeSpan.FromMinutes(5), CancellationToken.None).ConfigureAwait(false);
            _options.Log?.Invoke($"Dropped scratch database {Name}.");
        }
        catch (Exception ex) when (ex is SqlException or InvalidOperationException)
        {
            _options.Log?.Invoke($"Could not drop scratch database {Name} ({ex.Message.Split('\n')[0].Trim()}): drop it with DROP DATABASE {Quote(Name)}.");
        }
    }

    private async Task<IReadOnlyList<string>> DeployScenariosAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(ConnectionString, cancellationToken).ConfigureAwait(false);
        await RunBatchAsync(connection, ScenarioScripts.CreateSchemaSql, cancellationToken).ConfigureAwait(false);
        var deployed = new List<string>();
        foreach (var scenario in ScenarioCatalog.All)
        {
            foreach (var batch in SqlBatches.Split(scenario.Text))
            {
                await RunBatchAsync(connection, batch.Text, cancellationToken).ConfigureAwait(false);
            }

            deployed.Add(scenario.ProcedureName);
        }

        return deployed;
    }

    private async Task RunBatchAsync(SqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = TimeoutSeconds(_options.CommandTimeout) };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqlConnection> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqlConnection(connectionString);
        if (_options.Trace is { } trace)
        {
            connection.InfoMessage += (_, e) =>
            {
                foreach (SqlError error in e.Errors)
                {
                    trace($"  [server] {error.Message}");
                }
            };
        }

        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task ExecuteAsync(string connectionString, string sql, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = TimeoutSeconds(timeout) };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static int TimeoutSeconds(TimeSpan timeout) => (int)Math.Clamp(Math.Ceiling(timeout.TotalSeconds), 1, int.MaxValue);

    /// <summary>[name]: the name is letters, digits and underscores by construction, so nothing needs escaping.</summary>
    private static string Quote(string name) => "[" + name + "]";

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,39}$")]
    private static partial Regex PrefixPattern();
}
