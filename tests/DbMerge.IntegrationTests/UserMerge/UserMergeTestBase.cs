using System.Globalization;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Shared helpers of the user-merge integration tests.</summary>
public abstract class UserMergeTestBase(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    internal MergeSeed Seed => new(ConnectionString);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected Task<UserMergeResult> MergeAsync(
        int source, int target, bool dryRun = false, TimeSpan? lockTimeout = null, int? batchSize = null, TimeSpan? maxDuration = null) =>
        Client.MergeUsersAsync(source, target, "integration test", "tests", dryRun, Ct, lockTimeout, batchSize, maxDuration);

    protected async Task<DbMergeException> MergeFailsAsync(int expectedNumber, int source, int target)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => MergeAsync(source, target));
        Output.WriteLine($"error {error.ErrorNumber}: {error.Message}");
        Assert.Equal(expectedNumber, error.ErrorNumber);
        return error;
    }

    protected static MergeTableSummary Row(UserMergeResult result, string table, string column) =>
        Assert.Single(result.Tables, t => t.SchemaName == "app" && t.TableName == table && t.ColumnName == column);

    protected void DumpSummary(UserMergeResult result)
    {
        Output.WriteLine($"-- merge run {result.MergeRunId} (dry run: {result.DryRun})");
        foreach (var t in result.Tables)
        {
            Output.WriteLine($"{t.SchemaName}.{t.TableName}.{t.ColumnName} {t.Policy}: moved {t.Moved}, merged {t.Merged}, deleted {t.Deleted}, conflicts {t.Conflicts}");
        }
    }

    /// <summary>Row count and order-independent checksum of every app table (and the merge journal tables).</summary>
    protected async Task<IReadOnlyDictionary<string, string>> FingerprintAsync(bool includeHistory = false)
    {
        var tables = await RowsAsync(
            "SELECT s.name AS SchemaName, t.name AS TableName FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id " +
            "WHERE s.name = N'app' OR (@History = 1 AND s.name = N'dbmerge' AND t.name IN (N'MergeJournal', N'MergeChange')) ORDER BY s.name, t.name;",
            ("@History", includeHistory));
        var result = new Dictionary<string, string>();
        foreach (var table in tables)
        {
            var name = $"[{table["SchemaName"]}].[{table["TableName"]}]";
            var rows = await RowsAsync($"SELECT COUNT_BIG(*) AS N, CHECKSUM_AGG(BINARY_CHECKSUM(*)) AS C FROM {name};");
            result[name] = $"{rows[0]["N"]}:{rows[0]["C"]}";
        }

        return result;
    }

    protected void AssertSameFingerprint(IReadOnlyDictionary<string, string> before, IReadOnlyDictionary<string, string> after)
    {
        foreach (var (table, value) in before)
        {
            Output.WriteLine($"{table}: before {value}, after {after[table]}");
        }

        Assert.Equal(before, after);
    }

    /// <summary>
    /// Every row of every app table as a full image (every column, JSON with nulls), sorted per table: what "exactly the
    /// same state" means for the journal replay (no checksum: a difference is shown row by row).
    /// </summary>
    protected async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> FullImagesAsync()
    {
        var tables = await RowsAsync(
            "SELECT s.name AS SchemaName, t.name AS TableName FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE s.name = N'app' ORDER BY t.name;");
        var images = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var table in tables)
        {
            var name = $"[{table["SchemaName"]}].[{table["TableName"]}]";
            var rows = await RowsAsync($"SELECT * FROM {name};");
            images[name] = rows.Select(r => JsonSerializer.Serialize(r.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => Canonical(kv.Value))))
                .Order(StringComparer.Ordinal).ToList();
        }

        return images;
    }

    protected void AssertSameImages(IReadOnlyDictionary<string, IReadOnlyList<string>> expected, IReadOnlyDictionary<string, IReadOnlyList<string>> actual)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (table, rows) in expected)
        {
            var missing = rows.Except(actual[table]).ToList();
            var extra = actual[table].Except(rows).ToList();
            foreach (var row in missing)
            {
                Output.WriteLine($"{table} missing: {row}");
            }

            foreach (var row in extra)
            {
                Output.WriteLine($"{table} extra:   {row}");
            }

            Assert.True(missing.Count == 0 && extra.Count == 0 && rows.Count == actual[table].Count, $"{table} differs (see the output)");
        }
    }

    private static string? Canonical(object? value) => value switch
    {
        null => null,
        DateTime d => d.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture),
        bool b => b ? "1" : "0",
        byte[] bytes => Convert.ToHexString(bytes),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>
    /// An open application transaction on its own connection that has run <paramref name="sql"/> (typically an UPDATE
    /// of one row: it holds that row's exclusive lock) and stays open until disposed (rolled back).
    /// </summary>
    protected async Task<Blocker> HoldAsync(string sql, params (string Name, object? Value)[] parameters)
    {
        var connection = await OpenAsync();
        var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        await using var command = new SqlCommand(sql + " SELECT @@SPID;", connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        var session = Convert.ToInt32(await command.ExecuteScalarAsync(Ct), CultureInfo.InvariantCulture);
        return new Blocker(connection, transaction, session);
    }

    /// <summary>Waits until exactly one session is blocked by <paramref name="blocker"/> and returns it.</summary>
    protected async Task<(int Session, string WaitType, string? Resource)> WaitForOneBlockedAsync(Blocker blocker, string what, TimeSpan? timeout = null)
    {
        (int Session, string WaitType, string? Resource) waiter = default;
        await WaitUntilAsync(async () =>
        {
            var waiters = await LockWaitersAsync(blockedBy: blocker.Session);
            waiter = waiters.FirstOrDefault();
            return waiters.Count == 1;
        }, timeout ?? TimeSpan.FromSeconds(60), what);
        Output.WriteLine($"session {waiter.Session} waits ({waiter.WaitType}) on {waiter.Resource} for {what}");
        return waiter;
    }

    /// <summary>The merge run the test started last (the client call that created it may still be running).</summary>
    protected Task<long> LastRunIdAsync() => ScalarAsync<long>("SELECT MAX(MergeRunId) FROM dbmerge.MergeRun;");

    /// <summary>KILL from master (the test's login is sysadmin on the test server).</summary>
    protected async Task KillAsync(int session)
    {
        await using var master = new SqlConnection(Fixture.MasterConnectionString);
        await master.OpenAsync(Ct);
        await using var kill = new SqlCommand($"KILL {session.ToString(CultureInfo.InvariantCulture)};", master);
        await kill.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>Inserts <paramref name="count"/> root documents in one statement (paths from dbmerge.Path_Step) and returns their ids in order.</summary>
    protected async Task<IReadOnlyList<int>> DocumentsAsync(int count, int firstStep, int? creator = null)
    {
        var rows = await RowsAsync("""
            DECLARE @Ids TABLE (DocumentId int NOT NULL PRIMARY KEY);
            INSERT INTO app.Document (Path, Title, CreatorUserId)
            OUTPUT inserted.DocumentId INTO @Ids (DocumentId)
            SELECT s.Step, N'bulk', @Creator
            FROM (SELECT TOP (@Count) CONVERT(bigint, ROW_NUMBER() OVER (ORDER BY (SELECT NULL))) AS n FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b) AS n
            CROSS APPLY dbmerge.Path_Step(@First + n.n - 1) AS s;
            SELECT DocumentId FROM @Ids ORDER BY DocumentId;
            """, ("@Count", count), ("@First", (long)firstStep), ("@Creator", creator));
        return rows.Select(r => (int)r["DocumentId"]!).ToList();
    }

    /// <summary>An open application transaction holding row locks (see <see cref="HoldAsync"/>); disposing rolls it back.</summary>
    protected sealed class Blocker : IAsyncDisposable
    {
        public Blocker(SqlConnection connection, SqlTransaction transaction, int session)
        {
            Connection = connection;
            Transaction = transaction;
            Session = session;
        }

        public int Session { get; }

        public SqlConnection Connection { get; }

        public SqlTransaction Transaction { get; }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (Transaction.Connection is not null)
                {
                    await Transaction.RollbackAsync(CancellationToken.None);
                }
            }
            catch (InvalidOperationException)
            {
                // already completed
            }

            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
