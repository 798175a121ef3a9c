using System.Text;
using System.Text.RegularExpressions;
using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

/// <summary>Temp repository copies and catalog listings shared by the deployment tests.</summary>
internal static class DeploymentTestSupport
{
    /// <summary>Copies migrations/ and database/ of <paramref name="source"/> to a new temp folder.</summary>
    public static RepositoryLayout CopyOf(RepositoryLayout source)
    {
        var target = ScratchDirectory.Create("dbmerge-layout-");
        foreach (var folder in new[] { "migrations", "database" })
        {
            var from = Path.Combine(source.Root, folder);
            if (!Directory.Exists(from))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            {
                var destination = Path.Combine(target, folder, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }
        }

        return new RepositoryLayout(target);
    }

    /// <summary>
    /// Every user object, column and index of schemas app, dbmerge and api, one line each, sorted — what two
    /// deployments must agree on. (The journal lives in dbo and is compared separately.)
    /// </summary>
    public const string SchemaListingSql =
        """
        SELECT N'object ' + s.name + N'.' + o.name + N' ' + o.type_desc AS Line
        FROM sys.objects AS o JOIN sys.schemas AS s ON s.schema_id = o.schema_id
        WHERE o.is_ms_shipped = 0 AND s.name IN (N'app', N'dbmerge', N'api')
        UNION ALL
        SELECT N'column ' + s.name + N'.' + t.name + N'.' + c.name + N' ' + ty.name
             + N' len=' + CONVERT(nvarchar(10), c.max_length) + N' p=' + CONVERT(nvarchar(10), c.precision) + N' s=' + CONVERT(nvarchar(10), c.scale)
             + N' null=' + CONVERT(nvarchar(1), c.is_nullable) + N' identity=' + CONVERT(nvarchar(1), c.is_identity)
             + N' computed=' + CONVERT(nvarchar(1), c.is_computed) + N' collation=' + ISNULL(c.collation_name, N'-')
        FROM sys.columns AS c
        JOIN sys.tables AS t ON t.object_id = c.object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        JOIN sys.types AS ty ON ty.user_type_id = c.user_type_id
        WHERE s.name IN (N'app', N'dbmerge', N'api')
        UNION ALL
        SELECT N'index ' + s.name + N'.' + t.name + N'.' + i.name + N' ' + i.type_desc + N' unique=' + CONVERT(nvarchar(1), i.is_unique)
             + N' filter=' + ISNULL(i.filter_definition, N'-')
        FROM sys.indexes AS i
        JOIN sys.tables AS t ON t.object_id = i.object_id
        JOIN sys.schemas AS s ON s.schema_id = t.schema_id
        WHERE s.name IN (N'app', N'dbmerge', N'api') AND i.name IS NOT NULL
        UNION ALL
        SELECT N'principal ' + p.name + N' ' + p.type_desc
        FROM sys.database_principals AS p WHERE p.name IN (N'DbMergeApp', N'DbMergeOperator')
        UNION ALL
        SELECT N'permission ' + pr.name + N' ' + pe.permission_name + N' ' + pe.state_desc + N' ' + pe.class_desc + N' '
             + ISNULL(CASE pe.class WHEN 1 THEN OBJECT_SCHEMA_NAME(pe.major_id) + N'.' + OBJECT_NAME(pe.major_id)
                                    WHEN 3 THEN SCHEMA_NAME(pe.major_id) END, N'-')
        FROM sys.database_permissions AS pe JOIN sys.database_principals AS pr ON pr.principal_id = pe.grantee_principal_id
        WHERE pr.name IN (N'DbMergeApp', N'DbMergeOperator')
        ORDER BY Line;
        """;

    /// <summary>The journal as (name, checksum) lines, sorted by name.</summary>
    public const string JournalListingSql =
        "SELECT ScriptName + N' ' + ISNULL(Checksum, N'-') AS Line FROM dbo.SchemaVersions ORDER BY ScriptName, Id;";

    public static async Task<List<string>> LinesAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var lines = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            lines.Add(reader.GetString(0));
        }

        return lines;
    }

    public static Task<List<string>> SchemaAsync(string connectionString, CancellationToken cancellationToken) =>
        LinesAsync(connectionString, SchemaListingSql, cancellationToken);

    public static Task<List<string>> JournalAsync(string connectionString, CancellationToken cancellationToken) =>
        LinesAsync(connectionString, JournalListingSql, cancellationToken);

    /// <summary>The journal lines the repository's migrations produce: every migration once, with its file checksum.</summary>
    public static List<string> ExpectedJournal(RepositoryLayout layout, int? firstN = null) =>
        layout.Migrations()
            .Take(firstN ?? int.MaxValue)
            .Select(m => $"{m.Name} {MigrationChecksums.ComputeFile(m.FullPath)}")
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Writes a deploy script to a new temp file and returns its path.</summary>
    public static string WriteScript(string text)
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-deploy-"), "deploy.sql");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// The script as a client that does NOT stop at errors would run it in SQLCMD mode: <c>:on error exit</c> replaced
    /// by <c>:on error ignore</c>, so only the script's own guards stand between a failure and the batches after it.
    /// </summary>
    public static string IgnoringErrors(string scriptText)
    {
        Assert.Contains("\n:on error exit\n", scriptText, StringComparison.Ordinal);
        return scriptText.Replace("\n:on error exit\n", "\n:on error ignore\n", StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs a script batch by batch on one connection the way SSMS (or Azure Data Studio) does: split at lines holding
    /// GO, every batch sent even after an error. With <paramref name="sqlcmdMode"/>, lines starting with ':' are sqlcmd
    /// commands (:setvar defines a variable, the others are ignored - so :on error exit does NOT stop this client) and
    /// $(name) is substituted; without it, everything is sent as written (SQLCMD Mode off).
    /// </summary>
    public static async Task<BatchRun> RunLikeSsmsAsync(string connectionString, string scriptText, bool sqlcmdMode, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return await RunLikeSsmsAsync(connection, scriptText, sqlcmdMode, cancellationToken);
    }

    /// <summary>As <see cref="RunLikeSsmsAsync(string, string, bool, CancellationToken)"/>, on an open session (one query window).</summary>
    public static async Task<BatchRun> RunLikeSsmsAsync(SqlConnection connection, string scriptText, bool sqlcmdMode, CancellationToken cancellationToken)
    {
        var output = new StringBuilder();
        var errors = new List<int>();
        var variables = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        void OnMessage(object sender, SqlInfoMessageEventArgs e)
        {
            foreach (SqlError message in e.Errors)
            {
                output.Append("[info] ").Append(message.Message).Append('\n');
            }
        }

        connection.InfoMessage += OnMessage;
        try
        {
            await RunBatchesAsync(connection, scriptText, sqlcmdMode, variables, output, errors, cancellationToken);
        }
        finally
        {
            connection.InfoMessage -= OnMessage;
        }

        return new BatchRun(errors, output.ToString());
    }

    private static async Task RunBatchesAsync(SqlConnection connection, string scriptText, bool sqlcmdMode, Dictionary<string, string> variables,
        StringBuilder output, List<int> errors, CancellationToken cancellationToken)
    {
        foreach (var raw in Regex.Split(scriptText.Replace("\r\n", "\n", StringComparison.Ordinal), @"^[ \t]*GO[ \t]*\n", RegexOptions.Multiline | RegexOptions.IgnoreCase))
        {
            var batch = raw;
            if (sqlcmdMode)
            {
                var lines = new List<string>();
                foreach (var line in batch.Split('\n'))
                {
                    var setvar = Regex.Match(line, @"^\s*:setvar\s+(?<name>\w+)\s+""(?<value>[^""]*)""\s*$", RegexOptions.IgnoreCase);
                    if (setvar.Success)
                    {
                        variables[setvar.Groups["name"].Value] = setvar.Groups["value"].Value;
                    }

                    lines.Add(line.TrimStart().StartsWith(':') ? string.Empty : line);
                }

                batch = Regex.Replace(string.Join('\n', lines), @"\$\((?<name>\w+)\)",
                    m => variables.TryGetValue(m.Groups["name"].Value, out var value) ? value : m.Value);
            }

            if (string.IsNullOrWhiteSpace(batch))
            {
                continue;
            }

            try
            {
                await using var command = new SqlCommand(batch, connection) { CommandTimeout = 300 };
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (SqlException ex)
            {
                foreach (SqlError error in ex.Errors)
                {
                    errors.Add(error.Number);
                    output.Append("[error ").Append(error.Number).Append("] ").Append(error.Message).Append('\n');
                }
            }
        }
    }

    /// <summary>
    /// Holds the deploy lock (<see cref="DeploymentJournal.LockResource"/>) on a session of its own, as another deployment
    /// would, until disposed.
    /// </summary>
    public static async Task<SqlConnection> HoldDeployLockAsync(string connectionString, CancellationToken cancellationToken)
    {
        var connection = new SqlConnection(new SqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "test: other deployment" }.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(
            "DECLARE @Result int; EXEC @Result = sys.sp_getapplock @Resource = @Resource, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = 0; SELECT @Result;",
            connection);
        command.Parameters.AddWithValue("@Resource", DeploymentJournal.LockResource);
        var result = Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(result >= 0, $"the test could not take the deploy lock itself (sp_getapplock returned {result})");
        return connection;
    }

    /// <summary>Adds a journal row for a migration this release does not have, as a newer release would have left.</summary>
    public static async Task AddJournalRowAsync(string connectionString, string scriptName, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(DeploymentJournal.InsertSql, connection);
        command.Parameters.AddWithValue("@ScriptName", scriptName);
        command.Parameters.AddWithValue("@Checksum", new string('f', 64));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Whether a table exists in the database of <paramref name="connectionString"/>.</summary>
    public static async Task<bool> TableExistsAsync(string connectionString, string table, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand("SELECT OBJECT_ID(@Table, N'U');", connection);
        command.Parameters.AddWithValue("@Table", table);
        return await command.ExecuteScalarAsync(cancellationToken) is int;
    }
}

/// <summary>
/// What a run returned: the error numbers raised (in order), every message and error as text, and the exit code of the
/// process when sqlcmd ran it (null for the batch-by-batch client).
/// </summary>
public sealed record BatchRun(IReadOnlyList<int> Errors, string Output, int? ExitCode = null);

