using System.Globalization;
using System.Text;
using System.Text.Json;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// Journal v2 (dbmerge.MergeChange) can undo (issue 9, the base of issue 14): replaying the before-images in reverse
/// change order — an update restores the row found by its RowKey to its before-image, a delete re-inserts it with its
/// identity, an insert deletes it — restores every app table exactly (full row images compared, not checksums).
/// </summary>
public sealed class UserMergeJournalTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Replaying_the_journal_in_reverse_restores_every_app_table_exactly()
    {
        // Given data for every policy, with collisions, children, duplicates, a row changed twice, and another user
        var (src, t) = await SeedEveryPolicyAsync();
        var before = await FullImagesAsync();

        // When the merge commits (batches of 2: every loop runs several times)
        var result = await MergeAsync(src, t, batchSize: 2);
        DumpSummary(result);
        Assert.True(result.RowsChanged > 30);
        var after = await FullImagesAsync();
        Assert.NotEqual(0, before.Sum(b => b.Value.Count));
        Assert.Contains(before, b => !b.Value.SequenceEqual(after[b.Key]));

        // and the journal is replayed backwards
        var changes = await RowsAsync(
            "SELECT ChangeSeq, SchemaName, TableName, Operation, Action, RowKey, BeforeImage, AfterImage FROM dbmerge.MergeChange WHERE MergeRunId = @R ORDER BY ChangeSeq DESC;",
            ("@R", result.MergeRunId));
        Assert.Equal(Enumerable.Range(1, changes.Count).Reverse(), changes.Select(c => (int)c["ChangeSeq"]!));
        Assert.Contains(changes.GroupBy(c => $"{c["TableName"]} {c["RowKey"]}"), g => g.Count() > 1); // a row changed twice
        await ReplayAsync(changes);

        // Then every app table holds exactly its rows from before the merge
        AssertSameImages(before, await FullImagesAsync());
    }

    [Fact]
    public async Task Every_after_image_is_the_row_as_the_merge_left_it()
    {
        var (src, t) = await SeedEveryPolicyAsync();

        var result = await MergeAsync(src, t);

        // the last change of each surviving row: its after-image equals the row now (what undo compares before it
        // overwrites a row: a later change by the application must not be undone blindly)
        var last = await RowsAsync("""
            SELECT c.SchemaName, c.TableName, c.RowKey, c.AfterImage
            FROM dbmerge.MergeChange AS c
            WHERE c.MergeRunId = @R AND c.Operation = 'update'
              AND c.ChangeSeq = (SELECT MAX(x.ChangeSeq) FROM dbmerge.MergeChange AS x
                                 WHERE x.MergeRunId = c.MergeRunId AND x.TableName = c.TableName AND x.SchemaName = c.SchemaName AND x.RowKey = c.RowKey);
            """, ("@R", result.MergeRunId));
        Assert.NotEmpty(last);
        foreach (var change in last)
        {
            var table = $"[{change["SchemaName"]}].[{change["TableName"]}]";
            var key = Parse((string)change["RowKey"]!);
            var where = string.Join(" AND ", key.Keys.Select((k, i) => $"[{k}] = @k{i}"));
            var rows = await RowsAsync($"SELECT * FROM {table} WHERE {where};", key.Values.Select((v, i) => ($"@k{i}", v)).ToArray());
            var now = Assert.Single(rows);
            foreach (var (column, value) in Parse((string)change["AfterImage"]!))
            {
                Assert.True(Same(value, now[column]), $"{table} {change["RowKey"]}.{column}: journal after-image {value ?? "NULL"}, row {now[column] ?? "NULL"}");
            }
        }
    }

    /// <summary>Undoes <paramref name="changes"/> (newest first) in one transaction, from their before-images.</summary>
    private async Task ReplayAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> changes)
    {
        await using var connection = await OpenAsync();
        await using var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        var columns = new Dictionary<string, List<(string Name, bool Identity)>>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            var table = $"[{change["SchemaName"]}].[{change["TableName"]}]";
            if (!columns.TryGetValue(table, out var list))
            {
                list = [];
                await using var meta = new SqlCommand(
                    "SELECT c.name, c.is_identity FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@T) AND c.is_computed = 0 ORDER BY c.column_id;", connection, transaction);
                meta.Parameters.AddWithValue("@T", table);
                await using (var reader = await meta.ExecuteReaderAsync(Ct))
                {
                    while (await reader.ReadAsync(Ct))
                    {
                        list.Add((reader.GetString(0), reader.GetBoolean(1)));
                    }
                }

                columns[table] = list;
            }

            var key = Parse((string)change["RowKey"]!);
            var image = change["BeforeImage"] is string b ? Parse(b) : null;
            var sql = new StringBuilder();
            var parameters = new List<(string, object?)>();
            var where = string.Join(" AND ", key.Keys.Select((k, i) => $"[{k}] = @k{i}"));
            parameters.AddRange(key.Values.Select((v, i) => ($"@k{i}", v)));
            switch ((string)change["Operation"]!)
            {
                case "update":
                    var set = list.Where(c => !c.Identity).Select((c, i) => (c.Name, i)).ToList();
                    sql.Append(CultureInfo.InvariantCulture, $"UPDATE {table} SET {string.Join(", ", set.Select(c => $"[{c.Name}] = @v{c.i}"))} WHERE {where};");
                    parameters.AddRange(set.Select(c => ($"@v{c.i}", image![c.Name])));
                    break;
                case "delete":
                    var all = list.Select((c, i) => (c.Name, i)).ToList();
                    var identity = list.Any(c => c.Identity);
                    sql.Append(identity ? $"SET IDENTITY_INSERT {table} ON; " : string.Empty)
                       .Append(CultureInfo.InvariantCulture, $"INSERT INTO {table} ({string.Join(", ", all.Select(c => $"[{c.Name}]"))}) VALUES ({string.Join(", ", all.Select(c => $"@v{c.i}"))});")
                       .Append(identity ? $" SET IDENTITY_INSERT {table} OFF;" : string.Empty);
                    parameters.AddRange(all.Select(c => ($"@v{c.i}", image![c.Name])));
                    break;
                case "insert":
                    sql.Append(CultureInfo.InvariantCulture, $"DELETE FROM {table} WHERE {where};");
                    break;
            }

            await using var command = new SqlCommand(sql.ToString(), connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            Assert.Equal(1, await command.ExecuteNonQueryAsync(Ct));
        }

        await transaction.CommitAsync(Ct);
    }

    /// <summary>A JSON object's properties as CLR values (string, long, decimal, bool, null): enough for parameters.</summary>
    private static Dictionary<string, object?> Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => p.Value.TryGetInt64(out var l) ? l : (object)p.Value.GetDecimal(),
            _ => p.Value.GetString(),
        }, StringComparer.Ordinal);
    }

    private static bool Same(object? journal, object? row) => (journal, row) switch
    {
        (null, null) => true,
        (null, _) or (_, null) => false,
        (string s, DateTime d) => DateTime.Parse(s, CultureInfo.InvariantCulture) == d,
        (bool b, bool r) => b == r,
        (long l, int r) => l == r,
        (long l, short r) => l == r,
        (long l, byte r) => l == r,
        _ => string.Equals(Convert.ToString(journal, CultureInfo.InvariantCulture), Convert.ToString(row, CultureInfo.InvariantCulture), StringComparison.Ordinal),
    };
}
