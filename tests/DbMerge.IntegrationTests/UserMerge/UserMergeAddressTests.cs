using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// Re-addressing moves only what belongs to the source (issue 9): when another active user holds the source's address
/// (case-insensitively) — a legacy account sharing it — rows addressed to it are that user's and stay; and
/// VerifyMergeAsync calls a run that re-addressed another active user's rows a failure, not a success.
/// </summary>
public sealed class UserMergeAddressTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task A_legacy_source_whose_address_another_active_user_holds_leaves_that_users_invitations_and_verifies()
    {
        // Given an inactive legacy account with the address another active user holds (different case), and
        // invitations addressed to it (the active user's, as far as anyone can tell)
        var legacy = await Seed.UserAsync("ada@x.test", active: false);
        var holder = await Seed.UserAsync("ADA@x.test");
        var t = await Seed.UserAsync("t@x.test");
        var channel = await Seed.ChannelAsync("c");
        var org = await Seed.OrganizationAsync("o");
        var d = await Seed.DocumentAsync("0000001");
        var channelInvitation = await Seed.InvitationAsync(channel, "ada@x.test", "edit", null);
        var orgInvitation = await Seed.OrganizationInvitationAsync(org, "Ada@X.test", "admin", null);
        var documentInvitation = await Seed.DocumentInvitationAsync(d, "ada@x.test", "editor", null);
        await Seed.InvitationAsync(channel, "t@x.test", "view", null); // would collide if the address were re-addressed
        await Seed.CollectionAsync(legacy);

        // When the legacy account is merged into the target
        var result = await MergeAsync(legacy, t);

        // Then the holder's invitations are untouched, the legacy account's own rows moved, and the run verifies
        DumpSummary(result);
        Dump("invitations", await RowsAsync("SELECT InvitationId, ChannelId, OrganizationId, Email, ShareMode FROM app.Invitation ORDER BY InvitationId;"));
        Assert.Equal("ada@x.test", await ScalarAsync<string>("SELECT Email FROM app.Invitation WHERE InvitationId = @I AND ShareMode = 'edit';", ("@I", channelInvitation)));
        Assert.Equal("Ada@X.test", await ScalarAsync<string>("SELECT Email FROM app.Invitation WHERE InvitationId = @I AND ShareMode = 'admin';", ("@I", orgInvitation)));
        Assert.Equal("ada@x.test", await ScalarAsync<string>("SELECT Email FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", documentInvitation)));
        Assert.Equal("view", await ScalarAsync<string>("SELECT ShareMode FROM app.Invitation WHERE ChannelId = @C AND Email = N't@x.test';", ("@C", channel)));
        foreach (var (table, column) in new[] { ("Invitation", "Email"), ("DocumentInvitation", "Email") })
        {
            Assert.Equal(0, Row(result, table, column).RowsChanged);
        }

        Assert.Equal(1, Row(result, "Collection", "OwnerUserId").Moved);
        var verification = await Client.VerifyMergeAsync(result.MergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("; ", verification.Problems));
        Assert.Empty((await Client.GetMergeRunAsync(result.MergeRunId, Ct)).Addresses);
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @H;", ("@H", holder)));

        // and the holder can still accept its invitation
        await Client.AcceptInvitationAsync(channelInvitation, holder, cancellationToken: Ct);
    }

    [Fact]
    public async Task A_legacy_source_sharing_the_targets_own_address_re_addresses_nothing()
    {
        var legacy = await Seed.UserAsync("ada@x.test", active: false);
        var t = await Seed.UserAsync("ADA@x.test");
        var d = await Seed.DocumentAsync("0000001");
        var invitation = await Seed.DocumentInvitationAsync(d, "ada@x.test", "editor", null);
        await Seed.CollectionAsync(legacy);

        var result = await MergeAsync(legacy, t);

        Assert.Equal((0, 0, 0), (Row(result, "DocumentInvitation", "Email").Moved, Row(result, "DocumentInvitation", "Email").Deleted, Row(result, "DocumentInvitation", "Email").Conflicts));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE DocumentInvitationId = @I;", ("@I", invitation)));
        Assert.Equal(1, Row(result, "Collection", "OwnerUserId").Moved);
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
    }

    [Fact]
    public async Task VerifyMergeAsync_reports_re_addressed_rows_whose_address_an_active_user_other_than_the_source_holds()
    {
        // Given a merge that re-addressed the source's invitations (nobody else held the address then)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var channel = await Seed.ChannelAsync("c");
        await Seed.InvitationAsync(channel, "s@x.test", "view", null);
        var result = await MergeAsync(src, t);
        var detail = await Client.GetMergeRunAsync(result.MergeRunId, Ct);
        var moved = Assert.Single(detail.Addresses);
        Assert.Equal(("Invitation", "s@x.test", 1, (int?)null), (moved.TableName, moved.Address, moved.Rows, moved.HeldByUserId));
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);

        // When an active user holds that address (as a legacy case would have: the rows were that user's)
        var holder = await Seed.UserAsync("S@x.test");

        // Then verification names the rows, the address and the holder: it is not a success
        var verification = await Client.VerifyMergeAsync(result.MergeRunId, Ct);
        Output.WriteLine(string.Join("\n", verification.Problems));
        Assert.False(verification.Verified);
        Assert.Contains(verification.Problems, p => p.Contains("s@x.test", StringComparison.Ordinal) && p.Contains($"active user {holder}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MergeRun_Get_lists_the_re_addressed_address_in_a_database_whose_default_collation_is_not_the_e_mail_columns()
    {
        // Given a database whose default collation (that of dbmerge.MergeChange's images) differs from app.User.Email's
        // (review 9: api.MergeRun_Get compared the two without COLLATE — error 468 on every call there)
        var connectionString = await Fixture.CreateScratchDatabaseAsync("OtherCollation", Ct);
        var name = new SqlConnectionStringBuilder(connectionString).InitialCatalog;
        await using (var master = new SqlConnection(Fixture.MasterConnectionString))
        {
            await master.OpenAsync(Ct);
            await using var alter = new SqlCommand($"ALTER DATABASE [{name}] COLLATE SQL_Latin1_General_CP1_CI_AS;", master);
            await alter.ExecuteNonQueryAsync(Ct);
        }

        await new Migrator(new MigratorOptions { Layout = Fixture.Layout, RetryBaseDelay = TimeSpan.FromMilliseconds(200) }).MigrateAsync(connectionString, Ct);
        await using (var check = new SqlConnection(connectionString))
        {
            await check.OpenAsync(Ct);
            await using var collation = new SqlCommand("SELECT CONVERT(sysname, DATABASEPROPERTYEX(DB_NAME(), 'Collation'));", check);
            Assert.Equal("SQL_Latin1_General_CP1_CI_AS", (string?)await collation.ExecuteScalarAsync(Ct));
        }

        var seed = new MergeSeed(connectionString);
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = connectionString, InfoMessage = m => Output.WriteLine($"[server] {m}") });
        var t = await seed.UserAsync("t@x.test");
        var src = await seed.UserAsync("s@x.test");
        await seed.InvitationAsync(await seed.ChannelAsync("c"), "s@x.test", "view", null);

        // When the source is merged (its invitation re-addressed) and the run is read back
        var result = await client.MergeUsersAsync(src, t, "integration test", "tests", false, Ct);
        var detail = await client.GetMergeRunAsync(result.MergeRunId, Ct);

        // Then the address is listed, held by nobody else, and the run verifies
        var moved = Assert.Single(detail.Addresses);
        Assert.Equal(("Invitation", "s@x.test", 1, (int?)null), (moved.TableName, moved.Address, moved.Rows, moved.HeldByUserId));
        Assert.True((await client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);
    }
}
