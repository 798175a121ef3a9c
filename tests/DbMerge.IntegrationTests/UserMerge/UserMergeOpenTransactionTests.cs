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
}
