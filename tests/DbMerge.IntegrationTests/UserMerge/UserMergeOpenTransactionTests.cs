using System.Transactions;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// api.User_Merge owns its transaction: inside a caller's, or under IMPLICIT_TRANSACTIONS ON, it refuses with 51109 and
/// leaves the caller's session alone (no merge run is recorded either: the guard runs before anything else).
/// </summary>
public sealed class UserMergeOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('user ', UserId, ' ', Email, ' ', IsActive, ' ', MergedIntoUserId) AS R FROM app.[User] " +
        "UNION ALL SELECT CONCAT('access ', DocumentAccessId, ' ', DocumentId, ' ', UserId, ' ', Role) FROM app.DocumentAccess " +
        "UNION ALL SELECT CONCAT('run ', MergeRunId, ' ', Status) FROM dbmerge.MergeRun ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures => Cases("api.User_Merge");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task User_Merge_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51109_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given two active users, the source with a document access, so that the merge would succeed outside a transaction
        var seed = new MergeSeed(ConnectionString);
        var target = await seed.UserAsync("target@x.test");
        var source = await seed.UserAsync("source@x.test");
        var document = await seed.DocumentAsync("0000001", source);
        await seed.AccessAsync(document, source, "owner");
        const string call =
            "DECLARE @Id bigint; EXEC api.User_Merge @SourceUserId = @S, @TargetUserId = @T, @Reason = N'open transaction test', " +
            "@RequestedBy = NULL, @DryRun = 0, @LockTimeoutMs = 1000, @MergeRunId = @Id OUTPUT;";

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, ErrorRegistry.MergeOpenTransaction, procedure, call, Snapshot,
            ("@S", source), ("@T", target));
    }

    /// <summary>
    /// The client README's claim: DbMergeClient opens a connection of its own, but SqlClient enlists it in an ambient
    /// TransactionScope (Enlist=true), so the procedure sees the scope's transaction and refuses; a Suppress scope runs it
    /// on its own. Only one connection is opened inside each scope (a second would promote to a distributed transaction).
    /// </summary>
    [Fact]
    public async Task MergeUsersAsync_inside_an_ambient_TransactionScope_is_refused_with_51109_and_runs_under_a_Suppress_scope()
    {
        // Given two active users, the source with a document access
        var seed = new MergeSeed(ConnectionString);
        var target = await seed.UserAsync("target@x.test");
        var source = await seed.UserAsync("source@x.test");
        var document = await seed.DocumentAsync("0000001", source);
        await seed.AccessAsync(document, source, "owner");
        var ct = TestContext.Current.CancellationToken;

        // When the merge is called inside a TransactionScope, then the enlisted connection is refused with 51109
        using (new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled))
        {
            var error = await Assert.ThrowsAsync<DbMergeInvalidStateException>(() =>
                Client.MergeUsersAsync(source, target, "inside a TransactionScope", null, dryRun: false, ct));
            Output.WriteLine($"{error.ErrorNumber}: {error.Message}");
            Assert.Equal(ErrorRegistry.MergeOpenTransaction, error.ErrorNumber);
        }

        Assert.Equal(1, await ScalarAsync<int>("SELECT CONVERT(int, IsActive) FROM app.[User] WHERE UserId = @u;", ("@u", source)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun;"));

        // And inside a Suppress scope nested in it, the same call merges, committed whatever the outer scope does
        long runId;
        using (new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled))
        {
            using var suppressed = new TransactionScope(TransactionScopeOption.Suppress, TransactionScopeAsyncFlowOption.Enabled);
            runId = (await Client.MergeUsersAsync(source, target, "suppressed scope", null, dryRun: false, ct)).MergeRunId;
            suppressed.Complete();
        }

        Assert.Equal(0, await ScalarAsync<int>("SELECT CONVERT(int, IsActive) FROM app.[User] WHERE UserId = @u;", ("@u", source)));
        Assert.Equal("committed", await ScalarAsync<string>("SELECT Status FROM dbmerge.MergeRun WHERE MergeRunId = @r;", ("@r", runId)));
    }
}
