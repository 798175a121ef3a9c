using System.Collections.Concurrent;
using System.Diagnostics;
using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Testcontainers.MsSql;
using Xunit;

[assembly: AssemblyFixture(typeof(DbMerge.IntegrationTests.Infrastructure.SqlServerFixture))]

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// One SQL Server per test run, and one database per test class (DESIGN §1, issue 15). Uses DBMERGE_TEST_SQLSERVER
/// (a connection string) when set, else starts SQL Server 2022 with Testcontainers.MsSql. It migrates ONE template
/// database with the runner's Migrator, then gives every test class its own copy (<see cref="DatabaseForClassAsync"/>):
/// restored from a COPY_ONLY backup of the template when the server can back up to its default backup folder
/// (a container, a developer instance, the CI service container), else migrated from scratch (Azure SQL, a login
/// without BACKUP DATABASE permission). Test classes run in parallel; tests inside one class run one after the
/// other and share the class's database, reset with Respawn before each test. A test that changes schema or
/// constraint trust state takes a database of its own (<see cref="CreateMigratedDatabaseAsync"/>). With no server,
/// <see cref="IsAvailable"/> is false and <see cref="SkipReason"/> says why. Every database the run created is
/// dropped when the run ends.
/// </summary>
public sealed class SqlServerFixture : IAsyncLifetime
{
    public const string ServerEnvironmentVariable = "DBMERGE_TEST_SQLSERVER";

    /// <summary>The pinned SQL Server image (also used by scripts/start-sqlserver.sh — keep the two equal).</summary>
    public const string SqlServerImage = DbMerge.Deployment.SqlServerImage.Pinned;

    private readonly List<string> _databases = [];
    private readonly List<string> _migrationLog = [];
    private readonly ConcurrentDictionary<Type, Lazy<Task<TestDatabase>>> _classDatabases = new();
    private readonly string _runId = $"{DateTime.UtcNow:yyyyMMddHHmmss}_{Guid.NewGuid().ToString("N")[..8]}";
    private readonly SemaphoreSlim _restoreGate = new(1, 1);
    private MsSqlContainer? _container;
    private TemplateBackup? _backup;

    public bool IsAvailable { get; private set; }

    public string SkipReason { get; private set; } = "SQL Server fixture not initialized.";

    /// <summary>The migrated template database every class database is copied from (never used by a test directly).</summary>
    public string TemplateConnectionString { get; private set; } = string.Empty;

    /// <summary>The same server, database master (for creating scratch databases, KILL, and so on).</summary>
    public string MasterConnectionString { get; private set; } = string.Empty;

    /// <summary>How class databases are made: "restore" (from a backup of the template) or "migrate", with the reason.</summary>
    public string CopyStrategy { get; private set; } = "none";

    /// <summary>The repository whose migrations and database/ scripts the test databases were deployed from.</summary>
    public RepositoryLayout Layout { get; } = RepositoryLayout.Discover(AppContext.BaseDirectory);

    /// <summary>What the Migrator printed while deploying the template database.</summary>
    public IReadOnlyList<string> MigrationLog => _migrationLog;

    /// <summary>How long finding (or failing to find) a server took; reported in the skip reason.</summary>
    public TimeSpan ProbeDuration { get; private set; }

    /// <summary>True when the server runs in a Testcontainers container (sqlcmd is then run inside it).</summary>
    public bool IsContainer => _container is not null;

    /// <summary>
    /// The migrated database of <paramref name="testClass"/>, made on first use and shared by that class's tests
    /// (which xUnit runs one after the other). No other class ever sees it.
    /// </summary>
    public Task<TestDatabase> DatabaseForClassAsync(Type testClass, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(testClass);
        EnsureAvailable();
        var lazy = _classDatabases.GetOrAdd(testClass, type => new Lazy<Task<TestDatabase>>(
            () => CreateMigratedAsync(type.Name, CancellationToken.None), LazyThreadSafetyMode.ExecutionAndPublication));
        return lazy.Value.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// A new migrated database of its own (a copy of the template) for a test that changes schema, constraint trust
    /// state or anything else another test could see; dropped when the run ends. Returns its connection string.
    /// </summary>
    public async Task<string> CreateMigratedDatabaseAsync(string prefix, CancellationToken cancellationToken = default) =>
        (await CreateMigratedAsync(prefix, cancellationToken)).ConnectionString;

    /// <summary>Creates an empty database on the server and returns its connection string; dropped when the run ends.</summary>
    public async Task<string> CreateScratchDatabaseAsync(string prefix, CancellationToken cancellationToken = default)
    {
        EnsureAvailable();
        var name = DatabaseName(prefix);
        await CreateDatabaseAsync(name, cancellationToken);
        return WithDatabase(MasterConnectionString, name);
    }

    private async Task<TestDatabase> CreateMigratedAsync(string prefix, CancellationToken cancellationToken)
    {
        EnsureAvailable();
        var name = DatabaseName(prefix);
        if (_backup is { } backup)
        {
            await RestoreAsync(backup, name, cancellationToken);
        }
        else
        {
            await CreateDatabaseAsync(name, cancellationToken);
            await new Migrator(new MigratorOptions { Layout = Layout, RetryBaseDelay = TimeSpan.FromMilliseconds(200) })
                .MigrateAsync(WithDatabase(MasterConnectionString, name), cancellationToken);
        }

        return new TestDatabase(name, WithDatabase(MasterConnectionString, name), Layout);
    }

    /// <summary>DbMergeTest_&lt;run&gt;_&lt;prefix&gt;_&lt;random&gt;: the run's databases sort together and are recognisable on a shared server.</summary>
    private string DatabaseName(string prefix)
    {
        var safe = new string((prefix ?? "db").Where(char.IsAsciiLetterOrDigit).Take(40).ToArray());
        return $"DbMergeTest_{_runId}_{(safe.Length == 0 ? "db" : safe)}_{Guid.NewGuid().ToString("N")[..6]}";
    }

    private void EnsureAvailable()
    {
        if (!IsAvailable)
        {
            throw new InvalidOperationException(SkipReason);
        }
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
        var template = DatabaseName("template");
        try
        {
            await CreateDatabaseAsync(template, CancellationToken.None);
        }
        catch (SqlException ex)
        {
            // Configured explicitly but unusable: fail loudly (every test shows this), never skip silently.
            throw new InvalidOperationException(
                $"{ServerEnvironmentVariable} is set but the server could not create a test database: SQL error {ex.Number}: {ex.Message.Split('\n')[0]}", ex);
        }

        TemplateConnectionString = WithDatabase(MasterConnectionString, template);
        var migrator = new Migrator(new MigratorOptions { Layout = Layout, Log = _migrationLog.Add, RetryBaseDelay = TimeSpan.FromMilliseconds(200) });
        await migrator.MigrateAsync(TemplateConnectionString);
        (_backup, CopyStrategy) = await BackUpTemplateAsync(template);
        _migrationLog.Add($"class databases: {CopyStrategy}");
        IsAvailable = true;
        SkipReason = string.Empty;
    }

    /// <summary>Where a COPY_ONLY backup of the template lives and what its files are called.</summary>
    private sealed record TemplateBackup(string Path, string DataFile, string LogFile, string DataDirectory, string LogDirectory);

    /// <summary>
    /// Backs the template up to the instance's default backup folder, so class databases are restored (about a second)
    /// rather than migrated (every migration and database/ script again). Null, with the reason, when the server cannot.
    /// </summary>
    private async Task<(TemplateBackup? Backup, string Strategy)> BackUpTemplateAsync(string template)
    {
        try
        {
            await using var connection = new SqlConnection(MasterConnectionString);
            await connection.OpenAsync();
            await using var paths = new SqlCommand("""
                SELECT CONVERT(nvarchar(4000), SERVERPROPERTY(N'InstanceDefaultBackupPath')) AS BackupPath,
                       CONVERT(nvarchar(4000), SERVERPROPERTY(N'InstanceDefaultDataPath')) AS DataPath,
                       CONVERT(nvarchar(4000), SERVERPROPERTY(N'InstanceDefaultLogPath')) AS LogPath,
                       (SELECT TOP (1) f.name FROM sys.master_files AS f WHERE f.database_id = DB_ID(@Template) AND f.type = 0 ORDER BY f.file_id) AS DataFile,
                       (SELECT TOP (1) f.name FROM sys.master_files AS f WHERE f.database_id = DB_ID(@Template) AND f.type = 1 ORDER BY f.file_id) AS LogFile,
                       (SELECT COUNT(*) FROM sys.master_files AS f WHERE f.database_id = DB_ID(@Template)) AS Files;
                """, connection);
            paths.Parameters.AddWithValue("@Template", template);
            string? backupPath, dataPath, logPath, dataFile, logFile;
            int files;
            await using (var reader = await paths.ExecuteReaderAsync())
            {
                await reader.ReadAsync();
                backupPath = reader.IsDBNull(0) ? null : reader.GetString(0);
                dataPath = reader.IsDBNull(1) ? null : reader.GetString(1);
                logPath = reader.IsDBNull(2) ? null : reader.GetString(2);
                dataFile = reader.IsDBNull(3) ? null : reader.GetString(3);
                logFile = reader.IsDBNull(4) ? null : reader.GetString(4);
                files = reader.GetInt32(5);
            }

            if (string.IsNullOrEmpty(dataPath) || string.IsNullOrEmpty(logPath) || dataFile is null || logFile is null || files != 2)
            {
                return (null, "migrate (the server does not report default data and log folders, or the template has other than one data and one log file)");
            }

            var folder = string.IsNullOrEmpty(backupPath) ? dataPath : backupPath;
            var file = ServerPath(folder, $"{template}.bak");
            await using (var backup = new SqlCommand("BACKUP DATABASE @Template TO DISK = @File WITH COPY_ONLY, INIT, FORMAT;", connection) { CommandTimeout = 300 })
            {
                backup.Parameters.AddWithValue("@Template", template);
                backup.Parameters.AddWithValue("@File", file);
                await backup.ExecuteNonQueryAsync();
            }

            return (new TemplateBackup(file, dataFile, logFile, dataPath, logPath), $"restore (from {file})");
        }
        catch (SqlException ex)
        {
            return (null, $"migrate (BACKUP DATABASE failed: {ex.Number} {FirstLine(ex.Message)})");
        }
    }

    private async Task RestoreAsync(TemplateBackup backup, string name, CancellationToken cancellationToken)
    {
        lock (_databases)
        {
            _databases.Add(name); // before the restore: a half-restored database is dropped too
        }

        // One restore at a time: each takes about a second, and concurrent reads of one backup file gain nothing.
        await _restoreGate.WaitAsync(cancellationToken);
        try
        {
            await RestoreCoreAsync(backup, name, cancellationToken);
        }
        finally
        {
            _restoreGate.Release();
        }
    }

    private async Task RestoreCoreAsync(TemplateBackup backup, string name, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(MasterConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var restore = new SqlCommand(
            "RESTORE DATABASE @Name FROM DISK = @File WITH MOVE @DataFile TO @DataTo, MOVE @LogFile TO @LogTo, RECOVERY;",
            connection) { CommandTimeout = 300 };
        restore.Parameters.AddWithValue("@Name", name);
        restore.Parameters.AddWithValue("@File", backup.Path);
        restore.Parameters.AddWithValue("@DataFile", backup.DataFile);
        restore.Parameters.AddWithValue("@DataTo", ServerPath(backup.DataDirectory, $"{name}.mdf"));
        restore.Parameters.AddWithValue("@LogFile", backup.LogFile);
        restore.Parameters.AddWithValue("@LogTo", ServerPath(backup.LogDirectory, $"{name}_log.ldf"));
        await restore.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>A file name in a folder of the SERVER's file system (Windows or Linux, whatever this machine is).</summary>
    private static string ServerPath(string folder, string file)
    {
        var separator = folder.Contains('\\', StringComparison.Ordinal) ? '\\' : '/';
        return folder.TrimEnd('\\', '/') + separator + file;
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
                // External server: drop what this run created, and its template backup. (A container is simply thrown away.)
                SqlConnection.ClearAllPools();
                await using var connection = new SqlConnection(MasterConnectionString);
                await connection.OpenAsync();
                List<string> names;
                lock (_databases)
                {
                    names = [.. _databases];
                }

                foreach (var name in names)
                {
                    await using var command = new SqlCommand(
                        "IF DB_ID(@Name) IS NOT NULL BEGIN " +
                        "DECLARE @Sql nvarchar(max) = N'ALTER DATABASE ' + QUOTENAME(@Name) + N' SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE ' + QUOTENAME(@Name) + N';'; " +
                        "EXEC sys.sp_executesql @stmt = @Sql; END", connection) { CommandTimeout = 120 };
                    command.Parameters.AddWithValue("@Name", name);
                    await command.ExecuteNonQueryAsync();
                }

                if (_backup is not null)
                {
                    // xp_delete_file (SQL Server's maintenance-plan cleanup) deletes only SQL Server backup files; best effort.
                    try
                    {
                        await using var delete = new SqlCommand("EXEC master.sys.xp_delete_file 0, @File;", connection);
                        delete.Parameters.AddWithValue("@File", _backup.Path);
                        await delete.ExecuteNonQueryAsync();
                    }
                    catch (SqlException)
                    {
                        // Left behind in the instance's backup folder; its name starts with DbMergeTest_.
                    }
                }
            }
        }
        finally
        {
            if (_container is not null)
            {
                await _container.DisposeAsync();
            }

            _restoreGate.Dispose();
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
