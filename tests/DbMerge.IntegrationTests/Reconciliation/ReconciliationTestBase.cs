using System.Text;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.UserMerge;
using DbMerge.Runner.Reconciliation;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>
/// The small example every reconciliation test walks through (README, "Reconciliation requests"):
/// Ada (ada@example.org) also holds ada.lovelace@old.example; Grace (grace@example.org) also holds
/// g.hopper@old.example and grace.h@legacy.example; Linus (linus@example.org) also holds linus@old.example, and both of
/// his enrollments in "Analytical Engines" hold a final qualification — his merge is refused (51106).
/// </summary>
public abstract class ReconciliationTestBase(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    public const string AdaEmail = "ada@example.org";
    public const string AdaOldEmail = "ada.lovelace@old.example";
    public const string GraceEmail = "grace@example.org";
    public const string GraceOldEmail = "g.hopper@old.example";
    public const string GraceLegacyEmail = "grace.h@legacy.example";
    public const string LinusEmail = "linus@example.org";
    public const string LinusOldEmail = "linus@old.example";

    /// <summary>The README's CSV with Linus added: 3 lines, 4 pairs.</summary>
    public const string ExampleCsv =
        "id,active_email,inactive_email\n" +
        "A-1,ada@example.org,ada.lovelace@old.example\n" +
        "A-2,\"grace@example.org\",\"g.hopper@old.example|grace.h@legacy.example\"\n" +
        "A-3,linus@example.org,linus@old.example\n";

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal MergeSeed Seed => new(ConnectionString);

    /// <summary>The users of the example (ids).</summary>
    protected sealed record World(int Ada, int AdaOld, int Grace, int GraceOld, int GraceLegacy, int Linus, int LinusOld, int Course);

    protected async Task<World> GivenTheWorldAsync()
    {
        var ada = await Seed.UserAsync(AdaEmail);
        var adaOld = await Seed.UserAsync(AdaOldEmail);
        var grace = await Seed.UserAsync(GraceEmail);
        var graceOld = await Seed.UserAsync(GraceOldEmail);
        var graceLegacy = await Seed.UserAsync(GraceLegacyEmail, active: false);
        var linus = await Seed.UserAsync(LinusEmail);
        var linusOld = await Seed.UserAsync(LinusOldEmail);

        // Something to move for Ada and Grace, so a done merge has rows to show.
        var document = await Seed.DocumentAsync("0000001", adaOld);
        await Seed.AccessAsync(document, adaOld, "owner");
        await Seed.FavoriteAsync(document, graceOld);

        // Linus: both enrollments of one course hold a final qualification (the merge core refuses: 51106).
        var course = await Seed.CourseAsync("Analytical Engines");
        await Seed.FinalQualificationAsync(await Seed.EnrollmentAsync(course, linus), "A");
        await Seed.FinalQualificationAsync(await Seed.EnrollmentAsync(course, linusOld), "B");
        return new World(ada, adaOld, grace, graceOld, graceLegacy, linus, linusOld, course);
    }

    internal static ReconciliationCsvFile Csv(string text, string name = "accounts.csv") =>
        ReconciliationCsv.Parse(name, Encoding.UTF8.GetBytes(text));

    internal Task<ReconciliationImportReport> ImportAsync(string text, bool dryRun = false, int batchSize = ReconciliationImporter.DefaultBatchSize,
        string name = "accounts.csv") =>
        ImportAsync(Csv(text, name), dryRun, batchSize);

    internal async Task<ReconciliationImportReport> ImportAsync(ReconciliationCsvFile file, bool dryRun = false,
        int batchSize = ReconciliationImporter.DefaultBatchSize)
    {
        var report = await new ReconciliationImporter(Client).ImportAsync(file, dryRun, batchSize, "tests", null, Ct);
        foreach (var p in report.Pairs)
        {
            Output.WriteLine($"line {p.Row.LineNumber} pair {p.Row.PairNumber} {p.Row.SourceId} {p.Row.InactiveEmail} -> {p.Row.ActiveEmail}: {p.Outcome} {p.Reason} (request {p.RequestId}, recorded {p.WasRecorded})");
        }

        return report;
    }

    internal static ImportedPair Outcome(ReconciliationImportReport report, int line, int pair = 1) =>
        Assert.Single(report.Pairs, p => p.Row.LineNumber == line && p.Row.PairNumber == pair);

    /// <summary>A confirmation event as the outbox holds it (payload parsed).</summary>
    protected sealed record ConfirmEvent(long OutboxId, string DedupeKey, int RequestId, string Side, string Email, string? Token, string? ConfirmUrl, DateTime? DispatchedAt);

    protected async Task<IReadOnlyList<ConfirmEvent>> ConfirmEventsAsync()
    {
        var rows = await RowsAsync("SELECT OutboxId, DedupeKey, Payload, DispatchedAt FROM dbmerge.Outbox WHERE EventType = 'reconciliation.confirm' ORDER BY OutboxId;");
        return rows.Select(r =>
        {
            using var payload = JsonDocument.Parse((string)r["Payload"]!);
            var root = payload.RootElement;
            var secret = root.TryGetProperty("secret", out var s) ? s : (JsonElement?)null;
            return new ConfirmEvent((long)r["OutboxId"]!, (string)r["DedupeKey"]!, root.GetProperty("requestId").GetInt32(), root.GetProperty("side").GetString()!,
                root.GetProperty("email").GetString()!, secret?.GetProperty("token").GetString(), secret?.GetProperty("confirmUrl").GetString(),
                r["DispatchedAt"] as DateTime?);
        }).ToList();
    }

    protected async Task<string> TokenAsync(int requestId, string side) =>
        (await ConfirmEventsAsync()).Single(e => e.RequestId == requestId && e.Side == side).Token
        ?? throw new InvalidOperationException($"the token of request {requestId} ({side}) was already erased");

    protected async Task ConfirmBothAsync(int requestId)
    {
        await Client.ConfirmReconciliationAsync(await TokenAsync(requestId, "active"), Ct);
        await Client.ConfirmReconciliationAsync(await TokenAsync(requestId, "inactive"), Ct);
    }

    protected async Task<string> StatusAsync(int requestId) =>
        (await ScalarAsync<string>("SELECT Status FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", requestId)))!;

    /// <summary>Every row of the reconciliation tables, the outbox, the merge history and the users, one string each.</summary>
    protected async Task<List<string>> SnapshotAsync()
    {
        var rows = await RowsAsync("""
            SELECT CONCAT('import ', ImportId, ' ', FileName, ' ', CONVERT(varchar(64), FileSha256, 2), ' ', CompletedAt, ' ', CreatedCount, '/', DuplicateCount, '/', ConflictCount, '/', ErrorCount) AS R FROM dbmerge.ReconciliationImport
            UNION ALL SELECT CONCAT('row ', ImportId, ':', LineNumber, ':', PairNumber, ' ', Outcome, ' ', RequestId, ' ', Reason) FROM dbmerge.ReconciliationImportRow
            UNION ALL SELECT CONCAT('request ', RequestId, ' ', Status, ' ', PreviousStatus, ' ', StatusChangedAt, ' ', ActiveConfirmedAt, ' ', InactiveConfirmedAt, ' ', ClaimId, ' ', Attempts, ' ', MergeRunId, ' ', ErrorNumber) FROM dbmerge.ReconciliationRequest
            UNION ALL SELECT CONCAT('token ', RequestId, ' ', Side, ' ', CONVERT(varchar(64), TokenHash, 2), ' ', UsedAt) FROM dbmerge.ReconciliationToken
            UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType, ' ', DedupeKey, ' ', ClaimedAt, ' ', Attempts, ' ', DispatchedAt, ' ', Payload) FROM dbmerge.Outbox
            UNION ALL SELECT CONCAT('run ', MergeRunId, ' ', Status, ' ', ErrorNumber) FROM dbmerge.MergeRun
            UNION ALL SELECT CONCAT('user ', UserId, ' ', IsActive, ' ', MergedIntoUserId) FROM app.[User]
            ORDER BY R;
            """);
        return rows.Select(r => (string)r["R"]!).ToList();
    }

    protected void AssertSameSnapshot(List<string> before, List<string> after)
    {
        Assert.NotEmpty(before);
        foreach (var line in after.Except(before))
        {
            Output.WriteLine($"+ {line}");
        }

        foreach (var line in before.Except(after))
        {
            Output.WriteLine($"- {line}");
        }

        Assert.Equal(before, after);
    }

    internal async Task<ReconciliationProcessReport> ProcessAsync(bool retryErrors = false, bool dryRun = false, int? max = null, DbMergeClient? client = null,
        TimeSpan? lockTimeout = null)
    {
        var report = await new ReconciliationProcessor(client ?? Client).RunAsync(
            new ReconciliationProcessor.Options(max, dryRun, retryErrors, lockTimeout ?? TimeSpan.FromSeconds(30), "tests"), r =>
                Output.WriteLine($"request {r.RequestId}: {(r.Succeeded ? $"done, run {r.Result!.MergeRunId}" : $"error {r.ErrorNumber}: {r.ErrorMessage}")}"),
            Ct);
        return report;
    }

    /// <summary>
    /// Gives this test its own database with READ_COMMITTED_SNAPSHOT ON (the Azure SQL Database default: plain reads see
    /// row versions and do not wait), or leaves it on its class's database (locking READ COMMITTED).
    /// </summary>
    protected async Task GivenReadCommittedSnapshotAsync(bool on, [System.Runtime.CompilerServices.CallerMemberName] string prefix = "")
    {
        if (!on)
        {
            return;
        }

        await UseOwnDatabaseAsync(prefix); // changes a database option
        await ExecAsync($"ALTER DATABASE [{DatabaseName}] SET READ_COMMITTED_SNAPSHOT ON WITH ROLLBACK IMMEDIATE;");
        Microsoft.Data.SqlClient.SqlConnection.ClearAllPools(); // ROLLBACK IMMEDIATE ended the pooled sessions of this database
        Assert.True(await ScalarAsync<bool>("SELECT is_read_committed_snapshot_on FROM sys.databases WHERE database_id = DB_ID();"));
    }

    protected async Task<DbMergeException> RefusedAsync(int expectedNumber, Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(call);
        Output.WriteLine($"error {error.ErrorNumber}: {error.Message}");
        Assert.Equal(expectedNumber, error.ErrorNumber);
        return error;
    }

    /// <summary>Creates (once per database) a user with only DbMergeApp, for calls as the application.</summary>
    protected async Task<string> ApplicationUserAsync()
    {
        await ExecAsync("""
            IF USER_ID(N'dbmerge_reconciliation_app') IS NULL
            BEGIN
                CREATE USER dbmerge_reconciliation_app WITHOUT LOGIN;
                ALTER ROLE DbMergeApp ADD MEMBER dbmerge_reconciliation_app;
            END;
            """);
        return "dbmerge_reconciliation_app";
    }
}
