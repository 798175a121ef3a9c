using System.Text;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>
/// Processing: each ready request merged in its own transaction through the merge core; one failure never affects
/// another; retries; two processors at once; abandoned claims; expiry; dry runs; cancellation.
/// </summary>
public sealed class ReconciliationProcessTests(SqlServerFixture fixture, ITestOutputHelper output) : ReconciliationTestBase(fixture, output)
{
    /// <summary>The example imported and every request confirmed on both sides: Ada, Grace (two), Linus.</summary>
    private async Task<(World World, int Ada, int GraceOld, int GraceLegacy, int Linus)> GivenEveryRequestReadyAsync()
    {
        var w = await GivenTheWorldAsync();
        var report = await ImportAsync(ExampleCsv);
        var ids = (Outcome(report, 2).RequestId!.Value, Outcome(report, 3, 1).RequestId!.Value, Outcome(report, 3, 2).RequestId!.Value, Outcome(report, 4).RequestId!.Value);
        foreach (var id in new[] { ids.Item1, ids.Item2, ids.Item3, ids.Item4 })
        {
            await ConfirmBothAsync(id);
        }

        return (w, ids.Item1, ids.Item2, ids.Item3, ids.Item4);
    }

    [Fact]
    public async Task A_batch_where_one_request_has_a_refused_collision_merges_the_others_and_records_each_outcome_with_its_run()
    {
        // Given four ready requests; Linus's enrollments both hold a final qualification
        var (w, ada, graceOld, graceLegacy, linus) = await GivenEveryRequestReadyAsync();

        // When they are processed
        var report = await ProcessAsync();

        // Then three are done and Linus's is in error with the merge core's number, in one run
        Assert.Equal((3, 1), (report.Done, report.Failed));
        var rows = await RowsAsync("""
            SELECT r.RequestId, r.Status, r.PreviousStatus, r.Attempts, r.MergeRunId, r.ErrorNumber, r.ErrorMessage, m.Status AS RunStatus, m.Reason, m.ErrorNumber AS RunError,
                   m.SourceUserId, m.TargetUserId
            FROM dbmerge.ReconciliationRequest AS r LEFT JOIN dbmerge.MergeRun AS m ON m.MergeRunId = r.MergeRunId ORDER BY r.RequestId;
            """);
        Dump("requests and their runs", rows);
        var byId = rows.ToDictionary(r => (int)r["RequestId"]!);
        foreach (var (id, source, target) in new[] { (ada, w.AdaOld, w.Ada), (graceOld, w.GraceOld, w.Grace), (graceLegacy, w.GraceLegacy, w.Grace) })
        {
            var r = byId[id];
            Assert.Equal(("done", "processing", 1, "committed", $"reconciliation request {id}"), ((string)r["Status"]!, (string)r["PreviousStatus"]!, (int)r["Attempts"]!, (string)r["RunStatus"]!, (string)r["Reason"]!));
            Assert.Equal((source, target), ((int)r["SourceUserId"]!, (int)r["TargetUserId"]!));
            Assert.Null(r["ErrorNumber"]);
        }

        var failed = byId[linus];
        Assert.Equal(("error", ErrorRegistry.MergeRefusedCollision, "refused", ErrorRegistry.MergeRefusedCollision),
            ((string)failed["Status"]!, (int)failed["ErrorNumber"]!, (string)failed["RunStatus"]!, (int)failed["RunError"]!));
        Assert.Contains("both source enrollment", (string)failed["ErrorMessage"]!, StringComparison.Ordinal);
        Assert.Equal(4, rows.Select(r => r["MergeRunId"]).Distinct().Count());

        // And the merges happened (and Linus's did not)
        var users = (await RowsAsync("SELECT UserId, IsActive, MergedIntoUserId FROM app.[User];")).ToDictionary(u => (int)u["UserId"]!);
        Assert.Equal(w.Ada, users[w.AdaOld]["MergedIntoUserId"]);
        Assert.Equal(w.Grace, users[w.GraceOld]["MergedIntoUserId"]);
        Assert.Equal(w.Grace, users[w.GraceLegacy]["MergedIntoUserId"]);
        Assert.Null(users[w.LinusOld]["MergedIntoUserId"]);
        Assert.Equal(true, users[w.LinusOld]["IsActive"]);
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Enrollment WHERE CourseId = @c;", ("@c", w.Course)));

        // And each done request told both its addresses, with its run
        var done = await RowsAsync("SELECT DedupeKey, Payload FROM dbmerge.Outbox WHERE EventType = 'reconciliation.done' ORDER BY DedupeKey;");
        Assert.Equal(6, done.Count);
        foreach (var e in done)
        {
            using var payload = JsonDocument.Parse((string)e["Payload"]!);
            var request = payload.RootElement.GetProperty("requestId").GetInt32();
            Assert.NotEqual(linus, request);
            Assert.Equal((long)byId[request]["MergeRunId"]!, payload.RootElement.GetProperty("mergeRunId").GetInt64());
            Assert.Equal($"reconciliation.done:{request}:{payload.RootElement.GetProperty("side").GetString()}", (string)e["DedupeKey"]!);
        }
    }

    [Fact]
    public async Task A_failed_request_is_retried_only_with_retry_errors_and_succeeds_once_its_cause_is_fixed()
    {
        // Given Linus's request in error after a run
        var (w, _, _, _, linus) = await GivenEveryRequestReadyAsync();
        await ProcessAsync();
        Assert.Equal("error", await StatusAsync(linus));

        // When processing runs again without --retry-errors, then nothing is tried
        var again = await ProcessAsync();
        Assert.Empty(again.Requests);
        Assert.Equal("error", await StatusAsync(linus));

        // When the collision is resolved by hand and the errors are retried
        await ExecAsync("DELETE fq FROM app.FinalQualification AS fq JOIN app.Enrollment AS e ON e.EnrollmentId = fq.EnrollmentId WHERE e.UserId = @u;", ("@u", w.LinusOld));
        var retry = await ProcessAsync(retryErrors: true);

        // Then it is done, with a new run, after its second attempt
        var processed = Assert.Single(retry.Requests);
        Assert.True(processed.IsRetry);
        Assert.True(processed.Succeeded);
        var row = (await RowsAsync("SELECT Status, PreviousStatus, Attempts, MergeRunId, ErrorNumber FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", linus))).Single();
        Assert.Equal(("done", "processing", 2, processed.Result!.MergeRunId), ((string)row["Status"]!, (string)row["PreviousStatus"]!, (int)row["Attempts"]!, (long)row["MergeRunId"]!));
        Assert.Null(row["ErrorNumber"]);
        Assert.Equal(w.Linus, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.LinusOld)));
    }

    [Fact]
    public async Task A_request_whose_inactive_account_was_merged_meanwhile_ends_in_error_51104_and_the_others_are_done()
    {
        var (w, ada, _, _, _) = await GivenEveryRequestReadyAsync();
        await Client.MergeUsersAsync(w.AdaOld, w.Ada, "merged by hand", "tests", dryRun: false, Ct);

        var report = await ProcessAsync();

        Assert.Equal(ErrorRegistry.MergeSourceAlreadyMerged, report.Requests.Single(r => r.RequestId == ada).ErrorNumber);
        Assert.Equal(2, report.Done);
        Assert.Equal(2, report.Failed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Two_processors_in_parallel_process_every_ready_request_exactly_once_while_both_run(bool readCommittedSnapshot)
    {
        // Given (with READ_COMMITTED_SNAPSHOT as given: the claim must skip and lock rows under row versioning too)
        // twelve ready requests (twelve people with two accounts)
        if (readCommittedSnapshot)
        {
            await GivenReadCommittedSnapshotAsync(true);
        }
        else
        {
            await UseOwnDatabaseAsync();
        }

        var csv = new StringBuilder("id,active_email,inactive_email\n");
        var pairs = new List<(int Active, int Inactive)>();
        for (var i = 1; i <= 12; i++)
        {
            pairs.Add((await Seed.UserAsync($"p{i}@example.org"), await Seed.UserAsync($"p{i}@old.example")));
            csv.Append($"P-{i},p{i}@example.org,p{i}@old.example\n");
        }

        var report = await ImportAsync(csv.ToString());
        var requests = report.Pairs.Select(p => p.RequestId!.Value).ToList();
        Assert.Equal(12, requests.Count);
        foreach (var id in requests)
        {
            await ConfirmBothAsync(id);
        }

        // And another session holding the user lock of the first request's active account (as a long merge would)
        var blocked = pairs[0].Active;
        await using var holder = new SqlConnection(new SqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await holder.OpenAsync(Ct);
        await using (var hold = new SqlCommand(
                         "DECLARE @r int; EXEC @r = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @r;", holder))
        {
            hold.Parameters.AddWithValue("@Resource", $"DbMerge.User:{blocked}");
            Assert.True((int)(await hold.ExecuteScalarAsync(Ct))! >= 0);
        }

        // When two processors run at once (a lock timeout far above the waits below: the blocked merge must outwait them)
        var first = Task.Run(() => ProcessAsync(client: Client, lockTimeout: TimeSpan.FromMinutes(2)), Ct);
        var second = Task.Run(() => ProcessAsync(client: Client, lockTimeout: TimeSpan.FromMinutes(2)), Ct);

        // Then one of them is stuck inside the first request's merge (waiting for the lock), while the other one merges
        // all the eleven others: both were processing at the same time
        await WaitUntilAsync(async () => await ScalarAsync<int>(
                "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND request_status = N'WAIT' AND resource_database_id = DB_ID();") == 1,
            TimeSpan.FromSeconds(20), "a processor waiting for the held user lock");
        await WaitUntilAsync(async () => await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationRequest WHERE Status = 'done';") == 11,
            TimeSpan.FromSeconds(25), "the other processor to merge the eleven other requests");
        Assert.Equal("processing", await StatusAsync(requests[0]));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND request_status = N'WAIT' AND resource_database_id = DB_ID();"));
        Assert.False(first.IsCompleted && second.IsCompleted);

        await using (var release = new SqlCommand("EXEC sys.sp_releaseapplock @Resource = @Resource, @LockOwner = N'Session';", holder))
        {
            release.Parameters.AddWithValue("@Resource", $"DbMerge.User:{blocked}");
            await release.ExecuteNonQueryAsync(Ct);
        }

        var reports = await Task.WhenAll(first, second);

        // And every request was processed exactly once, by exactly one of them, each in its own merge run
        var handled = reports.SelectMany(r => r.Requests).ToList();
        Assert.All(reports, r => Assert.NotEmpty(r.Requests));
        Assert.Equal(requests.Order(), handled.Select(h => h.RequestId).Order());
        Assert.All(handled, h => Assert.True(h.Succeeded, $"request {h.RequestId}: {h.ErrorNumber} {h.ErrorMessage}"));
        var rows = await RowsAsync("SELECT RequestId, Status, Attempts, MergeRunId FROM dbmerge.ReconciliationRequest ORDER BY RequestId;");
        Assert.All(rows, r => Assert.Equal(("done", 1), ((string)r["Status"]!, (int)r["Attempts"]!)));
        Assert.Equal(12, rows.Select(r => r["MergeRunId"]).Distinct().Count());
        Assert.Equal(12, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE Status = 'committed' AND Reason LIKE N'reconciliation request %';"));
        Assert.Equal(12, await ScalarAsync<int>("SELECT COUNT(*) FROM app.[User] WHERE MergedIntoUserId IS NOT NULL;"));
    }

    [Fact]
    public async Task An_abandoned_claim_is_recorded_as_error_51522_its_late_merge_is_refused_and_a_retry_merges_it()
    {
        // Given Ada's request claimed by a processor that then died (its claim is older than the claim timeout)
        var (w, ada, _, _, _) = await GivenEveryRequestReadyAsync();
        var claim = await Client.ClaimReconciliationAsync(false, null, "a processor that dies", Ct);
        Assert.Equal(ada, claim.Claimed!.RequestId);
        await ExecAsync("UPDATE dbmerge.ReconciliationRequest SET ClaimedAt = DATEADD(MINUTE, -31, ClaimedAt) WHERE RequestId = @r;", ("@r", ada));

        // When the next processor claims
        var next = await Client.ClaimReconciliationAsync(false, null, "the next processor", Ct);

        // Then the abandoned claim is recorded as error 51522, and it claims another request
        Assert.Equal(1, next.AbandonedCount);
        Assert.NotEqual(ada, next.Claimed!.RequestId);
        var row = (await RowsAsync("SELECT Status, PreviousStatus, ErrorNumber, ErrorMessage FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", ada))).Single();
        Assert.Equal(("error", "processing", ErrorRegistry.ReconciliationClaimLost), ((string)row["Status"]!, (string)row["PreviousStatus"]!, (int)row["ErrorNumber"]!));
        Assert.Contains("not finished within 30 minutes", (string)row["ErrorMessage"]!, StringComparison.Ordinal);

        // And the dead processor, coming back, cannot merge it with its old claim
        await RefusedAsync(ErrorRegistry.ReconciliationClaimLost, () => Client.ProcessReconciliationAsync(ada, claim.Claimed.ClaimId, false, null, "late", Ct));
        Assert.Null(await ScalarAsync<int?>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));

        // And a retry merges it
        await Client.ProcessReconciliationAsync(next.Claimed.RequestId, next.Claimed.ClaimId, false, null, "tests", Ct);
        var retry = await ProcessAsync(retryErrors: true);
        Assert.True(retry.Requests.Single(r => r.RequestId == ada).Succeeded);
        Assert.Equal(w.Ada, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));
    }

    [Fact]
    public async Task A_merge_that_outlives_its_claim_is_rolled_back_with_51522_and_nothing_is_merged()
    {
        // Given Ada's request claimed, and its merge held up by another session holding Ada's user lock
        var (w, ada, _, _, _) = await GivenEveryRequestReadyAsync();
        var claim = (await Client.ClaimReconciliationAsync(false, null, "slow processor", Ct)).Claimed!;
        Assert.Equal(ada, claim.RequestId);
        var doneBefore = await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'reconciliation.done';");
        await using var holder = new SqlConnection(new SqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await holder.OpenAsync(Ct);
        var resource = $"DbMerge.User:{Math.Min(w.Ada, w.AdaOld)}";
        await using (var hold = new SqlCommand("DECLARE @r int; EXEC @r = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Session', @LockTimeout = 0; SELECT @r;", holder))
        {
            hold.Parameters.AddWithValue("@Resource", resource);
            Assert.True((int)(await hold.ExecuteScalarAsync(Ct))! >= 0);
        }

        var merge = Task.Run(() => Client.ProcessReconciliationAsync(ada, claim.ClaimId, false, TimeSpan.FromSeconds(30), "slow", Ct), Ct);
        await WaitUntilAsync(async () => await ScalarAsync<int>(
                "SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND request_status = N'WAIT' AND resource_database_id = DB_ID();") == 1,
            TimeSpan.FromSeconds(20), "the merge waiting for Ada's user lock");

        // When, meanwhile, the claim is taken (as the abandoned-claim sweep does once the claim timeout has passed: the
        // request row is not locked while its merge runs), and the merge then goes on
        Assert.Equal(1, await ExecAsync("""
            UPDATE dbmerge.ReconciliationRequest
            SET PreviousStatus = Status, Status = 'error', ErrorNumber = 51522, ErrorMessage = N'taken by the sweep (test)'
            WHERE RequestId = @r AND Status = 'processing';
            """, ("@r", ada)));
        await using (var release = new SqlCommand("EXEC sys.sp_releaseapplock @Resource = @Resource, @LockOwner = N'Session';", holder))
        {
            release.Parameters.AddWithValue("@Resource", resource);
            await release.ExecuteNonQueryAsync(Ct);
        }

        // Then the merge is refused at its end with 51522 and rolled back: nothing merged, no event, the sweep's record kept
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => merge);
        Output.WriteLine($"error {error.ErrorNumber}: {error.Message}");
        Assert.Equal(ErrorRegistry.ReconciliationClaimLost, error.ErrorNumber);
        Assert.Contains("was taken while it was merged", error.Message, StringComparison.Ordinal);
        Assert.Null(await ScalarAsync<int?>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));
        Assert.Equal(w.AdaOld, await ScalarAsync<int>("SELECT UserId FROM app.DocumentAccess WHERE Role = 'owner';"));
        Assert.Equal(doneBefore, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'reconciliation.done';"));
        Assert.Equal("taken by the sweep (test)", await ScalarAsync<string>("SELECT ErrorMessage FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", ada)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE Status = 'refused' AND ErrorNumber = 51522 AND Reason = @reason;",
            ("@reason", $"reconciliation request {ada}")));
    }

    [Fact]
    public async Task Requests_whose_tokens_expired_before_both_sides_confirmed_are_expired_by_the_next_run()
    {
        // Given two pending requests, one of them past its expiry
        await GivenTheWorldAsync();
        var report = await ImportAsync(ExampleCsv);
        var (ada, grace) = (Outcome(report, 2).RequestId!.Value, Outcome(report, 3).RequestId!.Value);
        await Client.ConfirmReconciliationAsync(await TokenAsync(ada, "active"), Ct);
        await ExecAsync("UPDATE dbmerge.ReconciliationRequest SET ExpiresAt = DATEADD(SECOND, -1, SYSUTCDATETIME()) WHERE RequestId = @r;", ("@r", ada));

        // When processing runs
        var run = await ProcessAsync();

        // Then the expired one is expired (and its other token refused), the other is still pending
        Assert.Equal(1, run.Expired);
        Assert.Equal(("expired", "pending-confirmation"), (await StatusAsync(ada), await StatusAsync(grace)));
        await RefusedAsync(ErrorRegistry.ReconciliationTokenExpired, async () => await Client.ConfirmReconciliationAsync(await TokenAsync(ada, "inactive"), Ct));
    }

    [Fact]
    public async Task A_dry_run_merges_each_ready_request_and_rolls_it_back_leaving_only_dry_run_history()
    {
        // Given Ada's request ready
        var w = await GivenTheWorldAsync();
        var ada = Outcome(await ImportAsync(ExampleCsv), 2).RequestId!.Value;
        await ConfirmBothAsync(ada);
        var before = await SnapshotAsync();

        // When processing runs as a dry run
        var run = await ProcessAsync(dryRun: true);

        // Then the summary shows the merge, the request is still ready, and only a dry-run history row was added
        var processed = Assert.Single(run.Requests);
        Assert.True(processed.Succeeded);
        Assert.True(processed.Result!.DryRun);
        Assert.Equal(1, processed.Result.Tables.Single(t => t.TableName == "DocumentAccess").Deleted + processed.Result.Tables.Single(t => t.TableName == "DocumentAccess").Moved);
        var after = await SnapshotAsync();
        Assert.Equal([$"run {processed.Result.MergeRunId} dry-run "], after.Except(before));
        Assert.Empty(before.Except(after));
        Assert.Equal("ready", await StatusAsync(ada));
        Assert.Null(await ScalarAsync<int?>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));
    }

    [Fact]
    public async Task Pending_and_ready_requests_can_be_cancelled_and_no_other_status_can()
    {
        // Given four ready requests, Linus's collision resolved, Ada's cancelled, and the others processed
        var (w, ada, graceOld, _, linus) = await GivenEveryRequestReadyAsync();
        await ExecAsync("DELETE fq FROM app.FinalQualification AS fq JOIN app.Enrollment AS e ON e.EnrollmentId = fq.EnrollmentId WHERE e.UserId = @u;", ("@u", w.LinusOld));
        await Client.CancelReconciliationAsync(ada, "asked to stop", "tests", Ct);
        var run = await ProcessAsync();
        Assert.Equal(3, run.Done);

        // Then the ready one was cancelled (and never merged); done and cancelled ones cannot be cancelled; unknown ids are 51520
        var cancelled = (await RowsAsync("SELECT Status, PreviousStatus, CancelReason, CancelledBy FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", ada))).Single();
        Assert.Equal(("cancelled", "ready", "asked to stop", "tests"), ((string)cancelled["Status"]!, (string)cancelled["PreviousStatus"]!, (string)cancelled["CancelReason"]!, (string)cancelled["CancelledBy"]!));
        Assert.Null(await ScalarAsync<int?>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));
        Assert.Equal("done", await StatusAsync(linus));
        await RefusedAsync(ErrorRegistry.ReconciliationNotCancellable, () => Client.CancelReconciliationAsync(linus, null, null, Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationNotCancellable, () => Client.CancelReconciliationAsync(ada, null, null, Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationRequestNotFound, () => Client.CancelReconciliationAsync(int.MaxValue, null, null, Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationInvalidArgument, () => Client.CancelReconciliationAsync(graceOld, new string('x', 401), null, Ct));

        // And a cancelled pair may be requested again, under a new id
        var again = Outcome(await ImportAsync("id,active_email,inactive_email\nD-1,ada@example.org,ada.lovelace@old.example\n", name: "d.csv"), 2);
        Assert.Equal(ReconciliationOutcomes.Created, again.Outcome);

        // And a pending one can be cancelled too
        var pending = again.RequestId!.Value;
        var cancel = await Client.CancelReconciliationAsync(pending, null, null, Ct);
        Assert.Equal(("cancelled", "pending-confirmation"), (cancel.Status, cancel.PreviousStatus));
        await RefusedAsync(ErrorRegistry.ReconciliationNotAwaitingConfirmation, async () => await Client.ConfirmReconciliationAsync(await TokenAsync(pending, "active"), Ct));
    }

    [Fact]
    public async Task The_list_show_and_counts_tell_the_state_of_every_request_and_never_a_token()
    {
        var (_, ada, _, _, linus) = await GivenEveryRequestReadyAsync();
        await ProcessAsync();

        var errors = await Client.ListReconciliationsAsync(ReconciliationStatuses.Error, null, 0, 10, Ct);
        var detail = await Client.GetReconciliationAsync(ada, Ct);
        var counts = await Client.CountReconciliationsAsync(null, Ct);
        var page = await Client.ListReconciliationsAsync(null, null, ada, 2, Ct);

        Assert.Equal(linus, Assert.Single(errors).RequestId);
        Assert.Equal(ErrorRegistry.MergeRefusedCollision, errors[0].ErrorNumber);
        Assert.Equal(("done", "processing", AdaOldEmail, "accounts.csv"), (detail.Status, detail.PreviousStatus, detail.InactiveEmail, detail.FileName));
        Assert.NotNull(detail.ActiveTokenUsedAt);
        Assert.Equal(ReconciliationStatuses.All, counts.Select(c => c.Status));
        Assert.Equal((3, 1, 0), (counts.Single(c => c.Status == "done").Requests, counts.Single(c => c.Status == "error").Requests, counts.Single(c => c.Status == "ready").Requests));
        Assert.Equal(2, page.Count);
        Assert.All(page, r => Assert.True(r.RequestId > ada));
        await RefusedAsync(ErrorRegistry.ReconciliationRequestNotFound, () => Client.GetReconciliationAsync(int.MaxValue, Ct));
        await RefusedAsync(ErrorRegistry.ReconciliationInvalidArgument, () => Client.ListReconciliationsAsync("finished", null, 0, 10, Ct));
    }
}
