using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// api.User_Unmerge owns its transaction: inside a caller's, or under IMPLICIT_TRANSACTIONS ON, it refuses with 51140 and
/// leaves the caller's session alone (no unmerge run is recorded: the guard runs before anything else).
/// </summary>
public sealed class UnmergeOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('user ', UserId, ' ', Email, ' ', IsActive, ' ', MergedIntoUserId, ' ', UpdatedAt) AS R FROM app.[User] " +
        "UNION ALL SELECT CONCAT('access ', DocumentAccessId, ' ', DocumentId, ' ', UserId, ' ', Role) FROM app.DocumentAccess " +
        "UNION ALL SELECT CONCAT('run ', MergeRunId, ' ', Kind, ' ', Status) FROM dbmerge.MergeRun ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures => Cases("api.User_Unmerge");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task User_Unmerge_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51140_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given a committed merge, so that the undo would succeed outside a transaction
        var seed = new MergeSeed(ConnectionString);
        var target = await seed.UserAsync("target@x.test");
        var source = await seed.UserAsync("source@x.test");
        var document = await seed.DocumentAsync("0000001", source);
        await seed.AccessAsync(document, source, "owner");
        var merge = await Client.MergeUsersAsync(source, target, "to undo", "tests", dryRun: false, Ct);
        const string call =
            "DECLARE @Id bigint; EXEC api.User_Unmerge @MergeRunId = @M, @Reason = N'open transaction test', " +
            "@RequestedBy = NULL, @DryRun = 0, @UnmergeRunId = @Id OUTPUT, @LockTimeoutMs = 1000;";

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, ErrorRegistry.UnmergeOpenTransaction, procedure, call, Snapshot,
            ("@M", merge.MergeRunId));
    }
}
