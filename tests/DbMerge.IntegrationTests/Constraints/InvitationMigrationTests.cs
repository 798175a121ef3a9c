using System.Diagnostics;
using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Constraints;

/// <summary>
/// The non-blocking invitation migrations (0030–0039) applied to a table that already holds data (issue 5):
/// a scratch database is migrated in stages with temporary repository layouts holding a prefix of migrations/.
/// </summary>
public sealed class InvitationMigrationTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A temporary layout with the migrations whose file names sort before <paramref name="before"/> (and their
    /// checksum lines) and only database/permissions: the procedures of database/ target the final schema.
    /// </summary>
    private static RepositoryLayout PrefixLayout(string before)
    {
        var source = RepositoryLayout.Discover(AppContext.BaseDirectory);
        var root = Directory.CreateTempSubdirectory("dbmerge-prefix-").FullName;
        var migrations = Directory.CreateDirectory(Path.Combine(root, "migrations")).FullName;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var migration in source.Migrations().Where(m => string.CompareOrdinal(m.Name, before) < 0))
        {
            File.Copy(migration.FullPath, Path.Combine(migrations, migration.Name));
            names.Add(migration.Name);
        }

        if (File.Exists(source.ChecksumsFile))
        {
            File.WriteAllLines(Path.Combine(migrations, "checksums.txt"),
                File.ReadAllLines(source.ChecksumsFile).Where(line => names.Any(n => line.Contains(n, StringComparison.Ordinal))));
        }

        var permissions = Path.Combine(source.DatabaseDirectory, "permissions");
        if (Directory.Exists(permissions))
        {
            var target = Directory.CreateDirectory(Path.Combine(root, "database", "permissions")).FullName;
            foreach (var file in Directory.EnumerateFiles(permissions, "*.sql"))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }

        File.WriteAllText(Path.Combine(root, "DbMerge.sln"), string.Empty);
        return new RepositoryLayout(root);
    }

    private Task<MigrationResult> MigrateAsync(string connectionString, RepositoryLayout layout) =>
        new Migrator(new MigratorOptions { Layout = layout, Log = line => Output.WriteLine($"[migrator] {line}") })
            .MigrateAsync(connectionString, Ct);

    private static async Task<T> ScalarOnAsync<T>(string connectionString, string sql)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 300 };
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task ExecOnAsync(string connectionString, string sql)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Migrating_a_prefilled_invitation_table_with_violating_rows_succeeds_and_leaves_the_new_constraints_untrusted()
    {
        // Given a database at the last migration before issue 5, with 100,000 channel invitations
        var scratch = await Fixture.CreateScratchDatabaseAsync("inv_prefill", Ct);
        await MigrateAsync(scratch, PrefixLayout("0030"));
        await ExecOnAsync(scratch, """
            INSERT INTO app.[User] (Email) VALUES (N'sender@example.org');
            INSERT INTO app.Channel (Name) VALUES (N'General');
            INSERT INTO app.Organization (Name) VALUES (N'Acme');
            INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
            SELECT (SELECT MIN(ChannelId) FROM app.Channel), CONCAT(N'user', n.i, N'@example.org'),
                   CASE WHEN n.i % 2 = 0 THEN 'view' ELSE 'edit' END, (SELECT MIN(UserId) FROM app.[User])
            FROM (SELECT TOP (100000) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i
                  FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b) AS n;
            """);

        // ... and, written while the deploy is half-way (after OrganizationId exists, before the FK and the CHECK),
        // rows that violate the new rules: both targets, neither target, an organization that does not exist.
        await MigrateAsync(scratch, PrefixLayout("0036"));
        await ExecOnAsync(scratch, """
            UPDATE app.Invitation SET OrganizationId = (SELECT MIN(OrganizationId) FROM app.Organization) WHERE InvitationId % 1000 = 0;
            UPDATE app.Invitation SET ChannelId = NULL WHERE InvitationId % 1000 = 500;
            UPDATE app.Invitation SET ChannelId = NULL, OrganizationId = 999999 WHERE InvitationId % 1000 = 250;
            """);
        var rowsBefore = await ScalarOnAsync<long>(scratch, "SELECT COUNT_BIG(*) FROM app.Invitation;");

        // When the rest of the migrations run (while a writer keeps inserting)
        using var stop = new CancellationTokenSource();
        var waits = new List<double>();
        var writer = Task.Run(async () =>
        {
            await using var connection = new SqlConnection(scratch);
            await connection.OpenAsync();
            while (!stop.IsCancellationRequested)
            {
                var stopwatch = Stopwatch.StartNew();
                await using var insert = new SqlCommand(
                    "INSERT INTO app.Invitation (ChannelId, Email, ShareMode) VALUES ((SELECT MIN(ChannelId) FROM app.Channel), N'w@example.org', 'view');", connection);
                await insert.ExecuteNonQueryAsync();
                lock (waits)
                {
                    waits.Add(stopwatch.Elapsed.TotalMilliseconds);
                }
            }
        }, CancellationToken.None);
        var stopwatch = Stopwatch.StartNew();
        var result = await MigrateAsync(scratch, RepositoryLayout.Discover(AppContext.BaseDirectory));
        var elapsed = stopwatch.Elapsed;
        await stop.CancelAsync();
        await writer;

        // Then they succeed: had any step validated existing rows (WITH CHECK), it would have failed with 547 on the
        // planted violations — so success proves no existing row was validated.
        Output.WriteLine($"applied {string.Join(", ", result.AppliedMigrations)} in {elapsed.TotalMilliseconds:F0} ms with {result.LockTimeoutRetries} lock-timeout retries");
        lock (waits)
        {
            Output.WriteLine($"writer during the migration: {waits.Count} inserts, max wait {(waits.Count == 0 ? 0 : waits.Max()):F1} ms");
            Assert.True(waits.Count == 0 || waits.Max() < 10_000, "a writer was blocked for more than 10 s by the migration");
        }

        Assert.Contains("0037_add_CK_app_Invitation_ExactlyOneTarget.sql", result.AppliedMigrations);
        var constraints = await RowsOnAsync(scratch, """
            SELECT name, CONVERT(int, is_not_trusted) AS is_not_trusted, CONVERT(int, is_disabled) AS is_disabled FROM sys.check_constraints WHERE parent_object_id = OBJECT_ID(N'app.Invitation')
            UNION ALL
            SELECT name, CONVERT(int, is_not_trusted), CONVERT(int, is_disabled) FROM sys.foreign_keys WHERE parent_object_id = OBJECT_ID(N'app.Invitation');
            """);
        Dump("app.Invitation constraints", constraints);
        foreach (var name in new[] { "CK_app_Invitation_ExactlyOneTarget", "CK_app_Invitation_ShareMode_ForTarget", "FK_app_Invitation_OrganizationId_app_Organization" })
        {
            var row = Assert.Single(constraints, c => (string)c["name"]! == name);
            Assert.Equal(1, row["is_not_trusted"]);
            Assert.Equal(0, row["is_disabled"]);
        }

        Assert.DoesNotContain(constraints, c => (string)c["name"]! == "CK_app_Invitation_ShareMode");
        Assert.Equal(rowsBefore, await ScalarOnAsync<long>(scratch, "SELECT COUNT_BIG(*) FROM app.Invitation WHERE Email <> N'w@example.org';"));
        Assert.Equal(1, await ScalarOnAsync<int>(scratch, "SELECT COUNT(*) FROM sys.indexes WHERE name = N'IX_app_Invitation_OrganizationId' AND object_id = OBJECT_ID(N'app.Invitation');"));
        Assert.Equal(1, await ScalarOnAsync<int>(scratch, "SELECT COUNT(*) FROM sys.indexes WHERE name = N'IX_app_Invitation_ChannelId' AND object_id = OBJECT_ID(N'app.Invitation');"));
        Assert.Equal(1, await ScalarOnAsync<int>(scratch, "SELECT CONVERT(int, is_nullable) FROM sys.columns WHERE object_id = OBJECT_ID(N'app.Invitation') AND name = N'ChannelId';"));

        // And validation afterwards finds exactly the planted rows.
        var validator = new DbMerge.Deployment.ConstraintValidation.ConstraintValidator(scratch);
        var target = await validator.ValidateAsync(new("app", "CK_app_Invitation_ExactlyOneTarget"), new() { BatchSize = 10_000 }, cancellationToken: Ct);
        var fk = await validator.ValidateAsync(new("app", "FK_app_Invitation_OrganizationId_app_Organization"), new() { BatchSize = 10_000 }, cancellationToken: Ct);
        Assert.Equal(200, target.ViolationCount); // ids % 1000 in (0, 500) among 100,000
        Assert.Equal(100, fk.ViolationCount);     // ids % 1000 = 250
    }

    [Fact]
    public async Task A_new_violating_write_is_rejected_at_once_by_the_untrusted_constraints()
    {
        var ids = await RowsAsync("""
            INSERT INTO app.Channel (Name) VALUES (N'c');
            INSERT INTO app.Organization (Name) VALUES (N'o');
            SELECT (SELECT MAX(ChannelId) FROM app.Channel) AS ChannelId, (SELECT MAX(OrganizationId) FROM app.Organization) AS OrganizationId;
            """);
        var channel = ids[0]["ChannelId"];
        var organization = ids[0]["OrganizationId"];
        foreach (var (sql, what) in new[]
                 {
                     ("INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (@c, @o, N'a@example.org', 'view');", "both targets"),
                     ("INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (NULL, NULL, N'a@example.org', 'view');", "neither target"),
                     ("INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (NULL, 2147483000, N'a@example.org', 'view');", "a missing organization"),
                     ("INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (@c, NULL, N'a@example.org', 'admin');", "admin on a channel"),
                     ("INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (NULL, @o, N'a@example.org', 'owner');", "an unknown share mode"),
                 })
        {
            var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(sql, ("@c", channel), ("@o", organization)));
            Output.WriteLine($"{what}: {error.Number} {error.Message}");
            Assert.Equal(547, error.Number);
        }

        Assert.Equal(2, await ExecAsync("""
            INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (@c, NULL, N'a@example.org', 'edit');
            INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode) VALUES (NULL, @o, N'a@example.org', 'admin');
            """, ("@c", channel), ("@o", organization)));
    }

    private static async Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> RowsOnAsync(string connectionString, string sql)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new SqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<IReadOnlyDictionary<string, object?>>();
        while (await reader.ReadAsync())
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
}
