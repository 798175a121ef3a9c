using System.Data;
using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment;

/// <summary>
/// The session-owned <c>sp_getapplock</c> on <see cref="DeploymentJournal.LockResource"/>, held on a dedicated,
/// unpooled connection for a whole deployment, so two deployments (runner or deploy script) never run at
/// once: the second waits, then finds nothing left to apply. Disposing releases the lock and closes the
/// session (a dropped connection releases it too).
/// </summary>
public sealed class DeploymentLock : IAsyncDisposable
{
    private const string GetLockSql =
        "DECLARE @Result int; " +
        "EXEC @Result = sys.sp_getapplock @Resource = @Resource, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = @LockTimeout; " +
        "SELECT @Result;";

    /// <summary>The connection's database, and whether it is a system database (master, model, msdb, tempdb, by name).</summary>
    internal const string DatabaseSql =
        "SELECT DB_NAME() AS DatabaseName, CONVERT(bit, CASE WHEN " + DeploymentJournal.SystemDatabasePredicate + " THEN 1 ELSE 0 END) AS IsSystem;";

    private const string ReleaseLockSql =
        "IF APPLOCK_MODE('public', @Resource, 'Session') <> 'NoLock' EXEC sys.sp_releaseapplock @Resource = @Resource, @LockOwner = 'Session';";

    private DeploymentLock(SqlConnection connection) => Connection = connection;

    /// <summary>The connection holding the lock (use it for reads that must see a quiet journal).</summary>
    public SqlConnection Connection { get; }

    /// <summary>
    /// Opens the deployment session and takes the lock. Refuses (<see cref="SystemDatabaseException"/>), before taking
    /// it, a connection whose database is a system database: a connection string without <c>Database=</c> lands in the
    /// login's default database, typically master.
    /// </summary>
    public static async Task<DeploymentLock> AcquireAsync(
        string connectionString, TimeSpan timeout, Action<string>? log, CancellationToken cancellationToken)
    {
        // Unpooled: closing the connection ends the session, so a crash can never leave the lock held by a pooled session.
        var builder = new SqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "dbmerge deploy lock" };
        var connection = new SqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await RefuseSystemDatabaseAsync(connection, cancellationToken).ConfigureAwait(false);
            var result = await TryGetAsync(connection, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            if (result < 0)
            {
                log?.Invoke($"Another deployment holds the deploy lock; waiting up to {timeout.TotalSeconds:0} s.");
                result = await TryGetAsync(connection, timeout, cancellationToken).ConfigureAwait(false);
            }

            if (result < 0)
            {
                throw new DeploymentLockTimeoutException(timeout);
            }

            return new DeploymentLock(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Throws <see cref="SystemDatabaseException"/> when <paramref name="connection"/>'s database is a system database.</summary>
    public static async Task RefuseSystemDatabaseAsync(SqlConnection connection, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var command = new SqlCommand(DatabaseSql, connection);
        await using var reader = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        if (reader.GetBoolean(1))
        {
            throw new SystemDatabaseException(reader.GetString(0));
        }
    }

    private static async Task<int> TryGetAsync(SqlConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var command = new SqlCommand(GetLockSql, connection)
        {
            CommandTimeout = (int)Math.Ceiling(timeout.TotalSeconds) + 30,
        };
        command.Parameters.Add("@Resource", SqlDbType.NVarChar, 255).Value = DeploymentJournal.LockResource;
        command.Parameters.Add("@LockTimeout", SqlDbType.Int).Value = (int)Math.Min(int.MaxValue, timeout.TotalMilliseconds);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Connection.State == ConnectionState.Open)
            {
                await using var command = new SqlCommand(ReleaseLockSql, Connection);
                command.Parameters.Add("@Resource", SqlDbType.NVarChar, 255).Value = DeploymentJournal.LockResource;
                await command.ExecuteNonQueryAsync().ConfigureAwait(false);
            }
        }
        catch (SqlException)
        {
            // The session ends below; SQL Server releases a session's applocks when it ends.
        }
        finally
        {
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
