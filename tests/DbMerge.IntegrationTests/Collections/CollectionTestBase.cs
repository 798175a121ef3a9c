using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>Helpers shared by the collection integration tests (issue 13).</summary>
public abstract class CollectionTestBase(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal async Task<CollectionWorld> GivenTheWorldAsync() =>
        await CollectionWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);

    /// <summary>The rows of <see cref="CollectionWorld.Snapshot"/>.</summary>
    protected async Task<List<string>> SnapshotAsync() =>
        (await RowsAsync(CollectionWorld.Snapshot)).Select(r => (string)r["R"]!).ToList();

    /// <summary>Name, owner and session of each given collection id.</summary>
    protected async Task<Dictionary<int, (string Name, int? Owner, string? Session, DateTime UpdatedAt)>> CollectionsAsync(params int[] ids)
    {
        var rows = await RowsAsync(
            "SELECT CollectionId, Name, OwnerUserId, AnonymousSessionId, UpdatedAt FROM app.Collection WHERE CollectionId IN (SELECT CONVERT(int, value) FROM STRING_SPLIT(@Ids, ',')) ORDER BY CollectionId;",
            ("@Ids", string.Join(',', ids)));
        Dump("collections", rows);
        return rows.ToDictionary(
            r => (int)r["CollectionId"]!,
            r => ((string)r["Name"]!, r["OwnerUserId"] as int?, r["AnonymousSessionId"] as string, (DateTime)r["UpdatedAt"]!));
    }

    protected async Task<List<string>> NamesOfAsync(int userId) =>
        (await RowsAsync("SELECT Name FROM app.Collection WHERE OwnerUserId = @U ORDER BY CollectionId;", ("@U", userId)))
        .Select(r => (string)r["Name"]!).ToList();

    protected async Task DumpClaimsAsync()
    {
        Dump("claims", await RowsAsync("SELECT ClaimId, Kind, UserId, LegacyUserId, RequestedBy, ClaimedAt, CollectionCount, RenamedCount, UndoneAt, UndoneBy FROM dbmerge.CollectionClaim ORDER BY ClaimId;"));
        Dump("claim items", await RowsAsync("SELECT ClaimId, CollectionId, FromUserId, ToUserId, OldName, NewName, OldUpdatedAt, NewUpdatedAt FROM dbmerge.CollectionClaimItem ORDER BY ClaimId, CollectionId;"));
    }

    protected async Task<DbMergeException> AssertRefusedAsync(int number, Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(call);
        Output.WriteLine($"refused: {error.ErrorNumber} {error.Message}");
        Assert.Equal(number, error.ErrorNumber);
        Assert.True(ErrorRegistry.TryGet(number, out _));
        return error;
    }

    /// <summary>A connection holding the exclusive locks a non-updating UPDATE takes, in an open transaction, until disposed (rolled back).</summary>
    protected async Task<LockHolder> HoldAsync(string lockingUpdate, params (string Name, object? Value)[] parameters)
    {
        var connection = await OpenAsync();
        var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        await using (var command = new SqlCommand(lockingUpdate, connection, transaction))
        {
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            var rows = await command.ExecuteNonQueryAsync(Ct);
            Assert.True(rows > 0, $"the holder locked no row: {lockingUpdate}");
        }

        await using var spid = new SqlCommand("SELECT @@SPID;", connection, transaction);
        var session = Convert.ToInt32(await spid.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
        return new LockHolder(connection, transaction, session);
    }

    protected sealed class LockHolder(SqlConnection connection, SqlTransaction transaction, int session) : IAsyncDisposable
    {
        public int Session { get; } = session;

        public SqlConnection Connection { get; } = connection;

        public SqlTransaction Transaction { get; } = transaction;

        public async Task CommitAsync() => await Transaction.CommitAsync(Ct);

        public async ValueTask DisposeAsync()
        {
            if (Transaction.Connection is not null)
            {
                await Transaction.RollbackAsync(CancellationToken.None);
            }

            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> sessions of this database wait for a lock; dumps the waits.</summary>
    protected async Task WaitForLockWaitersAsync(int count, string what)
    {
        await WaitUntilAsync(async () => (await LockWaitersAsync()).Count >= count, TimeSpan.FromSeconds(30), what);
        foreach (var (session, waitType, resource) in await LockWaitersAsync())
        {
            Output.WriteLine($"waiting: session {session} {waitType} {resource}");
        }
    }

    /// <summary>The outcome of a call that may fail with a DbMerge error.</summary>
    protected sealed record Outcome<T>(T? Result, DbMergeException? Error);

    protected static async Task<Outcome<T>> TryAsync<T>(Func<Task<T>> call)
        where T : class
    {
        try
        {
            return new Outcome<T>(await call(), null);
        }
        catch (DbMergeException ex)
        {
            return new Outcome<T>(null, ex);
        }
    }
}
