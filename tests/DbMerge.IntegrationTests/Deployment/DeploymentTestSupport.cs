using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;

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
}
