using DbMerge.Client;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// Base class of every integration test. Each test is skipped, with the fixture's reason, when no SQL Server is
/// reachable. Otherwise <see cref="ConnectionString"/> is the test class's OWN migrated database (no other class sees
/// its rows, locks, constraints or schema), reset with Respawn before each test; the tests of one class run one after
/// the other. A test that changes schema or constraint trust state calls <see cref="UseOwnDatabaseAsync"/> first.
/// </summary>
public abstract class SqlServerTest : IAsyncLifetime
{
    private TestDatabase? _classDatabase;
    private string? _ownDatabase;

    protected SqlServerTest(SqlServerFixture fixture, ITestOutputHelper output)
    {
        Fixture = fixture;
        Output = output;
    }

    protected SqlServerFixture Fixture { get; }

    protected ITestOutputHelper Output { get; }

    /// <summary>The database this test works in: its class's (freshly reset), or its own after <see cref="UseOwnDatabaseAsync"/>.</summary>
    protected string ConnectionString =>
        _ownDatabase ?? _classDatabase?.ConnectionString ?? throw new InvalidOperationException("The test's database is not initialized.");

    /// <summary>The name of <see cref="ConnectionString"/>'s database (for DB_ID() filters on server-wide views).</summary>
    protected string DatabaseName => new SqlConnectionStringBuilder(ConnectionString).InitialCatalog;

    protected DbMergeClient Client => new(new DbMergeClientOptions
    {
        ConnectionString = ConnectionString,
        InfoMessage = m => Output.WriteLine($"[server] {m}"),
    });

    public virtual async ValueTask InitializeAsync()
    {
        Assert.SkipUnless(Fixture.IsAvailable, Fixture.SkipReason);
        _classDatabase = await Fixture.DatabaseForClassAsync(GetType(), TestContext.Current.CancellationToken);
        await _classDatabase.ResetAsync(TestContext.Current.CancellationToken);
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Switches this test (only) to a new migrated database of its own, for a test that changes schema or constraint
    /// trust state, or plants anything the class's other tests must not see. Returns its connection string.
    /// </summary>
    protected async Task<string> UseOwnDatabaseAsync([System.Runtime.CompilerServices.CallerMemberName] string prefix = "")
    {
        _ownDatabase = await Fixture.CreateMigratedDatabaseAsync(prefix, TestContext.Current.CancellationToken);
        Output.WriteLine($"-- this test uses its own database {DatabaseName}");
        return _ownDatabase;
    }

    protected async Task<SqlConnection> OpenAsync()
    {
        var connection = new SqlConnection(ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        return connection;
    }

    /// <summary>Runs a batch (no GO) and returns rows affected.</summary>
    protected async Task<int> ExecAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 120 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Runs a query and returns the first column of the first row (default when no row).</summary>
    protected async Task<T?> ScalarAsync<T>(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 120 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var result = await command.ExecuteScalarAsync(TestContext.Current.CancellationToken);
        return result is null or DBNull ? default : (T)Convert.ChangeType(result, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs a query and returns every row as column→value dictionaries (for assertions and for failure output).</summary>
    protected async Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> RowsAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 120 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var rows = new List<IReadOnlyDictionary<string, object?>>();
        await using var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            var row = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < reader.FieldCount; i++)
            {
                row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> every 50 ms until it holds (synchronisation on observable server state —
    /// sys.dm_tran_locks, sys.dm_exec_requests — never on sleeps); fails naming <paramref name="what"/> after <paramref name="timeout"/>.
    /// </summary>
    protected static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"timed out after {timeout.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>
    /// Sessions of this test's database waiting for a lock (sys.dm_exec_requests), optionally only those blocked by
    /// <paramref name="blockedBy"/>: session id and wait type.
    /// </summary>
    protected async Task<IReadOnlyList<(int Session, string WaitType, string? Resource)>> LockWaitersAsync(int? blockedBy = null)
    {
        var rows = await RowsAsync("""
            SELECT r.session_id AS SessionId, r.wait_type AS WaitType, r.wait_resource AS WaitResource
            FROM sys.dm_exec_requests AS r
            WHERE r.database_id = DB_ID() AND r.wait_type LIKE N'LCK[_]M[_]%' AND r.session_id <> @@SPID
              AND (@BlockedBy IS NULL OR r.blocking_session_id = @BlockedBy)
            ORDER BY r.session_id;
            """, ("@BlockedBy", blockedBy));
        return rows.Select(r => ((int)(short)r["SessionId"]!, (string)r["WaitType"]!, r["WaitResource"] as string)).ToList();
    }

    /// <summary>Locks other than the shared DATABASE lock every connection holds, held or requested in this test's database.</summary>
    protected async Task<int> LocksHeldInDatabaseAsync() =>
        await ScalarAsync<int>(
            "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_database_id = DB_ID() AND resource_type <> N'DATABASE' AND request_session_id <> @@SPID;");

    /// <summary>Writes rows to the test output (use before asserting, so a failure shows the data).</summary>
    protected void Dump(string title, IEnumerable<IReadOnlyDictionary<string, object?>> rows)
    {
        Output.WriteLine($"-- {title}");
        foreach (var row in rows)
        {
            Output.WriteLine(string.Join(", ", row.Select(kv => $"{kv.Key}={kv.Value ?? "NULL"}")));
        }
    }
}
