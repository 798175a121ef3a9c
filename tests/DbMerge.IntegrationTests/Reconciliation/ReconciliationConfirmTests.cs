using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>Confirmation with one-time tokens: one side, both sides, and every refused token (nothing changes).</summary>
public sealed class ReconciliationConfirmTests(SqlServerFixture fixture, ITestOutputHelper output) : ReconciliationTestBase(fixture, output)
{
    private async Task<int> GivenAdasRequestAsync()
    {
        await GivenTheWorldAsync();
        var report = await ImportAsync(ExampleCsv);
        return Outcome(report, 2).RequestId!.Value;
    }

    [Fact]
    public async Task Confirming_one_side_leaves_the_request_pending_and_confirming_both_makes_it_ready()
    {
        // Given Ada's request, pending
        var request = await GivenAdasRequestAsync();

        // When the inactive address confirms
        var first = await Client.ConfirmReconciliationAsync(await TokenAsync(request, "inactive"), Ct);

        // Then that side is confirmed and the request is still pending
        Assert.Equal((request, "inactive", ReconciliationStatuses.PendingConfirmation, false, true, false),
            (first.RequestId, first.Side, first.Status, first.ActiveConfirmed, first.InactiveConfirmed, first.BecameReady));
        Assert.Equal(ReconciliationStatuses.PendingConfirmation, await StatusAsync(request));

        // When the active address confirms too (its token in upper case: hexadecimal is case-insensitive)
        var second = await Client.ConfirmReconciliationAsync((await TokenAsync(request, "active")).ToUpperInvariant(), Ct);

        // Then the request is ready, both confirmations and both tokens are recorded, the transition is recorded
        Assert.Equal((ReconciliationStatuses.Ready, true, true, true), (second.Status, second.ActiveConfirmed, second.InactiveConfirmed, second.BecameReady));
        var row = (await RowsAsync("SELECT Status, PreviousStatus, ActiveConfirmedAt, InactiveConfirmedAt FROM dbmerge.ReconciliationRequest WHERE RequestId = @r;", ("@r", request))).Single();
        Assert.Equal(("ready", "pending-confirmation"), ((string)row["Status"]!, (string)row["PreviousStatus"]!));
        Assert.NotNull(row["ActiveConfirmedAt"]);
        Assert.NotNull(row["InactiveConfirmedAt"]);
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationToken WHERE RequestId = @r AND UsedAt IS NOT NULL;", ("@r", request)));

        // And the other requests are untouched
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationRequest WHERE RequestId <> @r AND Status = 'pending-confirmation' AND ActiveConfirmedAt IS NULL AND InactiveConfirmedAt IS NULL;", ("@r", request)));
    }

    [Fact]
    public async Task A_used_token_is_refused_with_51511_and_nothing_changes()
    {
        var request = await GivenAdasRequestAsync();
        var token = await TokenAsync(request, "inactive");
        await Client.ConfirmReconciliationAsync(token, Ct);
        var before = await SnapshotAsync();

        var error = await RefusedAsync(ErrorRegistry.ReconciliationTokenUsed, () => Client.ConfirmReconciliationAsync(token, Ct));

        Assert.IsType<DbMergeInvalidStateException>(error);
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_expired_token_is_refused_with_51512_and_nothing_changes()
    {
        // Given Ada's request whose tokens expired a second ago (the sweep has not run yet)
        var request = await GivenAdasRequestAsync();
        await ExecAsync("UPDATE dbmerge.ReconciliationRequest SET ExpiresAt = DATEADD(SECOND, -1, SYSUTCDATETIME()) WHERE RequestId = @r;", ("@r", request));
        var before = await SnapshotAsync();

        await RefusedAsync(ErrorRegistry.ReconciliationTokenExpired, async () => await Client.ConfirmReconciliationAsync(await TokenAsync(request, "active"), Ct));

        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-token")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g")]
    public async Task A_wrong_token_is_refused_with_51510_reveals_nothing_and_changes_nothing(string token)
    {
        var request = await GivenAdasRequestAsync();
        var real = await TokenAsync(request, "active");
        var before = await SnapshotAsync();

        var error = await RefusedAsync(ErrorRegistry.ReconciliationTokenInvalid, () => Client.ConfirmReconciliationAsync(token, Ct));

        Assert.IsType<DbMergeForbiddenException>(error);
        Assert.Equal("api.Reconciliation_Confirm: the token is not valid (unknown); nothing changed.", error.Message);
        Assert.DoesNotContain(real, error.Message, StringComparison.OrdinalIgnoreCase);
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task Every_refusal_has_the_same_message_shape_and_names_no_request_user_or_address()
    {
        // Given a used token, an expired one and a cancelled request's token
        await GivenTheWorldAsync();
        var report = await ImportAsync(ExampleCsv);
        var (ada, grace, linus) = (Outcome(report, 2).RequestId!.Value, Outcome(report, 3).RequestId!.Value, Outcome(report, 4).RequestId!.Value);
        var used = await TokenAsync(ada, "active");
        await Client.ConfirmReconciliationAsync(used, Ct);
        await ExecAsync("UPDATE dbmerge.ReconciliationRequest SET ExpiresAt = DATEADD(SECOND, -1, SYSUTCDATETIME()) WHERE RequestId = @r;", ("@r", grace));
        await Client.CancelReconciliationAsync(linus, "test", "tests", Ct);

        var messages = new List<string>();
        foreach (var (number, token) in new[]
                 {
                     (ErrorRegistry.ReconciliationTokenInvalid, new string('a', 64)),
                     (ErrorRegistry.ReconciliationTokenUsed, used),
                     (ErrorRegistry.ReconciliationTokenExpired, await TokenAsync(grace, "active")),
                     (ErrorRegistry.ReconciliationNotAwaitingConfirmation, await TokenAsync(linus, "inactive")),
                 })
        {
            messages.Add((await RefusedAsync(number, () => Client.ConfirmReconciliationAsync(token, Ct))).Message);
        }

        Assert.All(messages, m => Assert.Matches(@"^api\.Reconciliation_Confirm: the token is not valid \([a-z ]+\); nothing changed\.$", m));
        Assert.All(messages, m => Assert.DoesNotMatch(@"\d|@", m));
    }

    [Fact]
    public async Task Two_confirmations_of_one_token_at_once_confirm_once_and_refuse_the_other_with_51511()
    {
        var request = await GivenAdasRequestAsync();
        var token = await TokenAsync(request, "active");

        var attempts = await Task.WhenAll(Enumerable.Range(0, 2).Select(async _ =>
        {
            try
            {
                await Client.ConfirmReconciliationAsync(token, Ct);
                return 0;
            }
            catch (DbMergeException ex)
            {
                return ex.ErrorNumber;
            }
        }));

        Assert.Equal([0, ErrorRegistry.ReconciliationTokenUsed], attempts.Order());
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.ReconciliationToken WHERE RequestId = @r AND UsedAt IS NOT NULL;", ("@r", request)));
    }

    [Fact]
    public async Task The_application_may_confirm_but_may_not_read_the_outbox_or_the_requests()
    {
        // Given a database user with only DbMergeApp, and Ada's request
        await UseOwnDatabaseAsync();
        var request = await GivenAdasRequestAsync();
        var user = await ApplicationUserAsync();
        var token = await TokenAsync(request, "inactive");

        // When it confirms (not through INSERT … EXEC: that would call it inside the INSERT's transaction), then the side is confirmed
        var confirmed = Assert.Single(await RowsAsync($"EXECUTE AS USER = N'{user}'; EXEC api.Reconciliation_Confirm @Token = @t; REVERT;", ("@t", token)));
        Assert.Equal((request, "inactive", true), ((int)confirmed["RequestId"]!, (string)confirmed["Side"]!, (bool)confirmed["InactiveConfirmed"]!));

        // And it cannot claim outbox events (they hold tokens), list them, or read requests
        foreach (var (call, number) in new[]
                 {
                     ("EXEC api.Outbox_Claim @Max = 10, @EventType = NULL, @ClaimedBy = NULL;", ErrorRegistry.OutboxNotOperator),
                     ("EXEC api.Outbox_List @PendingOnly = 1, @EventType = NULL, @BeforeOutboxId = NULL, @Top = 10;", ErrorRegistry.OutboxNotOperator),
                     ("EXEC api.Reconciliation_Get @RequestId = 1;", ErrorRegistry.ReconciliationNotOperator),
                     ("EXEC api.Setting_Set @Name = 'reconciliation.token_expiry_days', @Value = N'1';", ErrorRegistry.SettingNotOperator),
                 })
        {
            var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync($"EXECUTE AS USER = N'{user}'; {call}"));
            Assert.Equal(number, error.Number);
        }

        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE ClaimedAt IS NOT NULL;"));
    }
}
