using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>
/// The reconciliation procedures that own their transaction refuse inside a caller's, and under IMPLICIT_TRANSACTIONS
/// ON, with 51501 and leave the caller's session alone.
/// </summary>
public sealed class ReconciliationOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('import ', ImportId, ' ', CompletedAt, ' ', CreatedCount) AS R FROM dbmerge.ReconciliationImport " +
        "UNION ALL SELECT CONCAT('request ', RequestId, ' ', Status, ' ', ActiveConfirmedAt, ' ', InactiveConfirmedAt, ' ', MergeRunId) FROM dbmerge.ReconciliationRequest " +
        "UNION ALL SELECT CONCAT('token ', RequestId, ' ', Side, ' ', UsedAt) FROM dbmerge.ReconciliationToken " +
        "UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType) FROM dbmerge.Outbox " +
        "UNION ALL SELECT CONCAT('run ', MergeRunId) FROM dbmerge.MergeRun ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures =>
        Cases("api.Reconciliation_ImportBegin", "api.Reconciliation_ImportBatch", "api.Reconciliation_ImportFinish", "api.Reconciliation_Confirm",
            "api.Reconciliation_Process", "dbmerge.Reconciliation_ProcessOne");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task A_reconciliation_procedure_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51501_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given Ada's request, ready (so that every call would succeed outside a transaction)
        var seed = new UserMerge.MergeSeed(ConnectionString);
        await seed.UserAsync(ReconciliationTestBase.AdaEmail);
        await seed.UserAsync(ReconciliationTestBase.AdaOldEmail);
        var file = ReconciliationTestBase.Csv("id,active_email,inactive_email\nA-1,ada@example.org,ada.lovelace@old.example\n");
        var import = await new Runner.Reconciliation.ReconciliationImporter(Client).ImportAsync(file, false, 10, "tests", null, Ct);
        var request = import.Pairs[0].RequestId!.Value;
        var tokens = await RowsAsync("SELECT JSON_VALUE(Payload, '$.side') AS Side, JSON_VALUE(Payload, '$.secret.token') AS Token FROM dbmerge.Outbox WHERE EventType = 'reconciliation.confirm';");
        var activeToken = (string)tokens.Single(t => (string)t["Side"]! == "active")["Token"]!;
        if (procedure is "api.Reconciliation_Process" or "dbmerge.Reconciliation_ProcessOne")
        {
            foreach (var t in tokens)
            {
                await Client.ConfirmReconciliationAsync((string)t["Token"]!, Ct);
            }
        }

        var claim = procedure is "api.Reconciliation_Process" or "dbmerge.Reconciliation_ProcessOne"
            ? (await Client.ClaimReconciliationAsync(false, null, "tests", Ct)).Claimed!.ClaimId
            : Guid.Empty;
        var (call, parameters) = procedure switch
        {
            "api.Reconciliation_ImportBegin" => (
                "EXEC api.Reconciliation_ImportBegin @FileName = N'other.csv', @FileSha256 = 0x01, @TotalRows = 0, @TotalPairs = 0, @ImportedBy = NULL, @LockTimeoutMs = 1000;",
                Array.Empty<(string, object?)>()),
            "api.Reconciliation_ImportBatch" => (
                "DECLARE @Rows dbmerge.ReconciliationImportRowList; EXEC api.Reconciliation_ImportBatch @ImportId = @Import, @Rows = @Rows, @DryRun = 0, @LockTimeoutMs = 1000;",
                new (string, object?)[] { ("@Import", import.Import!.ImportId) }),
            "api.Reconciliation_ImportFinish" => (
                "EXEC api.Reconciliation_ImportFinish @ImportId = @Import, @LockTimeoutMs = 1000;",
                new (string, object?)[] { ("@Import", import.Import!.ImportId) }),
            "api.Reconciliation_Confirm" => (
                "EXEC api.Reconciliation_Confirm @Token = @Token;",
                new (string, object?)[] { ("@Token", activeToken) }),
            "api.Reconciliation_Process" => (
                "EXEC api.Reconciliation_Process @RequestId = @Request, @ClaimId = @Claim, @DryRun = 0, @LockTimeoutMs = 1000, @RequestedBy = NULL;",
                new (string, object?)[] { ("@Request", request), ("@Claim", claim) }),
            "dbmerge.Reconciliation_ProcessOne" => (
                "EXEC dbmerge.Reconciliation_ProcessOne @RequestId = @Request, @ClaimId = @Claim, @DryRun = 0, @LockTimeoutMs = 1000, @MaxDurationMs = 300000, @RequestedBy = NULL;",
                new (string, object?)[] { ("@Request", request), ("@Claim", claim) }),
            _ => throw new ArgumentOutOfRangeException(nameof(procedure), procedure, "not a reconciliation procedure"),
        };

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, 51501, procedure, call, Snapshot, parameters);
    }
}
