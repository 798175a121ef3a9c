using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.OwnTransaction;

/// <summary>How the caller's session stands when it calls a procedure that owns its transaction.</summary>
public enum CallerMode
{
    /// <summary>BEGIN TRANSACTION (a SqlTransaction) and a write of the caller's own: @@TRANCOUNT 1.</summary>
    ExplicitTransaction,

    /// <summary>SET IMPLICIT_TRANSACTIONS ON and a write of the caller's own, which opened the implicit transaction: @@TRANCOUNT 1.</summary>
    ImplicitTransactionWithWork,

    /// <summary>SET IMPLICIT_TRANSACTIONS ON and nothing else (JDBC/ODBC with auto-commit off, first call): @@TRANCOUNT 0.</summary>
    ImplicitTransactionsBeforeAnyWork,
}

/// <summary>
/// Base of the tests proving that a procedure which owns its transaction (house rule DBM013) refuses inside a
/// caller's transaction, and under IMPLICIT_TRANSACTIONS ON, WITHOUT touching the caller's session (see
/// <see cref="CallerMode"/>). The caller prepares its session, calls the procedure and gets the area's error number;
/// afterwards @@TRANCOUNT, XACT_STATE() and the IMPLICIT_TRANSACTIONS bit are what they were before the call (so the
/// transaction, if any, is still open and committable), the caller's row is still visible, the procedure changed
/// nothing (the area's snapshot is the same), there is no error 266 (trancount mismatch), and the caller's own
/// ROLLBACK then removes its row. Without the @@OPTIONS test the implicit modes fail: the procedure runs, its
/// BEGIN TRANSACTION nests in the implicit one and its COMMIT leaves @@TRANCOUNT 1 with the work uncommitted.
/// </summary>
public abstract class CallerTransactionTest(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every procedure of <paramref name="procedures"/> in every <see cref="CallerMode"/>.</summary>
    protected static TheoryData<string, CallerMode> Cases(params string[] procedures)
    {
        var data = new TheoryData<string, CallerMode>();
        foreach (var procedure in procedures)
        {
            foreach (var mode in Enum.GetValues<CallerMode>())
            {
                data.Add(procedure, mode);
            }
        }

        return data;
    }

    /// <param name="mode">how the caller's session stands at the call.</param>
    /// <param name="expectedNumber">the area's open-transaction error (51109, 51214, 51313, 51410).</param>
    /// <param name="procedure">the procedure's name (the message must start with it).</param>
    /// <param name="call">a batch that EXECs the procedure with named arguments (DECLAREs allowed; no table access of its own).</param>
    /// <param name="snapshotSql">a query of one string column over what the procedure would change, compared before and after the call.</param>
    /// <param name="parameters">the call's parameters.</param>
    protected async Task AssertRefusedWithoutTouchingTheCallersTransactionAsync(
        CallerMode mode, int expectedNumber, string procedure, string call, string snapshotSql, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        SqlTransaction? transaction = null;
        try
        {
            // Given the caller's session: a transaction with a write of its own, or implicit-transaction mode
            int? callerUserId = null;
            switch (mode)
            {
                case CallerMode.ExplicitTransaction:
                    transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
                    callerUserId = await InsertCallerWorkAsync(connection, transaction, string.Empty);
                    break;
                case CallerMode.ImplicitTransactionWithWork:
                    callerUserId = await InsertCallerWorkAsync(connection, null, "SET IMPLICIT_TRANSACTIONS ON; ");
                    break;
                case CallerMode.ImplicitTransactionsBeforeAnyWork:
                    await using (var set = new SqlCommand("SET IMPLICIT_TRANSACTIONS ON;", connection))
                    {
                        await set.ExecuteNonQueryAsync(Ct);
                    }

                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown caller mode");
            }

            // Before any work, a read on the caller's connection would itself open the implicit transaction: read elsewhere.
            var before = await SnapshotAsync(mode, connection, transaction, snapshotSql);
            var entry = await SessionAsync(connection, transaction);
            Output.WriteLine($"{mode}: before the call @@TRANCOUNT {entry.TranCount}, XACT_STATE() {entry.XactState}, IMPLICIT_TRANSACTIONS bit {entry.Implicit}");
            var expectedEntry = mode switch
            {
                CallerMode.ExplicitTransaction => (1, (short)1, 0),
                CallerMode.ImplicitTransactionWithWork => (1, (short)1, 2),
                _ => (0, (short)0, 2),
            };
            Assert.Equal(expectedEntry, entry);

            // When the procedure is called in that session
            var error = await Assert.ThrowsAsync<SqlException>(async () =>
            {
                await using var command = new SqlCommand(call, connection, transaction) { CommandTimeout = 60 };
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.AddWithValue(name, value ?? DBNull.Value);
                }

                await command.ExecuteNonQueryAsync(Ct);
            });

            // Then it refused with the area's number, and the caller's session, transaction and work are as they were
            Output.WriteLine($"{procedure} refused: {string.Join(" | ", error.Errors.Cast<SqlError>().Select(e => $"{e.Number}: {e.Message}"))}");
            var exit = await SessionAsync(connection, transaction);
            Output.WriteLine($"after the refusal: @@TRANCOUNT {exit.TranCount}, XACT_STATE() {exit.XactState}, IMPLICIT_TRANSACTIONS bit {exit.Implicit}");
            Assert.Equal(expectedNumber, error.Number);
            Assert.DoesNotContain(error.Errors.Cast<SqlError>(), e => e.Number == 266);
            Assert.Contains($"{procedure}: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON", error.Message, StringComparison.Ordinal);
            Assert.Equal(entry, exit);

            var after = await SnapshotAsync(mode, connection, transaction, snapshotSql);
            Output.WriteLine("-- snapshot after the call");
            after.ForEach(Output.WriteLine);
            Assert.Equal(before, after);
            if (callerUserId is not { } caller)
            {
                return;
            }

            Assert.Equal(1, await CountCallerRowsAsync(connection, transaction, caller));

            // And the caller still owns its transaction: its rollback removes its own write
            if (transaction is not null)
            {
                await transaction.RollbackAsync(Ct);
            }
            else
            {
                await using var rollback = new SqlCommand("ROLLBACK TRANSACTION;", connection);
                await rollback.ExecuteNonQueryAsync(Ct);
            }

            Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.[User] WHERE UserId = @u;", ("@u", caller)));
        }
        finally
        {
            if (mode != CallerMode.ExplicitTransaction && connection.State == System.Data.ConnectionState.Open)
            {
                // Leave the pooled connection as it was found, whatever the assertions did.
                await using var reset = new SqlCommand("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION; SET IMPLICIT_TRANSACTIONS OFF;", connection);
                await reset.ExecuteNonQueryAsync(CancellationToken.None);
            }

            if (transaction is not null)
            {
                await transaction.DisposeAsync();
            }
        }
    }

    private static async Task<int> InsertCallerWorkAsync(SqlConnection connection, SqlTransaction? transaction, string prefix)
    {
        await using var insert = new SqlCommand(
            prefix + "INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'caller-work@example.org', N'Caller work');",
            connection, transaction);
        return (int)(await insert.ExecuteScalarAsync(Ct))!;
    }

    private async Task<List<string>> SnapshotAsync(CallerMode mode, SqlConnection connection, SqlTransaction? transaction, string sql)
    {
        if (mode != CallerMode.ImplicitTransactionsBeforeAnyWork)
        {
            return await SnapshotOnAsync(connection, transaction, sql);
        }

        await using var other = await OpenAsync();
        return await SnapshotOnAsync(other, null, sql);
    }

    private static async Task<List<string>> SnapshotOnAsync(SqlConnection connection, SqlTransaction? transaction, string sql)
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

    /// <summary>@@TRANCOUNT, XACT_STATE() and @@OPTIONS &amp; 2: a SELECT without a table, which opens no implicit transaction.</summary>
    private static async Task<(int TranCount, short XactState, int Implicit)> SessionAsync(SqlConnection connection, SqlTransaction? transaction)
    {
        await using var command = new SqlCommand("SELECT @@TRANCOUNT, CONVERT(smallint, XACT_STATE()), @@OPTIONS & 2;", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        return (reader.GetInt32(0), reader.GetInt16(1), reader.GetInt32(2));
    }

    private static async Task<int> CountCallerRowsAsync(SqlConnection connection, SqlTransaction? transaction, int callerUserId)
    {
        await using var command = new SqlCommand("SELECT COUNT(*) FROM app.[User] WHERE UserId = @u;", connection, transaction);
        command.Parameters.AddWithValue("@u", callerUserId);
        return (int)(await command.ExecuteScalarAsync(Ct))!;
    }
}
