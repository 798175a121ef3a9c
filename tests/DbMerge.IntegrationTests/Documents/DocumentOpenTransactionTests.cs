using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.Documents;

/// <summary>
/// api.Document_Create and api.Document_Move own their transaction: inside a caller's, or under IMPLICIT_TRANSACTIONS ON,
/// they refuse with 51214 and leave the caller's session alone.
/// </summary>
public sealed class DocumentOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('doc ', DocumentId, ' ', Path, ' ', Title, ' ', CONVERT(varchar(30), UpdatedAt, 126)) AS R FROM app.Document " +
        "UNION ALL SELECT CONCAT('access ', DocumentAccessId, ' ', DocumentId, ' ', UserId, ' ', Team, ' ', Role) FROM app.DocumentAccess " +
        "UNION ALL SELECT CONCAT('invitation ', DocumentInvitationId, ' ', DocumentId, ' ', Email) FROM app.DocumentInvitation " +
        "UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType, ' ', Payload) FROM dbmerge.Outbox ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures => Cases("api.Document_Create", "api.Document_Move");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task A_document_procedure_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51214_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given the document world, and a call that would succeed outside a transaction
        // (a last child of A created by its owner; C moved left of B by A's owner, inside tree A)
        var w = await DocumentWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        var (call, parameters) = procedure switch
        {
            "api.Document_Create" => (
                "DECLARE @Id int; EXEC api.Document_Create @ParentDocumentId = @Parent, @Title = N'Minutes', @CreatorUserId = @Creator, @LockTimeout = 1000, @DocumentId = @Id OUTPUT;",
                new (string, object?)[] { ("@Parent", w.A), ("@Creator", w.OwnerA) }),
            "api.Document_Move" => (
                "EXEC api.Document_Move @DocumentId = @Document, @TargetDocumentId = @Target, @Position = 'left', @ActorUserId = @Actor, @LockTimeout = 1000;",
                new (string, object?)[] { ("@Document", w.C), ("@Target", w.B), ("@Actor", w.OwnerA) }),
            _ => throw new ArgumentOutOfRangeException(nameof(procedure), procedure, "not a document procedure"),
        };

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, 51214, procedure, call, Snapshot, parameters);
    }
}
