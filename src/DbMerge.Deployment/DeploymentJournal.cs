using System.Data;
using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment;

/// <summary>
/// The one journal format shared by the <see cref="Migrator"/> (through DbUp) and the DBA deploy script
/// (<see cref="DeployScriptGenerator"/>): DbUp's standard <c>dbo.SchemaVersions</c> table (Id, ScriptName,
/// Applied) plus a <c>Checksum</c> column — the SHA-256 of the migration file's bytes, lowercase hex.
/// Only migrations (RunOnce) are journaled; <c>database/</c> scripts run on every deployment and are not.
/// The table lives in <c>dbo</c>, outside the app/dbmerge/api schemas, so it is never part of the
/// schema model and Respawn never touches it. <c>Applied</c> is UTC (server clock).
/// </summary>
public static class DeploymentJournal
{
    public const string Schema = "dbo";

    public const string Table = "SchemaVersions";

    /// <summary>The journal table, as written in SQL.</summary>
    public const string QualifiedName = "dbo.SchemaVersions";

    /// <summary>The <c>sp_getapplock</c> resource every DbMerge deployment (runner or script) holds while it runs.</summary>
    public const string LockResource = "DbMerge.Deploy";

    /// <summary>
    /// True (as a T-SQL predicate) when the current database is a system database: by name, not by DB_ID() &lt;= 4 — in
    /// Azure SQL Database DB_ID() values are only unique within a database or elastic pool (DB_ID docs), so an id says
    /// nothing there, while the names are fixed everywhere. The runner's check and the deploy script's 51005 use this one.
    /// </summary>
    public const string SystemDatabasePredicate = "DB_NAME() IN (N'master', N'model', N'msdb', N'tempdb')";

    /// <summary>Default wait for another deployment's lock, in milliseconds (the deploy script's value too).</summary>
    public const int DefaultLockTimeoutMilliseconds = 60_000;

    /// <summary>
    /// How long re-creating one <c>database/</c> object waits for its schema-modification lock (SET LOCK_TIMEOUT), in
    /// milliseconds, before the attempt fails with 1222 and is retried: while a CREATE OR ALTER waits behind the callers
    /// of a busy procedure, every new caller queues behind it, so the wait is kept short. Runner default and script value.
    /// </summary>
    public const int DatabaseObjectLockTimeoutMilliseconds = 3_000;

    /// <summary>How often a step that failed on a lock timeout (1222) is retried, with a delay doubling from 1 s.</summary>
    public const int LockTimeoutRetries = 5;

    /// <summary>
    /// Creates the journal when missing (DbUp's columns, DbUp's primary key name, plus Checksum), or adds
    /// Checksum to a journal DbUp created before DbMerge. Idempotent; one batch.
    /// </summary>
    public const string EnsureSql =
        """
        IF OBJECT_ID(N'dbo.SchemaVersions', N'U') IS NULL
        BEGIN
            CREATE TABLE dbo.SchemaVersions
            (
                Id         int           IDENTITY(1, 1) NOT NULL CONSTRAINT PK_SchemaVersions_Id PRIMARY KEY,
                ScriptName nvarchar(255) NOT NULL,
                Applied    datetime      NOT NULL,
                Checksum   char(64)      NULL
            );
        END;
        IF COL_LENGTH(N'dbo.SchemaVersions', N'Checksum') IS NULL
        BEGIN
            ALTER TABLE dbo.SchemaVersions ADD Checksum char(64) NULL;
        END;
        """;

    /// <summary>Records one applied migration; parameters <c>@ScriptName</c>, <c>@Checksum</c>.</summary>
    public const string InsertSql =
        "INSERT INTO dbo.SchemaVersions (ScriptName, Applied, Checksum) VALUES (@ScriptName, GETUTCDATE(), @Checksum);";

    private const string ShapeSql =
        "SELECT CONVERT(bit, CASE WHEN OBJECT_ID(N'dbo.SchemaVersions', N'U') IS NULL THEN 0 ELSE 1 END) AS HasTable, " +
        "CONVERT(bit, CASE WHEN COL_LENGTH(N'dbo.SchemaVersions', N'Checksum') IS NULL THEN 0 ELSE 1 END) AS HasChecksum;";

    private const string ReadWithChecksumSql =
        "SELECT ScriptName, Applied, Checksum FROM dbo.SchemaVersions ORDER BY Id;";

    private const string ReadWithoutChecksumSql =
        "SELECT ScriptName, Applied, CONVERT(char(64), NULL) AS Checksum FROM dbo.SchemaVersions ORDER BY Id;";

    /// <summary>Every journal row in insertion order; empty when the database has no journal yet.</summary>
    public static async Task<IReadOnlyList<JournalEntry>> ReadAsync(SqlConnection connection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        bool hasTable, hasChecksum;
        await using (var shape = new SqlCommand(ShapeSql, connection))
        await using (var reader = await shape.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            hasTable = reader.GetBoolean(0);
            hasChecksum = reader.GetBoolean(1);
        }

        if (!hasTable)
        {
            return [];
        }

        var entries = new List<JournalEntry>();
        await using var command = new SqlCommand(hasChecksum ? ReadWithChecksumSql : ReadWithoutChecksumSql, connection);
        await using var rows = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await rows.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            entries.Add(new JournalEntry(
                rows.GetString(0),
                DateTime.SpecifyKind(rows.GetDateTime(1), DateTimeKind.Utc),
                rows.IsDBNull(2) ? null : rows.GetString(2).Trim().ToLowerInvariant()));
        }

        return entries;
    }

    /// <summary>Opens <paramref name="connectionString"/> and reads the journal.</summary>
    public static async Task<IReadOnlyList<JournalEntry>> ReadAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(connection, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Journal rows for scripts that are not migrations of this release, in name order: the database was deployed
    /// from a newer release (or by another tool into the same journal). Deploying over it would be a downgrade.
    /// </summary>
    public static IReadOnlyList<string> FindUnknown(IEnumerable<JournalEntry> journal, IReadOnlyDictionary<string, string> fileChecksums)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(fileChecksums);
        return journal.Select(e => e.ScriptName)
            .Where(n => !fileChecksums.ContainsKey(n))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Journaled migrations whose recorded checksum differs from the file's. Rows without a checksum (written
    /// by plain DbUp before DbMerge) and rows for scripts that are not migrations of this repository are skipped.
    /// </summary>
    public static IReadOnlyList<ChecksumMismatch> FindMismatches(
        IEnumerable<JournalEntry> journal, IReadOnlyDictionary<string, string> fileChecksums)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(fileChecksums);
        return journal
            .Where(e => e.Checksum is not null &&
                        fileChecksums.TryGetValue(e.ScriptName, out var file) &&
                        !string.Equals(file, e.Checksum, StringComparison.OrdinalIgnoreCase))
            .Select(e => new ChecksumMismatch(e.ScriptName, e.Checksum!, fileChecksums[e.ScriptName]))
            .DistinctBy(m => m.ScriptName)
            .ToList();
    }
}

/// <summary>One row of the deployment journal.</summary>
/// <param name="ScriptName">The migration's file name.</param>
/// <param name="AppliedAtUtc">When it was applied (server clock, UTC for rows DbMerge wrote).</param>
/// <param name="Checksum">SHA-256 recorded when applied; null for rows written without DbMerge.</param>
public sealed record JournalEntry(string ScriptName, DateTime AppliedAtUtc, string? Checksum);

/// <summary>An applied migration whose file no longer hashes to the checksum recorded when it was applied.</summary>
public sealed record ChecksumMismatch(string ScriptName, string RecordedChecksum, string FileChecksum);
