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
[Collection(WriterLatencyCollection.Name)]
public sealed class InvitationMigrationTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// A temporary layout holding only the migrations whose file names sort before <paramref name="before"/> (and their
    /// checksum lines) and NO database/ objects: the procedures (and the grants naming them) target the final schema,
    /// and a GRANT on a procedure that does not exist yet fails with 15151. The full layout deploys them at the end.
    /// </summary>
    private static RepositoryLayout PrefixLayout(string before)
    {
        var source = RepositoryLayout.Discover(AppContext.BaseDirectory);
        var root = ScratchDirectory.Create("dbmerge-prefix-");
        var migrations = Directory.CreateDirectory(Path.Combine(root, "migrations")).FullName;
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var migration in source.Migrations().Where(m => string.CompareOrdinal(m.Name, before) < 0))
        {
            File.Copy(migration.FullPath, Path.Combine(migrations, migration.Name));
            names.Add(migration.Name);
        }

        Assert.NotEmpty(names);
        if (File.Exists(source.ChecksumsFile))
        {
            File.WriteAllLines(Path.Combine(migrations, "checksums.txt"),
                File.ReadAllLines(source.ChecksumsFile).Where(line => names.Any(n => line.EndsWith(" " + n, StringComparison.Ordinal))));
        }

        File.WriteAllText(Path.Combine(root, "DbMerge.sln"), string.Empty);
        var layout = new RepositoryLayout(root);
        Assert.Empty(layout.DatabaseObjects());
        return layout;
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
        await using var writer = await WriterProbe.StartAsync(scratch, async (connection, _) =>
        {
            await using var insert = new SqlCommand(
                "INSERT INTO app.Invitation (ChannelId, Email, ShareMode) VALUES ((SELECT MIN(ChannelId) FROM app.Channel), N'w@example.org', 'view');", connection);
            await insert.ExecuteNonQueryAsync(CancellationToken.None);
        });
        var stopwatch = Stopwatch.StartNew();
        var result = await MigrateAsync(scratch, RepositoryLayout.Discover(AppContext.BaseDirectory));
        var elapsed = stopwatch.Elapsed;
        var stats = await writer.StopAsync();

        // Then they succeed: had any step validated existing rows (WITH CHECK), it would have failed with 547 on the
        // planted violations — so success proves no existing row was validated.
        Output.WriteLine($"applied {string.Join(", ", result.AppliedMigrations)} in {elapsed.TotalMilliseconds:F0} ms with {result.LockTimeoutRetries} lock-timeout retries");
        Assert.Equal(
            Fixture.Layout.Migrations().Select(m => m.Name).Where(n => string.CompareOrdinal(n, "0036") >= 0),
            result.AppliedMigrations);

        // And the writer was never blocked for long: each step holds Sch-M for a catalog change only, and the indexes
        // build ONLINE (the test server is Developer edition). Bound: the DESIGN target (100 ms) plus a margin of 400 ms
        // for DDL (a Sch-M request queues writers behind it while it waits, at most the step's own wait) on a CI runner;
        // an offline index build or a WITH CHECK scan blocks the writer for the whole step (seconds on 100,000 rows).
        stats.AssertNeverBlockedLongerThan(WriterProbe.DesignTargetMs + 400, Output);

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
