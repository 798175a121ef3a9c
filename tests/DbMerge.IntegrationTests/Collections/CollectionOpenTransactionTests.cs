using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>
/// The three collection procedures that own their transaction refuse inside a caller's transaction and under
/// IMPLICIT_TRANSACTIONS ON with 51556, leaving the caller's session, transaction and work as they were.
/// </summary>
public sealed class CollectionOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    public static TheoryData<string, CallerMode> Procedures =>
        Cases("api.Collection_ClaimSession", "api.Collection_ClaimLegacy", "api.Collection_UndoClaim");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task A_collection_procedure_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51556_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given the collection world, one undoable claim (AdaOlder's collections), and a call that would succeed
        // outside a transaction (Ada's session, AdaOld's collections, the undo of that claim)
        var w = await CollectionWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOlder, cancellationToken: Ct);
        var (call, parameters) = procedure switch
        {
            "api.Collection_ClaimSession" => (
                "EXEC api.Collection_ClaimSession @SessionId = @Session, @UserId = @User;",
                new (string, object?)[] { ("@Session", CollectionWorld.AdaSession), ("@User", w.Ada) }),
            "api.Collection_ClaimLegacy" => (
                "EXEC api.Collection_ClaimLegacy @UserId = @User, @LegacyUserId = @Legacy, @DryRun = 0;",
                new (string, object?)[] { ("@User", w.Ada), ("@Legacy", w.AdaOld) }),
            "api.Collection_UndoClaim" => (
                "EXEC api.Collection_UndoClaim @ClaimId = @Claim, @DryRun = 0;",
                new (string, object?)[] { ("@Claim", claim.ClaimId) }),
            _ => throw new ArgumentOutOfRangeException(nameof(procedure), procedure, "not a collection procedure"),
        };

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, 51556, procedure, call, CollectionWorld.Snapshot, parameters);
    }
}
