using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment;

/// <summary>A CHECK or FOREIGN KEY constraint SQL Server does not trust (added WITH NOCHECK, or disabled).</summary>
/// <param name="Schema">Table schema.</param>
/// <param name="Table">Table name.</param>
/// <param name="Constraint">Constraint name.</param>
/// <param name="Type"><c>CHECK</c> or <c>FOREIGN KEY</c>.</param>
/// <param name="IsDisabled">True when the constraint is disabled (NOCHECK CONSTRAINT): new writes are not checked either.</param>
public sealed record UntrustedConstraint(string Schema, string Table, string Constraint, string Type, bool IsDisabled);

/// <summary>
/// The one query for untrusted constraints (<c>dbmerge status</c>). Issue 5's constraint-validation work
/// extends this query (e.g. with recorded validation state) — keep it the single place.
/// </summary>
public static class UntrustedConstraints
{
    public const string Sql =
        """
        SELECT s.name AS SchemaName, t.name AS TableName, c.name AS ConstraintName, N'CHECK' AS ConstraintType, c.is_disabled AS IsDisabled
        FROM sys.check_constraints AS c
        JOIN sys.tables AS t ON t.object_id = c.parent_object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        WHERE c.is_not_trusted = 1 AND t.is_ms_shipped = 0
        UNION ALL
        SELECT s.name, t.name, fk.name, N'FOREIGN KEY', fk.is_disabled
        FROM sys.foreign_keys AS fk
        JOIN sys.tables AS t ON t.object_id = fk.parent_object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        WHERE fk.is_not_trusted = 1 AND t.is_ms_shipped = 0
        ORDER BY SchemaName, TableName, ConstraintName;
        """;

    public static async Task<IReadOnlyList<UntrustedConstraint>> ReadAsync(SqlConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var result = new List<UntrustedConstraint>();
        await using var command = new SqlCommand(Sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new UntrustedConstraint(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetBoolean(4)));
        }

        return result;
    }
}
