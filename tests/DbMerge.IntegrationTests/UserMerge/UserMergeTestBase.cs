using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Shared helpers of the user-merge integration tests.</summary>
public abstract class UserMergeTestBase(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    internal MergeSeed Seed => new(ConnectionString);

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected Task<UserMergeResult> MergeAsync(int source, int target, bool dryRun = false, TimeSpan? lockTimeout = null) =>
        Client.MergeUsersAsync(source, target, "integration test", "tests", dryRun, Ct, lockTimeout);

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

    /// <summary>Row count and order-independent checksum of every app table (and the merge history tables).</summary>
    protected async Task<IReadOnlyDictionary<string, string>> FingerprintAsync(bool includeHistory = false)
    {
        var tables = await RowsAsync(
            "SELECT s.name AS SchemaName, t.name AS TableName FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id " +
            "WHERE s.name = N'app' OR (@History = 1 AND t.name IN (N'MergeJournal')) ORDER BY s.name, t.name;",
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
}
