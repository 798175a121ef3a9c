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
