using DbMerge.Client;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// Base class of every integration test. Each test is skipped, with the fixture's reason, when no SQL
/// Server is reachable; otherwise the shared test database (migrated by the same Migrator the runner uses)
/// is reset with Respawn before the test runs.
/// </summary>
public abstract class SqlServerTest : IAsyncLifetime
{
    protected SqlServerTest(SqlServerFixture fixture, ITestOutputHelper output)
    {
        Fixture = fixture;
        Output = output;
    }

    protected SqlServerFixture Fixture { get; }

    protected ITestOutputHelper Output { get; }

    /// <summary>Connection string of the migrated, freshly reset test database.</summary>
    protected string ConnectionString => Fixture.ConnectionString;

    protected DbMergeClient Client => new(new DbMergeClientOptions
    {
        ConnectionString = ConnectionString,
        InfoMessage = m => Output.WriteLine($"[server] {m}"),
    });

    public virtual async ValueTask InitializeAsync()
    {
        Assert.SkipUnless(Fixture.IsAvailable, Fixture.SkipReason);
        await Fixture.ResetAsync(TestContext.Current.CancellationToken);
    }

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
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
