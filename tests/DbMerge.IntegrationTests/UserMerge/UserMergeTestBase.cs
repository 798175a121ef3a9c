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

    protected Task<UnmergeResult> UnmergeAsync(long mergeRunId, bool dryRun = false, TimeSpan? lockTimeout = null, int? batchSize = null) =>
        Client.UnmergeAsync(mergeRunId, "integration test: undo", "tests", dryRun, Ct, lockTimeout, batchSize);

    protected async Task<DbMergeException> UnmergeFailsAsync(int expectedNumber, long mergeRunId, bool dryRun = false)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => UnmergeAsync(mergeRunId, dryRun));
        Output.WriteLine($"error {error.ErrorNumber}: {error.Message}");
        Assert.Equal(expectedNumber, error.ErrorNumber);
        return error;
    }

    protected void DumpUnmerge(UnmergeResult result)
    {
        Output.WriteLine($"-- unmerge run {result.UnmergeRunId} of run {result.MergeRunId} (dry run: {result.DryRun})");
        foreach (var t in result.Tables)
        {
            Output.WriteLine($"{t.ApplyOrder} {t.SchemaName}.{t.TableName}.{t.ColumnName} {t.Policy}: moved {t.Moved}, merged {t.Merged}, deleted {t.Deleted}, locked {t.Locked}");
        }
    }

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
    /// A source and a target with rows under every policy, collisions both ways (merged, deleted, re-pointed children),
    /// rows changed twice, an account merged into the source earlier, and an unrelated user's rows (the journal tests and
    /// the unmerge tests share it).
    /// </summary>
    protected async Task<(int Source, int Target)> SeedEveryPolicyAsync()
    {
        var s = Seed;
        var t = await s.UserAsync("t@x.test");
        var src = await s.UserAsync("s@x.test");
        var o = await s.UserAsync("o@x.test");
        await s.UserAsync("p@x.test", active: false, mergedInto: src);
        var docs = await DocumentsAsync(6, firstStep: 1);
        await ExecAsync("UPDATE app.Document SET CreatorUserId = @S WHERE DocumentId IN (@A, @B);", ("@S", src), ("@A", docs[0]), ("@B", docs[1]));
        foreach (var (d, i) in docs.Select((d, i) => (d, i)))
        {
            await s.AccessAsync(d, src, i % 2 == 0 ? "editor" : "reader");
            if (i % 3 == 0)
            {
                await s.AccessAsync(d, t, "commenter");
            }

            await s.AccessAsync(d, o, "reader");
            await s.LinkTraceAsync(d, src);
            if (i < 2)
            {
                await s.LinkTraceAsync(d, t);
                await s.FavoriteAsync(d, t);
            }

            await s.FavoriteAsync(d, src);
        }

        await s.DocumentInvitationAsync(docs[0], "s@x.test", "editor", o);
        await s.DocumentInvitationAsync(docs[0], "t@x.test", "reader", o);
        await s.DocumentInvitationAsync(docs[1], "S@x.test", "reader", src); // re-addressed, then its issuer moved: changed twice
        await s.DocumentInvitationAsync(docs[2], "o@x.test", "reader", src);
        var thread = await s.ThreadAsync(docs[0], src);
        var c1 = await s.CommentAsync(thread, src);
        await s.CommentAsync(thread, o);
        var r1 = await s.ReactionAsync(c1, "+1");
        var r2 = await s.ReactionAsync(c1, "heart");
        await s.ReactionUserAsync(r1, src);
        await s.ReactionUserAsync(r1, t);
        await s.ReactionUserAsync(r2, src);
        await s.ReactionUserAsync(r2, o);
        var ch1 = await s.ChannelAsync("one");
        var ch2 = await s.ChannelAsync("two");
        await s.ChannelMemberAsync(ch1, src, "editor");
        await s.ChannelMemberAsync(ch1, t, "viewer");
        await s.ChannelMemberAsync(ch2, src, "viewer");
        await s.InvitationAsync(ch1, "s@x.test", "edit", o);
        await s.InvitationAsync(ch1, "t@x.test", "view", o);
        await s.InvitationAsync(ch2, "s@x.test", "view", src); // re-addressed, then its sender moved
        await s.InvitationAsync(ch2, "s@x.test", "edit", o);
        await s.InvitationAsync(ch2, "s@x.test", "view", o, invited: src, status: "accepted");
        var org = await s.OrganizationAsync("org");
        await s.OrganizationMemberAsync(org, src, "admin");
        await s.OrganizationMemberAsync(org, t, "viewer");
        await s.OrganizationInvitationAsync(org, "s@x.test", "admin", o);
        await s.OrganizationInvitationAsync(org, "t@x.test", "view", o);
        await s.OrganizationInvitationAsync(org, "t@x.test", "edit", o);
        await s.CollectionAsync(src);
        await s.CollectionAsync(src);
        await s.CollectionAsync(o);
        var (co1, co2, co3) = (await s.CourseAsync("1"), await s.CourseAsync("2"), await s.CourseAsync("3"));
        var e1 = await s.EnrollmentAsync(co1, src);
        var e2 = await s.EnrollmentAsync(co1, t);
        await s.EnrollmentAsync(co2, src);
        var e5 = await s.EnrollmentAsync(co3, src);
        var e4 = await s.EnrollmentAsync(co3, t);
        await s.SubmissionAsync(e1);
        await s.SubmissionAsync(e1);
        await s.SubmissionAsync(e2);
        await s.SubmissionAsync(e5);
        await s.FinalQualificationAsync(e1, "A");
        await s.FinalQualificationAsync(e4, "B");
        return (src, t);
    }

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
