using System.Data;
using Microsoft.Data.SqlClient;

namespace DbMerge.Scenarios;

/// <summary>
/// One open connection to a scratch database that runs a scenario procedure again and again, quietly (no log line per
/// call, unlike <see cref="ScratchDatabase.RunScenarioAsync"/>): what a benchmark's concurrent writer needs — for
/// example <c>dbmerge bench merge</c> calling scenario.BenchMergeWrite in a loop beside the merge it measures.
/// </summary>
public sealed class ScenarioSession : IAsyncDisposable
{
    private readonly SqlConnection _connection;

    private ScenarioSession(SqlConnection connection) => _connection = connection;

    /// <summary>Opens a connection of its own to <paramref name="database"/>.</summary>
    public static async Task<ScenarioSession> OpenAsync(ScratchDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        var connection = new SqlConnection(database.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new ScenarioSession(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Runs <c>scenario.&lt;name&gt;</c> with the given parameters and returns the first row of its last result set
    /// (the scenario contract). A server error is thrown as the <see cref="SqlException"/> it is (for example 1222, a
    /// lock timeout the scenario set), so the caller can count it.
    /// </summary>
    /// <exception cref="ArgumentException">No embedded scenario has that name.</exception>
    /// <exception cref="InvalidOperationException">The scenario returned no row.</exception>
    public Task<ScenarioRow> RunAsync(string name, TimeSpan timeout, CancellationToken cancellationToken = default, params (string Name, object? Value)[] parameters) =>
        RunOnAsync(_connection, ScenarioCatalog.Get(name), timeout, parameters, cancellationToken);

    /// <summary>
    /// Runs <paramref name="scenario"/> on <paramref name="connection"/> with the given parameters (<c>("Rows", 1000)</c> is
    /// <c>@Rows = 1000</c>) and returns the first row of its last result set: the scenario contract, for
    /// <see cref="RunAsync"/> and <see cref="ScratchDatabase.RunScenarioAsync"/> alike.
    /// </summary>
    internal static async Task<ScenarioRow> RunOnAsync(
        SqlConnection connection, ScenarioScript scenario, TimeSpan timeout, (string Name, object? Value)[] parameters, CancellationToken cancellationToken)
    {
        await using var command = new SqlCommand(scenario.ProcedureName, connection)
        {
            CommandType = CommandType.StoredProcedure,
            CommandTimeout = (int)Math.Clamp(Math.Ceiling(timeout.TotalSeconds), 1, int.MaxValue),
        };
        foreach (var (parameter, value) in parameters)
        {
            command.Parameters.AddWithValue("@" + parameter.TrimStart('@'), value ?? DBNull.Value);
        }

        Dictionary<string, object?>? last = null;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            do
            {
                if (reader.FieldCount > 0 && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    last = new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase);
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        last[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    }
                }
            }
            while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false));
        }

        return last is null
            ? throw new InvalidOperationException($"{scenario.ProcedureName} returned no row; a scenario returns its result as the one row of its last result set.")
            : new ScenarioRow(scenario.ProcedureName, last);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
