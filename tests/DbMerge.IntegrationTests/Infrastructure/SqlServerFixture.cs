using System.Diagnostics;
using System.Text;
using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Respawn;
using Respawn.Graph;
using Testcontainers.MsSql;
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

    /// <summary>The pinned SQL Server image (also used by scripts/start-sqlserver.sh — keep the two equal).</summary>
    public const string SqlServerImage = DbMerge.Deployment.SqlServerImage.Pinned;

    private readonly List<string> _databases = [];
    private readonly SemaphoreSlim _respawnerGate = new(1, 1);
    private readonly List<string> _migrationLog = [];
    private MsSqlContainer? _container;
    private Respawner? _respawner;

    public bool IsAvailable { get; private set; }

    public string SkipReason { get; private set; } = "SQL Server fixture not initialized.";

    /// <summary>The migrated test database.</summary>
    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The same server, database master (for creating scratch databases, KILL, and so on).</summary>
    public string MasterConnectionString { get; private set; } = string.Empty;

    /// <summary>The repository whose migrations and database/ scripts the test database was deployed from.</summary>
    public RepositoryLayout Layout { get; } = RepositoryLayout.Discover(AppContext.BaseDirectory);

    /// <summary>What the Migrator printed while deploying the test database.</summary>
    public IReadOnlyList<string> MigrationLog => _migrationLog;

    /// <summary>How long finding (or failing to find) a server took; reported in the skip reason.</summary>
    public TimeSpan ProbeDuration { get; private set; }

    /// <summary>True when the server runs in a Testcontainers container (sqlcmd is then run inside it).</summary>
    public bool IsContainer => _container is not null;

    /// <summary>Deletes all application and DbMerge data (Respawn), keeping the DbUp journal and reference data.</summary>
    public async Task ResetAsync(CancellationToken cancellationToken = default)
    {
        if (!IsAvailable)
        {
            return;
        }

        await using var connection = new SqlConnection(ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await _respawnerGate.WaitAsync(cancellationToken);
        try
        {
            // Built once, lazily: the first reset after migration reads the FK graph.
            _respawner ??= await Respawner.CreateAsync(connection, new RespawnerOptions
            {
                DbAdapter = DbAdapter.SqlServer,
                SchemasToInclude = ["app", "dbmerge"],
                TablesToIgnore =
                [
                    new Table(DeploymentJournal.Schema, DeploymentJournal.Table),
                    .. ReferenceData.Tables(Layout).Select(t => new Table(t.Schema, t.Table)),
                ],
            });

            // Serialized: concurrent resets of the same tables only deadlock each other.
            await _respawner.ResetAsync(connection);
        }
        finally
        {
            _respawnerGate.Release();
        }
    }

    /// <summary>Creates an empty database on the server and returns its connection string; dropped when the fixture ends.</summary>
    public async Task<string> CreateScratchDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException(SkipReason);
        }

        var safePrefix = new string((prefix ?? "scratch").Where(char.IsAsciiLetterOrDigit).Take(40).ToArray());
        var name = $"{(safePrefix.Length == 0 ? "scratch" : safePrefix)}_{Guid.NewGuid():N}";
        await CreateDatabaseAsync(name, cancellationToken);
        return WithDatabase(MasterConnectionString, name);
    }

    /// <summary>
    /// Runs <paramref name="scriptPath"/> with <c>sqlcmd -b</c> (without <c>-b</c> when <paramref name="stopOnError"/> is
    /// false) against the database of <paramref name="databaseConnectionString"/>: inside the container when
    /// Testcontainers started the server (its image ships sqlcmd), else with a <c>sqlcmd</c> on PATH (the test is
    /// skipped when there is none).
    /// </summary>
    public async Task<SqlcmdResult> SqlcmdAsync(string databaseConnectionString, string scriptPath, CancellationToken cancellationToken = default,
        bool stopOnError = true)
    {
        var target = new SqlConnectionStringBuilder(databaseConnectionString);
        if (_container is not null)
        {
            var remote = $"/tmp/dbmerge-{Guid.NewGuid():N}.sql";
            await _container.CopyAsync(await File.ReadAllBytesAsync(scriptPath, cancellationToken), remote, ct: cancellationToken);
            var find = await _container.ExecAsync(["/bin/sh", "-c", "find /opt/mssql-tools18/bin/sqlcmd /opt/mssql-tools/bin/sqlcmd -type f -print -quit 2>/dev/null"], cancellationToken);
            var sqlcmd = find.Stdout.Trim();
            if (sqlcmd.Length == 0)
            {
                throw new InvalidOperationException($"The image {SqlServerImage} has no sqlcmd under /opt/mssql-tools18 or /opt/mssql-tools.");
            }

            var server = new SqlConnectionStringBuilder(_container.GetConnectionString());
            List<string> command = [sqlcmd, "-S", "localhost", "-U", server.UserID, "-P", server.Password, "-d", target.InitialCatalog, "-i", remote];
            if (stopOnError)
            {
                command.Insert(1, "-b");
            }

            if (sqlcmd.Contains("tools18", StringComparison.Ordinal))
            {
                command.Insert(1, "-C"); // tools18 encrypts by default; the container's certificate is self-signed
            }

            var result = await _container.ExecAsync(command, cancellationToken);
            return new SqlcmdResult(checked((int)(result.ExitCode ?? -1)), result.Stdout + result.Stderr);
        }

        var onPath = FindOnPath("sqlcmd");
        Assert.SkipWhen(onPath is null,
            $"{ServerEnvironmentVariable} names an external server and no sqlcmd is on PATH: install sqlcmd (go-sqlcmd or mssql-tools18) to run the deploy-script tests.");
        var start = new ProcessStartInfo(onPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "-S", target.DataSource, "-d", target.InitialCatalog, "-i", scriptPath })
        {
            start.ArgumentList.Add(argument);
        }

        if (stopOnError)
        {
            start.ArgumentList.Add("-b");
        }

        if (target.TrustServerCertificate)
        {
            start.ArgumentList.Add("-C");
        }

        if (string.IsNullOrEmpty(target.UserID))
        {
            start.ArgumentList.Add("-E");
        }
        else
        {
            start.ArgumentList.Add("-U");
            start.ArgumentList.Add(target.UserID);
            start.Environment["SQLCMDPASSWORD"] = target.Password; // not on the command line
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return new SqlcmdResult(process.ExitCode, await stdout + await stderr);
    }

    public async ValueTask InitializeAsync()
    {
        var watch = Stopwatch.StartNew();
        try
        {
            await InitializeCoreAsync();
        }
        finally
        {
            ProbeDuration = watch.Elapsed;
        }
    }

    private async Task InitializeCoreAsync()
    {
        IsAvailable = false;
        var external = Environment.GetEnvironmentVariable(ServerEnvironmentVariable);
        string server;
        if (!string.IsNullOrWhiteSpace(external))
        {
            server = external;
        }
        else
        {
            var unavailable = await StartContainerAsync();
            if (unavailable is not null)
            {
                SkipReason = $"No SQL Server: {ServerEnvironmentVariable} is not set and Docker is not available ({unavailable}). " +
                             $"Run scripts/start-sqlserver.sh and export {ServerEnvironmentVariable} to run the integration tests.";
                return;
            }

            server = _container!.GetConnectionString();
        }

        var builder = new SqlConnectionStringBuilder(server) { InitialCatalog = "master" };
        MasterConnectionString = builder.ConnectionString;
        var name = $"DbMergeTest_{DateTime.UtcNow:yyyyMMddHHmmss}_{Guid.NewGuid():N}"[..48];
        try
        {
            await CreateDatabaseAsync(name, CancellationToken.None);
        }
        catch (SqlException ex)
        {
            // Configured explicitly but unusable: fail loudly (every test shows this), never skip silently.
            throw new InvalidOperationException(
                $"{ServerEnvironmentVariable} is set but the server could not create a test database: SQL error {ex.Number}: {ex.Message.Split('\n')[0]}", ex);
        }

        ConnectionString = WithDatabase(MasterConnectionString, name);
        var migrator = new Migrator(new MigratorOptions { Layout = Layout, Log = _migrationLog.Add, RetryBaseDelay = TimeSpan.FromMilliseconds(200) });
        await migrator.MigrateAsync(ConnectionString);
        IsAvailable = true;
        SkipReason = string.Empty;
    }

    /// <summary>Starts the container; returns null on success, or why Docker is not available.</summary>
    private async Task<string?> StartContainerAsync()
    {
        try
        {
            _container = new MsSqlBuilder(SqlServerImage).Build();
        }
        catch (Exception ex)
        {
            return FirstLine(ex.Message);
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await _container.StartAsync(timeout.Token);
            return null;
        }
        catch (Exception ex) when (IsDockerUnavailable(ex))
        {
            await _container.DisposeAsync();
            _container = null;
            return FirstLine(ex.Message);
        }
    }

    private static bool IsDockerUnavailable(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e.GetType().Name.Contains("DockerUnavailable", StringComparison.Ordinal) ||
                e.Message.Contains("Docker is either not running or misconfigured", StringComparison.Ordinal) ||
                e is System.Net.Http.HttpRequestException or System.Net.Sockets.SocketException)
            {
                return true;
            }
        }

        return false;
    }

    private async Task CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(MasterConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand("DECLARE @Sql nvarchar(max) = N'CREATE DATABASE ' + QUOTENAME(@Name) + N';'; EXEC sys.sp_executesql @stmt = @Sql;", connection);
        command.Parameters.AddWithValue("@Name", name);
        await command.ExecuteNonQueryAsync(cancellationToken);
        lock (_databases)
        {
            _databases.Add(name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_container is null && MasterConnectionString.Length > 0)
            {
                // External server: drop what this run created. (A container is simply thrown away.)
                SqlConnection.ClearAllPools();
                await using var connection = new SqlConnection(MasterConnectionString);
                await connection.OpenAsync();
                foreach (var name in _databases)
                {
                    await using var command = new SqlCommand(
                        "IF DB_ID(@Name) IS NOT NULL BEGIN " +
                        "DECLARE @Sql nvarchar(max) = N'ALTER DATABASE ' + QUOTENAME(@Name) + N' SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE ' + QUOTENAME(@Name) + N';'; " +
                        "EXEC sys.sp_executesql @stmt = @Sql; END", connection);
                    command.Parameters.AddWithValue("@Name", name);
                    await command.ExecuteNonQueryAsync();
                }
            }
        }
        finally
        {
            if (_container is not null)
            {
                await _container.DisposeAsync();
            }

            _respawnerGate.Dispose();
        }
    }

    internal static string WithDatabase(string connectionString, string database) =>
        new SqlConnectionStringBuilder(connectionString) { InitialCatalog = database }.ConnectionString;

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "no message" : line.TrimEnd('.');
    }
}

/// <summary>What a sqlcmd run returned: its exit code and everything it printed.</summary>
public sealed record SqlcmdResult(int ExitCode, string Output);
