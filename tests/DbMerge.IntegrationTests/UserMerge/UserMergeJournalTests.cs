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

    /// <summary>A source and a target with rows under every policy, collisions both ways, and an unrelated user's rows.</summary>
    private async Task<(int Source, int Target)> SeedEveryPolicyAsync()
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
