using System.Security.Cryptography;
using System.Text;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner.Reconciliation;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>Import: requests, tokens and confirmation events; every server outcome; repeated, interrupted and dry imports.</summary>
public sealed class ReconciliationImportTests(SqlServerFixture fixture, ITestOutputHelper output) : ReconciliationTestBase(fixture, output)
{
    [Fact]
    public async Task Importing_the_example_creates_one_request_per_pair_and_two_confirmation_events_with_distinct_tokens_stored_only_as_hashes()
    {
        // Given the example's users
        var w = await GivenTheWorldAsync();

        // When the example CSV is imported
        var report = await ImportAsync(ExampleCsv);

        // Then every pair is created, as one import with its counts
        Assert.Equal(4, report.Pairs.Count);
        Assert.All(report.Pairs, p => Assert.Equal(ReconciliationOutcomes.Created, p.Outcome));
        var import = Assert.IsType<ReconciliationImport>(report.Import);
        Assert.True(import.IsNew);
        Assert.True(import.IsCompleted);
        Assert.Equal((3, 4, 4, 0, 0, 0), (import.TotalRows, import.TotalPairs, import.CreatedCount, import.DuplicateCount, import.ConflictCount, import.ErrorCount));
        Assert.Equal(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(ExampleCsv))), Convert.ToHexString(import.FileSha256));
        var requests = await RowsAsync("SELECT RequestId, SourceId, ActiveUserId, InactiveUserId, Status, PreviousStatus, DATEDIFF(DAY, CreatedAt, ExpiresAt) AS Days FROM dbmerge.ReconciliationRequest ORDER BY RequestId;");
        Dump("requests", requests);
        Assert.Equal(
            [("A-1", w.Ada, w.AdaOld), ("A-2", w.Grace, w.GraceOld), ("A-2", w.Grace, w.GraceLegacy), ("A-3", w.Linus, w.LinusOld)],
            requests.Select(r => ((string)r["SourceId"]!, (int)r["ActiveUserId"]!, (int)r["InactiveUserId"]!)));
        Assert.All(requests, r => Assert.Equal(("pending-confirmation", null, 14), ((string)r["Status"]!, r["PreviousStatus"], (int)r["Days"]!)));

        // And two confirmation events per request, one per address, each with its own token and link
        var events = await ConfirmEventsAsync();
        Assert.Equal(8, events.Count);
        foreach (var request in requests.Select(r => (int)r["RequestId"]!))
        {
            var mine = events.Where(e => e.RequestId == request).OrderBy(e => e.Side, StringComparer.Ordinal).ToList();
            Assert.Equal(["active", "inactive"], mine.Select(e => e.Side));
            Assert.Equal($"reconciliation.confirm:{request}:active", mine[0].DedupeKey);
        }

        var tokens = events.Select(e => e.Token!).ToList();
        Assert.All(tokens, t => Assert.Matches("^[0-9a-f]{64}$", t));
        Assert.Equal(8, tokens.Distinct(StringComparer.Ordinal).Count());
        Assert.All(events, e => Assert.Equal($"https://dbmerge.invalid/reconciliations/confirm?token={e.Token}", e.ConfirmUrl));
        Assert.Equal(AdaOldEmail, events.Single(e => e.RequestId == requests[0]["RequestId"] as int? && e.Side == "inactive").Email);

        // And only the SHA-256 of each token is stored; no table but the outbox holds the token itself
        var hashes = await RowsAsync("SELECT CONVERT(varchar(64), TokenHash, 2) AS H FROM dbmerge.ReconciliationToken;");
        Assert.Equal(
            tokens.Select(t => Convert.ToHexString(SHA256.HashData(Convert.FromHexString(t)))).Order(StringComparer.Ordinal),
            hashes.Select(h => (string)h["H"]!).Order(StringComparer.Ordinal));
        foreach (var token in tokens)
        {
            Assert.Equal(0, await ScalarAsync<int>("""
                SELECT (SELECT COUNT(*) FROM dbmerge.ReconciliationRequest WHERE CONCAT(SourceId, ActiveEmail, InactiveEmail, ErrorMessage, ClaimedBy) LIKE N'%' + @t + N'%')
                     + (SELECT COUNT(*) FROM dbmerge.ReconciliationImportRow WHERE CONCAT(SourceId, ActiveEmail, InactiveEmail, Reason) LIKE N'%' + @t + N'%')
                     + (SELECT COUNT(*) FROM dbmerge.MergeRun WHERE CONCAT(Reason, ErrorMessage, SummaryJson) LIKE N'%' + @t + N'%');
                """, ("@t", token)));
        }
    }

    [Fact]
    public async Task Every_outcome_the_database_decides_is_reported_with_its_reason_and_only_created_rows_write()
    {
        // Given the example, and the accounts the error cases need
        var w = await GivenTheWorldAsync();
        var merged = await Seed.UserAsync("merged.away@old.example", active: false, mergedInto: w.Ada);
        await Seed.UserAsync("twice@old.example");
        await Seed.UserAsync("twice@old.example", active: false);
        await ImportAsync(ExampleCsv, name: "first.csv");
        var before = await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationRequest;");

        // When a second file repeats, contradicts and adds rows (no two of its lines share an id or an address, so
        // every decision below is the server's, against what the first import recorded)
        var report = await ImportAsync(
            "id,active_email,inactive_email\n" +
            "A-1,ada@example.org,ada.lovelace@old.example\n" +        // 2: the same id and pair: duplicate
            "A-3,grace@example.org,someone@old.example\n" +           // 3: the id was imported with another active address: conflict
            "B-1,grace@example.org,g.hopper@old.example\n" +          // 4: the same pair under another id: error
            "B-2,nobody@example.org,x1@old.example\n" +               // 5: no active user: error
            "B-3,ada@example.org,nobody@old.example\n" +              // 6: no user at all: error
            "B-4,ada@example.org,merged.away@old.example\n" +         // 7: only a merged account: error
            "B-5,ada@example.org,twice@old.example\n" +               // 8: two unmerged accounts: error
            "B-6,grace@example.org,linus@old.example\n" +             // 9: the inactive account is in another open request: error
            "A-1,ada@example.org,new.address@old.example\n",          // 10: the id's own active address, a new inactive one: no such user
            name: "second.csv");

        // Then each row has the server's outcome and reason (the runner decided none of them)
        Assert.Equal(ReconciliationOutcomes.Duplicate, Outcome(report, 2).Outcome);
        Assert.StartsWith("already imported as request", Outcome(report, 2).Reason, StringComparison.Ordinal);
        Assert.Equal(ReconciliationOutcomes.Conflict, Outcome(report, 3).Outcome);
        Assert.StartsWith("id A-3 was imported with active_email linus@example.org (request", Outcome(report, 3).Reason, StringComparison.Ordinal);
        Assert.Equal(ReconciliationOutcomes.Error, Outcome(report, 4).Outcome);
        Assert.StartsWith("the pair is already requested under id A-2 (request", Outcome(report, 4).Reason, StringComparison.Ordinal);
        Assert.Equal("active_email matches no active user", Outcome(report, 5).Reason);
        Assert.Equal("inactive_email matches no user", Outcome(report, 6).Reason);
        Assert.Equal($"the inactive account is already merged (user {merged} into user {w.Ada})", Outcome(report, 7).Reason);
        Assert.Equal("inactive_email matches 2 accounts that are not merged; merge them by hand first", Outcome(report, 8).Reason);
        Assert.StartsWith("the inactive account is already in open request", Outcome(report, 9).Reason, StringComparison.Ordinal);
        Assert.EndsWith($"(id A-3, into user {w.Linus})", Outcome(report, 9).Reason, StringComparison.Ordinal);
        Assert.Equal("inactive_email matches no user", Outcome(report, 10).Reason);
        Assert.All(report.Pairs, p => Assert.Null(p.Row.ClientOutcome));

        // And nothing was created; the import records every outcome
        Assert.Equal(before, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationRequest;"));
        var import = report.Import!;
        Assert.Equal((0, 1, 1, 7), (import.CreatedCount, import.DuplicateCount, import.ConflictCount, import.ErrorCount));
        Assert.Equal(9, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationImportRow WHERE ImportId = @i;", ("@i", import.ImportId)));
    }

    [Fact]
    public async Task A_fixed_rejected_row_imported_again_creates_its_request()
    {
        // Given an import whose row named an account that did not exist yet
        await GivenTheWorldAsync();
        var first = await ImportAsync("id,active_email,inactive_email\nA-9,ada@example.org,ada.second@old.example\n", name: "first.csv");
        Assert.Equal("inactive_email matches no user", Outcome(first, 2).Reason);

        // When the account exists and the rejected-rows file (with its reason and line columns) is imported
        await Seed.UserAsync("ada.second@old.example");
        var again = await ImportAsync("id,active_email,inactive_email,reason,line\nA-9,ada@example.org,ada.second@old.example,inactive_email matches no user,2\n", name: "rejected.csv");

        // Then the request is created
        Assert.Equal(ReconciliationOutcomes.Created, Outcome(again, 2).Outcome);
        Assert.NotNull(Outcome(again, 2).RequestId);
    }

    [Fact]
    public async Task Re_importing_the_same_file_changes_nothing_and_returns_the_recorded_outcomes()
    {
        // Given the example imported once
        await GivenTheWorldAsync();
        var first = await ImportAsync(ExampleCsv);
        var before = await SnapshotAsync();

        // When the same bytes are imported again (under another file name)
        var again = await ImportAsync(ExampleCsv, name: "copy-of-accounts.csv");

        // Then it is the same import, every outcome is the recorded one, and no row changed
        Assert.True(again.AlreadyImported);
        Assert.Equal(first.Import!.ImportId, again.Import!.ImportId);
        Assert.False(again.Import.IsNew);
        Assert.Equal(4, again.Pairs.Count);
        Assert.All(again.Pairs, p => Assert.True(p.WasRecorded));
        Assert.Equal(first.Pairs.Select(p => (p.Outcome, p.RequestId)), again.Pairs.Select(p => (p.Outcome, p.RequestId)));
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_import_stopped_between_batches_is_resumed_by_importing_the_file_again_and_counts_each_pair_once()
    {
        // Given the example, imported one pair per batch and stopped after the first batch
        await GivenTheWorldAsync();
        using var stop = new CancellationTokenSource();
        var importer = new ReconciliationImporter(Client);
        var file = Csv(ExampleCsv);
        var progress = new StopAfterFirstBatch(stop);
        var stopped = await importer.ImportAsync(file, false, 1, "tests", progress, stop.Token);
        Assert.True(stopped.Stopped);
        Assert.Single(stopped.Pairs);
        Assert.Null(stopped.Import!.CompletedAt);

        // When the same file is imported again
        var resumed = await ImportAsync(file, batchSize: 1);

        // Then the recorded pair keeps its outcome, the others are decided now, and the import completes with 4 created
        Assert.True(Outcome(resumed, 2).WasRecorded);
        Assert.Equal(4, resumed.Pairs.Count);
        Assert.Equal(3, resumed.Pairs.Count(p => p.Row.LineNumber > 2));
        Assert.All(resumed.Pairs.Where(p => p.Row.LineNumber > 2), p => Assert.False(p.WasRecorded));
        Assert.All(resumed.Pairs, p => Assert.Equal(ReconciliationOutcomes.Created, p.Outcome));
        Assert.True(resumed.Import!.IsCompleted);
        Assert.Equal(4, resumed.Import.CreatedCount);
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationRequest;"));
        Assert.Equal(8, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'reconciliation.confirm';"));
    }

    [Fact]
    public async Task A_dry_run_decides_the_same_outcomes_and_writes_nothing()
    {
        // Given the example's users
        await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        // When the example is imported as a dry run
        var report = await ImportAsync(ExampleCsv, dryRun: true);

        // Then every pair would be created, and no import, request, token, row or event exists
        Assert.Equal(4, report.Pairs.Count);
        Assert.All(report.Pairs, p => Assert.Equal((ReconciliationOutcomes.Created, (int?)null), (p.Outcome, p.RequestId)));
        Assert.Null(report.Import);
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_batch_that_is_not_from_the_recorded_file_is_refused_and_changes_nothing()
    {
        // Given a completed import of the example
        await GivenTheWorldAsync();
        var import = (await ImportAsync(ExampleCsv)).Import!;
        var before = await SnapshotAsync();

        // When a line it never recorded is sent to it, then 51504 and nothing changed
        await RefusedAsync(ErrorRegistry.ReconciliationImportMismatch, () => Client.ImportReconciliationBatchAsync(import.ImportId,
            [new ReconciliationImportRow(99, 1, "Z-1", AdaEmail, "zed@old.example")], dryRun: false, cancellationToken: Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationImportMismatch, () => Client.BeginReconciliationImportAsync(
            "accounts.csv", import.FileSha256, 3, 5, "tests", cancellationToken: Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationImportNotFound, () => Client.FinishReconciliationImportAsync(int.MaxValue, cancellationToken: Ct));
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_import_waits_for_another_import_and_gives_up_after_its_lock_timeout_with_51506()
    {
        // Given another session holding the import applock
        await GivenTheWorldAsync();
        // (its own, unpooled connection: a session applock must never go back to the pool)
        await using var holder = new SqlConnection(new SqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await holder.OpenAsync(Ct);
        await using (var hold = new SqlCommand("DECLARE @r int; EXEC @r = sys.sp_getapplock @Resource = N'DbMerge.ReconciliationImport', @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @r;", holder))
        {
            Assert.True((int)(await hold.ExecuteScalarAsync(Ct))! >= 0);
        }

        try
        {
            // When an import starts, then it is refused after its lock timeout and creates nothing
            var file = Csv(ExampleCsv);
            await RefusedAsync(ErrorRegistry.ReconciliationImportLockTimeout, () => Client.BeginReconciliationImportAsync(
                file.FileName, file.Sha256, file.RowCount, file.Pairs.Count, "tests", TimeSpan.FromMilliseconds(200), Ct));
            Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationImport;"));
        }
        finally
        {
            await using var release = new SqlCommand("EXEC sys.sp_releaseapplock @Resource = N'DbMerge.ReconciliationImport', @LockOwner = N'Session';", holder);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task Importing_is_operator_only_and_an_application_login_is_refused_with_51500()
    {
        // Given a database user that only has DbMergeApp
        await UseOwnDatabaseAsync();
        await GivenTheWorldAsync();
        var user = await ApplicationUserAsync();

        // When it tries to start an import or list requests, then 51500
        foreach (var call in new[]
                 {
                     "EXEC api.Reconciliation_ImportBegin @FileName = N'x.csv', @FileSha256 = 0x00, @TotalRows = 0, @TotalPairs = 0;",
                     "EXEC api.Reconciliation_List @Status = NULL, @ImportId = NULL, @AfterRequestId = 0, @Top = 10;",
                     "EXEC api.Reconciliation_Claim @RetryErrors = 0, @RetryErrorsBefore = NULL, @ClaimedBy = NULL;",
                 })
        {
            var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync($"EXECUTE AS USER = N'{user}'; {call}"));
            Output.WriteLine(error.Message);
            Assert.Equal(ErrorRegistry.ReconciliationNotOperator, error.Number);
        }
    }

    [Fact]
    public async Task One_hundred_thousand_rows_import_in_batches_without_a_lock_escalation()
    {
        // Given 100,000 people with two accounts each (seeded set-based)
        await UseOwnDatabaseAsync();
        await ExecAsync("""
            WITH n AS (SELECT TOP (100000) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b)
            INSERT INTO app.[User] (Email, DisplayName)
            SELECT CONCAT(N'person', n.i, N'@example.org'), NULL FROM n
            UNION ALL
            SELECT CONCAT(N'person', n.i, N'@old.example'), NULL FROM n;
            """);
        var csv = new StringBuilder("id,active_email,inactive_email\n");
        for (var i = 1; i <= 100_000; i++)
        {
            csv.Append("P-").Append(i).Append(",person").Append(i).Append("@example.org,person").Append(i).Append("@old.example\n");
        }

        // When the file is imported
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var report = await new ReconciliationImporter(Client).ImportAsync(Csv(csv.ToString(), "hundred-thousand.csv"), false,
            ReconciliationImporter.DefaultBatchSize, "tests", null, Ct);
        Output.WriteLine($"imported 100,000 rows in {clock.Elapsed.TotalSeconds:F1} s");

        // Then every row is created, and no statement escalated to a table lock
        Assert.Equal(100_000, report.Import!.CreatedCount);
        Assert.Equal(200_000, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'reconciliation.confirm';"));
        var escalations = await RowsAsync("""
            SELECT OBJECT_NAME(s.object_id) AS TableName, SUM(s.index_lock_promotion_count) AS Escalations
            FROM sys.dm_db_index_operational_stats(DB_ID(), NULL, NULL, NULL) AS s
            WHERE s.object_id IN (OBJECT_ID(N'dbmerge.Outbox'), OBJECT_ID(N'dbmerge.ReconciliationRequest'), OBJECT_ID(N'dbmerge.ReconciliationToken'), OBJECT_ID(N'dbmerge.ReconciliationImportRow'))
            GROUP BY s.object_id;
            """);
        Dump("lock escalations", escalations);
        Assert.Equal(4, escalations.Count);
        Assert.All(escalations, e => Assert.Equal(0L, Convert.ToInt64(e["Escalations"], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task The_server_and_the_client_judge_e_mail_addresses_alike()
    {
        string[] samples =
        [
            "ada@example.org", "a@b.c", "jos\u00e9@example.org", "a@", "@example.org", "ada.example.org", "ada@@example.org", "ada@example",
            "ada@.example.org", "ada@example.org.", "ada@example..org", "ada lovelace@example.org", "ada\t@example.org", "ada,b@example.org",
            "ada;b@example.org", "ada:b@example.org", "<ada@example.org>", "ada(x)@example.org", "[ada]@example.org", "ada\\b@example.org",
            "\"ada\"@example.org", "ada|b@example.org", "ab", "ada\u007f@example.org", "ada@example.org ",
        ];
        foreach (var sample in samples)
        {
            var server = await ScalarAsync<bool>("SELECT v.IsValid FROM dbmerge.Email_Validate(@e) AS v;", ("@e", sample));
            Assert.True(server == ReconciliationEmail.IsValid(sample), $"'{sample}': server {server}, client {ReconciliationEmail.IsValid(sample)}");
        }
    }

    /// <summary>Requests a stop once the first batch is done (the importer checks between batches).</summary>
    private sealed class StopAfterFirstBatch(CancellationTokenSource stop) : DbMerge.Runner.Cli.IProgressTask
    {
        public void Update(double value, double total, string? status = null)
        {
            if (value >= 1)
            {
                stop.Cancel();
            }
        }

        public void Complete(string status)
        {
        }
    }
}
