using System.Data;
using System.Diagnostics;
using DbMerge.Client.Errors;
using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment.ConstraintValidation;

/// <summary>
/// Drives non-blocking validation of untrusted CHECK and FOREIGN KEY constraints (DESIGN section 6): calls
/// <c>dbmerge.Constraint_ValidateBatch</c> in a loop — each call one short keyset batch in its own short
/// transaction — until the constraint is done, the time or batch limit is reached, or the run is cancelled.
/// Resumable: progress lives in <c>dbmerge.ConstraintValidation</c>, so the next run continues where this one
/// stopped. Marking a validated constraint trusted (<see cref="TrustAsync"/>) is a separate, explicit step.
/// The connection string is never logged.
/// </summary>
public sealed class ConstraintValidator
{
    public const string ValidateBatchProcedure = "dbmerge.Constraint_ValidateBatch";
    public const string TrustProcedure = "dbmerge.Constraint_Trust";

    private readonly string _connectionString;

    public ConstraintValidator(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        _connectionString = connectionString;
    }

    /// <summary>
    /// Every untrusted CHECK or FOREIGN KEY constraint of the database with its validation state
    /// (never run / in progress at key K / done with N violations / stale). For <c>dbmerge status</c>.
    /// </summary>
    public static Task<IReadOnlyList<UntrustedConstraint>> GetStatesAsync(string connectionString, CancellationToken cancellationToken = default) =>
        new ConstraintValidator(connectionString).ListUntrustedAsync(cancellationToken);

    /// <inheritdoc cref="GetStatesAsync"/>
    public async Task<IReadOnlyList<UntrustedConstraint>> ListUntrustedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        bool hasProgressTable;
        await using (var probe = new SqlCommand("SELECT CASE WHEN OBJECT_ID(N'dbmerge.ConstraintValidation', N'U') IS NULL THEN 0 ELSE 1 END;", connection))
        {
            hasProgressTable = Convert.ToInt32(await probe.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) == 1;
        }

        await using var command = new SqlCommand(hasProgressTable ? ListSql : ListSqlWithoutProgress, connection) { CommandTimeout = 60 };
        var result = new List<UntrustedConstraint>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var status = reader.IsDBNull(reader.GetOrdinal("Status")) ? null : reader.GetString(reader.GetOrdinal("Status"));
            var storedObjectId = NullableInt(reader, "StoredObjectId");
            var objectId = reader.GetInt32(reader.GetOrdinal("ObjectId"));
            var state = status switch
            {
                null => ConstraintValidationState.NeverRun,
                _ when storedObjectId != objectId => ConstraintValidationState.Stale,
                "done" => ConstraintValidationState.Done,
                _ => ConstraintValidationState.InProgress,
            };
            result.Add(new UntrustedConstraint(
                reader.GetString(reader.GetOrdinal("SchemaName")),
                reader.GetString(reader.GetOrdinal("TableName")),
                reader.GetString(reader.GetOrdinal("ConstraintName")),
                reader.GetString(reader.GetOrdinal("ConstraintType")),
                reader.GetBoolean(reader.GetOrdinal("IsDisabled")),
                state,
                NullableLong(reader, "LastKey"),
                NullableLong(reader, "RowsChecked") ?? 0,
                NullableLong(reader, "RecordedViolations") ?? 0,
                NullableLong(reader, "EstimatedTotalRows"),
                NullableDateTime(reader, "UpdatedAt"),
                NullableDateTime(reader, "FinishedAt")));
        }

        return result;
    }

    /// <summary>
    /// The recorded violations of one constraint, lowest key first (at most <paramref name="top"/>), so an operator
    /// can fix the rows before re-validating with --restart.
    /// </summary>
    public async Task<IReadOnlyList<ConstraintViolationRow>> GetViolationsAsync(ConstraintName constraint, int top = 100, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var resolved = await ResolveAsync(constraint, cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new SqlCommand("""
            SELECT TOP (@Top) cv.SchemaName, cv.TableName, cv.ConstraintName, cv.KeyColumn, v.KeyValue, v.RowValues, v.FoundAt
            FROM dbmerge.ConstraintViolation AS v
            JOIN dbmerge.ConstraintValidation AS cv ON cv.ConstraintValidationId = v.ConstraintValidationId
            WHERE cv.SchemaName = @SchemaName AND cv.ConstraintName = @ConstraintName
            ORDER BY v.KeyValue;
            """, connection);
        command.Parameters.Add(new SqlParameter("@Top", SqlDbType.Int) { Value = top });
        command.Parameters.Add(new SqlParameter("@SchemaName", SqlDbType.NVarChar, 128) { Value = resolved.Schema });
        command.Parameters.Add(new SqlParameter("@ConstraintName", SqlDbType.NVarChar, 128) { Value = resolved.Name });
        var rows = new List<ConstraintViolationRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new ConstraintViolationRow(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetInt64(4), reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetDateTime(6)));
        }

        return rows;
    }

    /// <summary>
    /// Resolves a constraint name without schema ("CK_x") to its schema; returns <paramref name="name"/> unchanged
    /// when it has one, or when no constraint matches (the procedure then reports 51400).
    /// Throws <see cref="ArgumentException"/> when the bare name exists in several schemas.
    /// </summary>
    public async Task<ConstraintName> ResolveAsync(ConstraintName name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Schema is not null)
        {
            return name;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new SqlCommand(
            "SELECT SCHEMA_NAME(o.schema_id) FROM sys.objects AS o WHERE o.name = @Name AND o.type IN ('C', 'F') ORDER BY 1;",
            connection);
        command.Parameters.Add(new SqlParameter("@Name", SqlDbType.NVarChar, 128) { Value = name.Name });
        var schemas = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            schemas.Add(reader.GetString(0));
        }

        return schemas.Count switch
        {
            0 => name with { Schema = "dbo" },
            1 => name with { Schema = schemas[0] },
            _ => throw new ArgumentException(
                $"Constraint '{name.Name}' exists in several schemas ({string.Join(", ", schemas)}); pass it as schema.name."),
        };
    }

    /// <summary>
    /// Validates one constraint batch by batch until done or a limit is reached. Each batch's progress row is
    /// reported to <paramref name="progress"/>. Business errors surface as <see cref="DbMergeException"/> (514xx).
    /// Cancellation stops between batches (a running batch is cancelled and rolled back; nothing is lost).
    /// </summary>
    public async Task<ConstraintValidationOutcome> ValidateAsync(
        ConstraintName constraint,
        ConstraintValidationOptions? options = null,
        IProgress<ConstraintProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        options ??= new ConstraintValidationOptions();
        if (options.BatchSize is < 1 or > 100_000)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be between 1 and 100000.");
        }

        var resolved = await ResolveAsync(constraint, cancellationToken).ConfigureAwait(false);
        var stopwatch = Stopwatch.StartNew();
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var batches = 0;
        long rows = 0;
        var restart = options.Restart;
        while (true)
        {
            var last = await RunBatchAsync(connection, resolved, options.BatchSize, restart, options.BatchTimeout, cancellationToken)
                .ConfigureAwait(false);
            restart = false;
            batches++;
            rows += last.BatchRows;
            progress?.Report(last);
            if (last.IsDone ||
                (options.MaxBatches is { } maxBatches && batches >= maxBatches) ||
                (options.MaxDuration is { } maxDuration && stopwatch.Elapsed >= maxDuration))
            {
                return new ConstraintValidationOutcome(last, batches, rows, stopwatch.Elapsed);
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>
    /// Marks a fully validated constraint trusted (<c>ALTER TABLE … WITH CHECK CHECK CONSTRAINT</c>): a
    /// schema-modification lock and a full scan of the table. Refused (51405/51406) while violations remain or
    /// validation is incomplete; engine error 1222 when the lock is not granted within <paramref name="lockTimeout"/>.
    /// </summary>
    public async Task<ConstraintTrustResult> TrustAsync(
        ConstraintName constraint,
        TimeSpan lockTimeout,
        TimeSpan? commandTimeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(constraint);
        var resolved = await ResolveAsync(constraint, cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new SqlCommand(TrustProcedure, connection)
        {
            CommandType = CommandType.StoredProcedure,
            // The scan can take long on a big table; the lock wait itself is bounded by lockTimeout.
            CommandTimeout = (int)Math.Ceiling((commandTimeout ?? TimeSpan.FromHours(1)).TotalSeconds),
        };
        command.Parameters.Add(new SqlParameter("@SchemaName", SqlDbType.NVarChar, 128) { Value = resolved.Schema });
        command.Parameters.Add(new SqlParameter("@ConstraintName", SqlDbType.NVarChar, 128) { Value = resolved.Name });
        command.Parameters.Add(new SqlParameter("@LockTimeoutMs", SqlDbType.Int) { Value = (int)Math.Ceiling(lockTimeout.TotalMilliseconds) });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"{TrustProcedure} returned no result row.");
            }

            return new ConstraintTrustResult(
                reader.GetString(reader.GetOrdinal("SchemaName")),
                reader.GetString(reader.GetOrdinal("TableName")),
                reader.GetString(reader.GetOrdinal("ConstraintName")),
                reader.GetString(reader.GetOrdinal("ConstraintType")),
                reader.GetBoolean(reader.GetOrdinal("IsTrusted")),
                reader.GetBoolean(reader.GetOrdinal("AlreadyTrusted")),
                NullableDateTime(reader, "TrustedAt"));
        }
        catch (SqlException ex) when (DbMergeException.FromSqlException(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    private async Task<ConstraintProgress> RunBatchAsync(
        SqlConnection connection, ConstraintName constraint, int batchSize, bool restart, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using var command = new SqlCommand(ValidateBatchProcedure, connection)
        {
            CommandType = CommandType.StoredProcedure,
            CommandTimeout = (int)Math.Ceiling(timeout.TotalSeconds),
        };
        command.Parameters.Add(new SqlParameter("@SchemaName", SqlDbType.NVarChar, 128) { Value = constraint.Schema });
        command.Parameters.Add(new SqlParameter("@ConstraintName", SqlDbType.NVarChar, 128) { Value = constraint.Name });
        command.Parameters.Add(new SqlParameter("@BatchSize", SqlDbType.Int) { Value = batchSize });
        command.Parameters.Add(new SqlParameter("@Restart", SqlDbType.Bit) { Value = restart });
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"{ValidateBatchProcedure} returned no result row.");
            }

            return new ConstraintProgress(
                reader.GetString(reader.GetOrdinal("SchemaName")),
                reader.GetString(reader.GetOrdinal("TableName")),
                reader.GetString(reader.GetOrdinal("ConstraintName")),
                reader.GetString(reader.GetOrdinal("ConstraintType")),
                reader.GetString(reader.GetOrdinal("KeyColumn")),
                reader.GetString(reader.GetOrdinal("Status")),
                NullableLong(reader, "LastKey"),
                reader.GetInt64(reader.GetOrdinal("RowsChecked")),
                reader.GetInt64(reader.GetOrdinal("ViolationCount")),
                reader.GetInt32(reader.GetOrdinal("BatchRows")),
                reader.GetInt32(reader.GetOrdinal("BatchViolations")),
                NullableLong(reader, "EstimatedTotalRows"),
                reader.GetDateTime(reader.GetOrdinal("StartedAt")),
                reader.GetDateTime(reader.GetOrdinal("UpdatedAt")),
                NullableDateTime(reader, "FinishedAt"));
        }
        catch (SqlException ex) when (DbMergeException.FromSqlException(ex) is { } mapped)
        {
            throw mapped;
        }
    }

    private async Task<SqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqlConnection(_connectionString);
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

    private static long? NullableLong(SqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : Convert.ToInt64(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static int? NullableInt(SqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);
    }

    private static DateTime? NullableDateTime(SqlDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetDateTime(ordinal);
    }

    private const string ListColumns = """
        SELECT SCHEMA_NAME(o.schema_id) AS SchemaName,
               OBJECT_NAME(o.parent_object_id) AS TableName,
               o.name AS ConstraintName,
               o.object_id AS ObjectId,
               CASE o.type WHEN 'C' THEN 'CHECK' ELSE 'FOREIGN KEY' END AS ConstraintType,
               CONVERT(bit, COALESCE(cc.is_disabled, fk.is_disabled)) AS IsDisabled,
               (SELECT SUM(p.rows) FROM sys.partitions AS p
                WHERE p.object_id = o.parent_object_id AND p.index_id IN (0, 1)) AS EstimatedTotalRows,
        """;

    private const string ListFilter = """
        WHERE o.type IN ('C', 'F')
          AND o.is_ms_shipped = 0
          AND COALESCE(cc.is_not_trusted, fk.is_not_trusted) = 1
        ORDER BY SchemaName, TableName, ConstraintName;
        """;

    private const string ListSql = ListColumns + "\n" + """
               cv.Status,
               cv.ConstraintObjectId AS StoredObjectId,
               cv.LastKey,
               cv.RowsChecked,
               (SELECT COUNT_BIG(*) FROM dbmerge.ConstraintViolation AS v
                WHERE v.ConstraintValidationId = cv.ConstraintValidationId) AS RecordedViolations,
               cv.UpdatedAt,
               cv.FinishedAt
        FROM sys.objects AS o
        LEFT JOIN sys.check_constraints AS cc ON cc.object_id = o.object_id
        LEFT JOIN sys.foreign_keys AS fk ON fk.object_id = o.object_id
        LEFT JOIN dbmerge.ConstraintValidation AS cv
               ON cv.SchemaName = SCHEMA_NAME(o.schema_id) AND cv.ConstraintName = o.name
        """ + "\n" + ListFilter;

    private const string ListSqlWithoutProgress = ListColumns + "\n" + """
               CAST(NULL AS varchar(10)) AS Status,
               CAST(NULL AS int) AS StoredObjectId,
               CAST(NULL AS bigint) AS LastKey,
               CAST(NULL AS bigint) AS RowsChecked,
               CAST(NULL AS bigint) AS RecordedViolations,
               CAST(NULL AS datetime2(3)) AS UpdatedAt,
               CAST(NULL AS datetime2(3)) AS FinishedAt
        FROM sys.objects AS o
        LEFT JOIN sys.check_constraints AS cc ON cc.object_id = o.object_id
        LEFT JOIN sys.foreign_keys AS fk ON fk.object_id = o.object_id
        """ + "\n" + ListFilter;
}
