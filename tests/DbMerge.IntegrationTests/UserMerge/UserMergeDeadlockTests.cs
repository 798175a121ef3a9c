using System.Data;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// One lock order (README "Lock order"): a merge and an accept/decline/revoke of the same user serialize on the user's
/// row (L2) and then take invitations before memberships, so they never deadlock. The procedures are called directly
/// (SqlCommand, no client retry), so a 1205 could not hide behind DbMergeClient's deadlock retry.
/// </summary>
public sealed class UserMergeDeadlockTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    private const int Rounds = 40;

    [Fact]
    public async Task A_merge_and_an_accept_of_the_same_user_in_parallel_never_deadlock()
    {
        var outcomes = new List<string>();
        for (var round = 0; round < Rounds; round++)
        {
            // Given a source and a target, both members of one channel (the merge rewrites that membership), and an
            // invitation to another channel for the accepting user's address (the accept writes a membership there);
            // alternately the source or the target accepts, and the source holds pending invitations too
            var t = await Seed.UserAsync($"t{round}@x.test");
            var src = await Seed.UserAsync($"s{round}@x.test");
            var shared = await Seed.ChannelAsync($"shared {round}");
            var invited = await Seed.ChannelAsync($"invited {round}");
            await Seed.ChannelMemberAsync(shared, src, "editor");
            await Seed.ChannelMemberAsync(shared, t, "viewer");
            await Seed.ChannelMemberAsync(invited, t, "viewer");
            var byTarget = round % 2 == 1;
            var invitation = await Seed.InvitationAsync(invited, byTarget ? $"t{round}@x.test" : $"s{round}@x.test", "edit", null);
            await Seed.InvitationAsync(shared, $"s{round}@x.test", "view", null);

            // When the merge and the accept start together
            var merge = CallAsync("api.User_Merge", p =>
            {
                p.Add("@SourceUserId", SqlDbType.Int).Value = src;
                p.Add("@TargetUserId", SqlDbType.Int).Value = t;
                p.Add("@Reason", SqlDbType.NVarChar, 4000).Value = "deadlock test";
                p.Add("@DryRun", SqlDbType.Bit).Value = false;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = 30_000;
            });
            var accept = CallAsync("api.Invitation_Accept", p =>
            {
                p.Add("@InvitationId", SqlDbType.Int).Value = invitation;
                p.Add("@UserId", SqlDbType.Int).Value = byTarget ? t : src;
            });
            var (mergeError, acceptError) = (await merge, await accept);

            // Then neither is a deadlock victim; the merge always commits; the accept succeeds, or (the source
            // accepting after the merge) refuses because the source is merged away or no longer addressed
            var outcome = $"round {round} ({(byTarget ? "target" : "source")} accepts): merge {mergeError?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "ok"}, accept {acceptError?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "ok"}";
            outcomes.Add(outcome);
            Output.WriteLine(outcome);
            Assert.NotEqual(1205, mergeError?.Number);
            Assert.NotEqual(1205, acceptError?.Number);
            Assert.Null(mergeError);
            if (acceptError is not null)
            {
                Assert.False(byTarget, $"the target's accept failed: {acceptError.Message}");
                Assert.Contains(acceptError.Number, new[] { 51303, 51302 });
            }

            Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.ChannelMember WHERE UserId = @S;", ("@S", src)));
            Assert.Equal(acceptError is null ? "editor" : "viewer",
                await ScalarAsync<string>("SELECT Role FROM app.ChannelMember WHERE ChannelId = @C AND UserId = @T;", ("@C", invited), ("@T", t)));
        }

        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE ErrorNumber = 1205;"));
        Output.WriteLine($"{outcomes.Count(o => o.EndsWith("accept ok", StringComparison.Ordinal))} of {Rounds} accepts succeeded");
    }

    [Fact]
    public async Task A_merge_and_a_decline_or_revoke_of_the_sources_invitations_in_parallel_never_deadlock()
    {
        for (var round = 0; round < Rounds; round++)
        {
            var t = await Seed.UserAsync($"t{round}@x.test");
            var src = await Seed.UserAsync($"s{round}@x.test");
            var channel = await Seed.ChannelAsync($"c {round}");
            await Seed.ChannelMemberAsync(channel, src, "admin");
            var sent = await Seed.InvitationAsync(channel, $"guest{round}@x.test", "view", src);
            var received = await Seed.InvitationAsync(channel, $"s{round}@x.test", "edit", null);

            var merge = CallAsync("api.User_Merge", p =>
            {
                p.Add("@SourceUserId", SqlDbType.Int).Value = src;
                p.Add("@TargetUserId", SqlDbType.Int).Value = t;
                p.Add("@Reason", SqlDbType.NVarChar, 4000).Value = "deadlock test";
                p.Add("@DryRun", SqlDbType.Bit).Value = false;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = 30_000;
            });
            var respond = round % 2 == 0
                ? CallAsync("api.Invitation_Decline", p =>
                {
                    p.Add("@InvitationId", SqlDbType.Int).Value = received;
                    p.Add("@UserId", SqlDbType.Int).Value = src;
                })
                : CallAsync("api.Invitation_Revoke", p =>
                {
                    p.Add("@InvitationId", SqlDbType.Int).Value = sent;
                    p.Add("@ActorUserId", SqlDbType.Int).Value = src;
                });
            var (mergeError, respondError) = (await merge, await respond);

            Output.WriteLine($"round {round}: merge {mergeError?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "ok"}, respond {respondError?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "ok"} {respondError?.Message}");
            Assert.NotEqual(1205, mergeError?.Number);
            Assert.NotEqual(1205, respondError?.Number);
            Assert.Null(mergeError);
        }
    }

    [Theory]
    [InlineData("revoke")]
    [InlineData("create")]
    public async Task A_third_partys_revoke_or_create_for_the_targets_address_waits_on_the_targets_user_row_while_a_merge_runs(string call)
    {
        // Given a merge stopped at app.Collection (ApplyOrder 1160: its invitation sections are done, it holds both user
        // rows since L2), and a pending invitation of the target's address sent by a third user, not touched by the merge
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var sender = await Seed.UserAsync("sender@x.test");
        var channel = await Seed.ChannelAsync("c");
        var other = await Seed.ChannelAsync("other");
        var invitation = await Seed.InvitationAsync(channel, "t@x.test", "view", sender);
        var collection = await Seed.CollectionAsync(src);
        await using var blocker = await HoldAsync("UPDATE app.Collection SET Name = Name + N' (edited)' WHERE CollectionId = @C;", ("@C", collection));
        var merge = MergeAsync(src, t, lockTimeout: TimeSpan.FromMinutes(2));
        var (session, _, _) = await WaitForOneBlockedAsync(blocker, "the merge to reach app.Collection");

        // When the sender revokes that invitation, or invites the target's address to another channel
        Task work = call == "revoke"
            ? Client.RevokeInvitationAsync(invitation, sender, cancellationToken: Ct)
            : Client.CreateInvitationAsync(DbMerge.Client.InvitationTarget.Channel(other), "T@x.test", "edit", sender, cancellationToken: Ct);

        // Then it waits for the merge on the target's app.User row (L2: the accounts holding the address, before any
        // invitation lock), not on an invitation (review 9: it locked the invitation row, then its index entry, while
        // the merge locks index entries, then rows — a possible deadlock between two DbMerge procedures)
        await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: session)).Count == 1, TimeSpan.FromSeconds(30), $"the {call} to wait for the merge");
        var waiting = await RowsAsync("""
            SELECT l.request_session_id AS SessionId, l.resource_type AS ResourceType, OBJECT_NAME(p.object_id) AS TableName, p.index_id AS IndexId
            FROM sys.dm_tran_locks AS l
            LEFT JOIN sys.partitions AS p ON p.hobt_id = l.resource_associated_entity_id
            WHERE l.resource_database_id = DB_ID() AND l.request_status = N'WAIT' AND l.request_session_id <> @Merge;
            """, ("@Merge", session));
        Dump($"the {call}'s waiting lock", waiting);
        var lockWait = Assert.Single(waiting);
        Assert.Equal(("KEY", "User", 1), ((string)lockWait["ResourceType"]!, (string?)lockWait["TableName"], (int?)lockWait["IndexId"] ?? 0));
        Assert.False(work.IsCompleted);

        // and both finish once the application transaction ends: no deadlock, the invitation is the target's
        await blocker.DisposeAsync();
        var result = await merge;
        await work;
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
        Assert.Equal(call == "revoke" ? "revoked" : "pending", await ScalarAsync<string>("SELECT Status FROM app.Invitation WHERE InvitationId = @I;", ("@I", invitation)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE ErrorNumber = 1205;"));
    }

    /// <summary>Runs a procedure on a connection of its own and returns its SqlException, if any (no retry).</summary>
    private async Task<SqlException?> CallAsync(string procedure, Action<SqlParameterCollection> parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new SqlCommand(procedure, connection) { CommandType = CommandType.StoredProcedure, CommandTimeout = 120 };
        parameters(command.Parameters);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(Ct);
            while (await reader.NextResultAsync(Ct))
            {
            }

            return null;
        }
        catch (SqlException ex)
        {
            return ex;
        }
    }
}
