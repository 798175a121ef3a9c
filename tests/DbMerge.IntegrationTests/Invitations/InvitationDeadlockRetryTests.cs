using DbMerge.Client;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Invitations;

/// <summary>
/// README "Which procedures can meet": defence in depth. The merge and the unmerge now lock an address's accounts in the
/// invitation calls' order (L2, ascending, review 14), so they no longer meet in a cycle; should one still occur, the
/// invitation procedures run at DEADLOCK_PRIORITY LOW, so the call is the victim, and DbMergeClient runs it again. The cycle is built
/// deterministically with a stand-in for the merge: a NORMAL-priority transaction that holds the invitation (as the
/// merge does once it has re-pointed it) and then asks for a user row the call holds (as the merge's last step does).
/// </summary>
public sealed class InvitationDeadlockRetryTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("create")]
    [InlineData("accept")]
    [InlineData("decline")]
    [InlineData("revoke")]
    public async Task An_invitation_call_in_a_deadlock_with_a_normal_priority_transaction_is_the_victim_and_is_run_again(string call)
    {
        // Given Dave's pending invitation of Ada to the channel (for create: to the organization; the call invites her
        // to the channel, and its duplicate check locks the address's pending invitations, this one included)
        var w = await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        var client = Client;
        var existing = await client.CreateInvitationAsync(
            call == "create" ? InvitationTarget.Organization(w.Organization) : InvitationTarget.Channel(w.Channel),
            InvitationWorld.AdaEmail, "view", w.Dave, cancellationToken: Ct);

        // and a transaction at NORMAL priority that holds that invitation (for create: the address's pending range, as
        // the call reads it)
        await using var holder = await OpenAsync();
        var holderSession = await SessionOfAsync(holder);
        await using var transaction = (SqlTransaction)await holder.BeginTransactionAsync(Ct);
        await RunAsync(holder, transaction, "SET DEADLOCK_PRIORITY NORMAL;");
        await RunAsync(holder, transaction, call == "create"
            ? """
              SELECT COUNT(*) FROM app.Invitation AS i WITH (UPDLOCK, SERIALIZABLE, INDEX (IX_app_Invitation_Email_Status_ChannelId_OrganizationId))
              WHERE i.Email = @Email AND i.Status = 'pending';
              """
            : "SELECT COUNT(*) FROM app.Invitation AS i WITH (UPDLOCK, HOLDLOCK) WHERE i.InvitationId = @Invitation;",
            ("@Email", InvitationWorld.AdaEmail), ("@Invitation", existing.InvitationId));

        // When the call starts: it locks its user rows (L2), then waits for the invitation
        async Task<string> CallAsync() => call switch
        {
            "create" => (await client.CreateInvitationAsync(InvitationTarget.Channel(w.Channel), InvitationWorld.AdaEmail, "edit", w.Dave, cancellationToken: Ct)).Status,
            "accept" => (await client.AcceptInvitationAsync(existing.InvitationId, w.Ada, cancellationToken: Ct)).AlreadyAccepted ? "already accepted" : "accepted",
            "decline" => (await client.DeclineInvitationAsync(existing.InvitationId, w.Ada, cancellationToken: Ct)).Status,
            _ => (await client.RevokeInvitationAsync(existing.InvitationId, w.Erin, cancellationToken: Ct)).Status,
        };
        var work = CallAsync();
        await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: holderSession)).Count == 1, TimeSpan.FromSeconds(30), $"the {call} to wait for the held invitation");
        Dump("locks held by the call", await RowsAsync("""
            SELECT l.request_session_id AS SessionId, l.resource_type AS ResourceType, OBJECT_NAME(p.object_id) AS TableName, l.request_mode AS Mode, l.request_status AS Status
            FROM sys.dm_tran_locks AS l
            LEFT JOIN sys.partitions AS p ON p.hobt_id = l.resource_associated_entity_id
            WHERE l.resource_database_id = DB_ID() AND l.resource_type = N'KEY' AND l.request_session_id <> @Holder;
            """, ("@Holder", holderSession)));

        // and the transaction then asks for the user row the call holds (the sender's, the accepting / declining user's,
        // the revoking actor's): a cycle, which the deadlock monitor resolves within seconds
        var user = call switch { "create" => w.Dave, "accept" or "decline" => w.Ada, _ => w.Erin };
        try
        {
            await RunAsync(holder, transaction, "SELECT COUNT(*) FROM app.[User] AS u WITH (UPDLOCK, HOLDLOCK) WHERE u.UserId = @User;", ("@User", user));
        }
        catch (SqlException ex)
        {
            Assert.Fail($"the NORMAL-priority transaction got {ex.Number} ({ex.Message}): the {call} did not run at DEADLOCK_PRIORITY LOW");
        }

        // Then the transaction got the user row: the call was the victim and rolled back (it could not finish while the
        // invitation was held); its retry now waits for the transaction, and finishes once it commits
        if (work.IsCompleted)
        {
            await work; // a 1205 not run again surfaces here
            Assert.Fail($"the {call} finished while the transaction held its invitation and user row");
        }

        await transaction.CommitAsync(Ct);
        Assert.Equal(call switch { "create" => "pending", "accept" => "accepted", "decline" => "declined", _ => "revoked" }, await work);
        Dump("invitations", await RowsAsync("SELECT InvitationId, ChannelId, OrganizationId, Email, Status, InvitedUserId FROM app.Invitation ORDER BY InvitationId;"));
        Assert.Equal(call == "create" ? 2 : 1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Invitation;"));
        Assert.Equal(call == "create" ? 2 : 1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox WHERE EventType = 'invitation.created';"));
    }

    private static async Task<int> SessionOfAsync(SqlConnection connection)
    {
        await using var command = new SqlCommand("SELECT @@SPID;", connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task RunAsync(SqlConnection connection, SqlTransaction transaction, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = new SqlCommand(sql, connection, transaction) { CommandTimeout = 60 };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }
}
