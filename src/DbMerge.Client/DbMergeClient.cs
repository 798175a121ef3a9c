using System.Data;
using DbMerge.Client.Errors;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>
/// Typed access to DbMerge's <c>api.*</c> procedures: one async method per procedure (in the partial files
/// <c>DbMergeClient.*.cs</c>), each with its procedure name as a constant, an explicit timeout and
/// cancellation, and a record for its result. Business errors surface as <see cref="DbMergeException"/>
/// subclasses; engine errors stay <see cref="SqlException"/> (see <see cref="SqlErrors"/>).
/// </summary>
public sealed partial class DbMergeClient
{
    private readonly DbMergeClientOptions _options;

    public DbMergeClient(DbMergeClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ConnectionString, nameof(options.ConnectionString));
        _options = options;
    }

    public DbMergeClientOptions Options => _options;

    /// <summary>
    /// Runs <paramref name="call"/> — one call of a procedure that owns its transaction — again when SQL Server chose it
    /// as a deadlock victim (1205): the victim's transaction was rolled back completely, so the call changed nothing and
    /// repeating it is safe. At most <paramref name="attempts"/> calls, 100 ms × attempt apart; any other error, and
    /// the last attempt's 1205, are the caller's.
    /// </summary>
    internal static async Task<T> RetryDeadlockVictimAsync<T>(Func<Task<T>> call, int attempts, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (SqlException ex) when (attempt < attempts && SqlErrors.IsDeadlock(ex))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Opens a connection with the options' InfoMessage forwarding attached.</summary>
    internal async Task<SqlConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        var connection = new SqlConnection(_options.ConnectionString);
        if (_options.InfoMessage is { } sink)
        {
            connection.FireInfoMessageEventOnUserErrors = false;
            connection.InfoMessage += (_, e) =>
            {
                foreach (SqlError error in e.Errors)
                {
                    sink(error.Message);
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

    /// <summary>
    /// Runs a stored procedure on a new connection and hands its reader to <paramref name="read"/>.
    /// A DbMerge business error becomes a typed <see cref="DbMergeException"/>. Internal: the public surface is one
    /// typed method per api.* procedure.
    /// </summary>
    internal async Task<T> ExecuteProcedureAsync<T>(
        string procedure,
        Action<SqlParameterCollection> addParameters,
        Func<SqlDataReader, SqlParameterCollection, CancellationToken, Task<T>> read,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ExecuteProcedureAsync(connection, null, procedure, addParameters, read, timeout, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>As above, on the caller's connection and (optional) transaction.</summary>
    internal async Task<T> ExecuteProcedureAsync<T>(
        SqlConnection connection,
        SqlTransaction? transaction,
        string procedure,
        Action<SqlParameterCollection> addParameters,
        Func<SqlDataReader, SqlParameterCollection, CancellationToken, Task<T>> read,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new SqlCommand(procedure, connection, transaction)
        {
            CommandType = CommandType.StoredProcedure,
            CommandTimeout = (int)Math.Ceiling((timeout ?? _options.CommandTimeout).TotalSeconds),
        };
        addParameters(command.Parameters);
        try
        {
            T result;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                result = await read(reader, command.Parameters, cancellationToken).ConfigureAwait(false);
                // Drain remaining results so errors raised after the last result set surface here.
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }

            return result;
        }
        catch (SqlException ex) when (DbMergeException.FromSqlException(ex) is { } mapped)
        {
            throw mapped;
        }
    }
}
