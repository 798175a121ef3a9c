using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.OwnTransaction;

/// <summary>
/// Base of the tests proving that a procedure which owns its transaction (house rule DBM013) refuses inside a
/// caller's transaction WITHOUT touching it: the caller opens a transaction, writes a user of its own, calls the
/// procedure in the same transaction and gets the area's error number; afterwards @@TRANCOUNT is still 1, the
/// transaction is still committable (XACT_STATE() = 1), the caller's row is still visible, the procedure changed
/// nothing (the area's snapshot is the same inside the transaction), there is no error 266 (trancount mismatch),
/// and the caller's own ROLLBACK then removes its row.
/// </summary>
public abstract class CallerTransactionTest(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <param name="expectedNumber">the area's open-transaction error (51214, 51313, 51410).</param>
    /// <param name="procedure">the procedure's name (the message must start with it).</param>
    /// <param name="call">a batch that EXECs the procedure with named arguments.</param>
    /// <param name="snapshotSql">a query of one string column over what the procedure would change, compared before and after the call.</param>
    /// <param name="parameters">the call's parameters.</param>
    protected async Task AssertRefusedWithoutTouchingTheCallersTransactionAsync(
        int expectedNumber, string procedure, string call, string snapshotSql, params (string Name, object? Value)[] parameters)
    {
        // Given a caller's open transaction with a write of its own
        await using var connection = await OpenAsync();
        await using var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        int callerUserId;
        await using (var insert = new SqlCommand(
                         "INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'caller-work@example.org', N'Caller work');",
                         connection, transaction))
        {
            callerUserId = (int)(await insert.ExecuteScalarAsync(Ct))!;
        }

        var before = await SnapshotAsync(connection, transaction, snapshotSql);

        // When the procedure is called inside it
        var error = await Assert.ThrowsAsync<SqlException>(async () =>
        {
            await using var command = new SqlCommand(call, connection, transaction) { CommandTimeout = 60 };
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            await command.ExecuteNonQueryAsync(Ct);
        });

        // Then it refused with the area's number, and the caller's transaction and work are intact
        Output.WriteLine($"{procedure} refused: {string.Join(" | ", error.Errors.Cast<SqlError>().Select(e => $"{e.Number}: {e.Message}"))}");
        var state = await StateAsync(connection, transaction, callerUserId);
        Output.WriteLine($"after the refusal: @@TRANCOUNT {state.TranCount}, XACT_STATE() {state.XactState}, caller rows {state.CallerRows}");
        var after = await SnapshotAsync(connection, transaction, snapshotSql);
        Output.WriteLine("-- snapshot inside the transaction, after the call");
        after.ForEach(Output.WriteLine);

        Assert.Equal(expectedNumber, error.Number);
        Assert.DoesNotContain(error.Errors.Cast<SqlError>(), e => e.Number == 266);
        Assert.Contains($"{procedure}: called inside an open transaction", error.Message, StringComparison.Ordinal);
        Assert.Equal((1, (short)1, 1), (state.TranCount, state.XactState, state.CallerRows));
        Assert.Equal(before, after);

        // And the caller still owns its transaction: its rollback removes its own write
        await transaction.RollbackAsync(Ct);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.[User] WHERE UserId = @u;", ("@u", callerUserId)));
    }

    private static async Task<List<string>> SnapshotAsync(SqlConnection connection, SqlTransaction transaction, string sql)
    {
        var rows = new List<string>();
        await using var command = new SqlCommand(sql, connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            rows.Add(reader.IsDBNull(0) ? "NULL" : Convert.ToString(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture)!);
        }

        return rows;
    }

    private static async Task<(int TranCount, short XactState, int CallerRows)> StateAsync(SqlConnection connection, SqlTransaction transaction, int callerUserId)
    {
        await using var command = new SqlCommand(
            "SELECT @@TRANCOUNT, CONVERT(smallint, XACT_STATE()), (SELECT COUNT(*) FROM app.[User] WHERE UserId = @u);", connection, transaction);
        command.Parameters.AddWithValue("@u", callerUserId);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        return (reader.GetInt32(0), reader.GetInt16(1), reader.GetInt32(2));
    }
}
