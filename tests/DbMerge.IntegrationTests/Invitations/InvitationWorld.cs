using DbMerge.IntegrationTests.Infrastructure;

namespace DbMerge.IntegrationTests.Invitations;

/// <summary>
/// The small world every invitation test starts from (also the desk-check example of the procedures):
/// Ada (active), Bob (active), Carol (inactive), Dave (active, the sender), Erin (active, admin of the
/// organization and editor of the channel); organization "Acme", channel "General".
/// Identity values are not reseeded between tests, so ids are read back.
/// </summary>
internal sealed record InvitationWorld(int Ada, int Bob, int Carol, int Dave, int Erin, int Organization, int Channel)
{
    public const string AdaEmail = "ada@example.org";

    public static async Task<InvitationWorld> CreateAsync(Func<string, Task<int>> scalar)
    {
        var ada = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'ada@example.org', N'Ada');");
        var bob = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'bob@example.org', N'Bob');");
        var carol = await scalar("INSERT INTO app.[User] (Email, DisplayName, IsActive) OUTPUT inserted.UserId VALUES (N'carol@example.org', N'Carol', 0);");
        var dave = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'dave@example.org', N'Dave');");
        var erin = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'erin@example.org', N'Erin');");
        var organization = await scalar("INSERT INTO app.Organization (Name) OUTPUT inserted.OrganizationId VALUES (N'Acme');");
        var channel = await scalar("INSERT INTO app.Channel (Name) OUTPUT inserted.ChannelId VALUES (N'General');");
        await scalar($"INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) OUTPUT inserted.OrganizationMemberId VALUES ({organization}, {erin}, 'admin');");
        await scalar($"INSERT INTO app.ChannelMember (ChannelId, UserId, Role) OUTPUT inserted.ChannelMemberId VALUES ({channel}, {erin}, 'editor');");
        return new InvitationWorld(ada, bob, carol, dave, erin, organization, channel);
    }
}

/// <summary>Helpers shared by the invitation and constraint integration tests.</summary>
internal static class InvitationSql
{
    /// <summary>
    /// Runs <paramref name="sql"/> with <paramref name="constraint"/> on app.Invitation disabled, then re-enables it
    /// WITHOUT validating (it stays untrusted, as after the migration): the only way to plant rows that the
    /// constraint forbids, like rows written before it existed.
    /// </summary>
    public static async Task PlantBypassingAsync(Func<string, Task<int>> exec, string constraint, string sql)
    {
        await exec($"ALTER TABLE app.Invitation NOCHECK CONSTRAINT {constraint};");
        try
        {
            await exec(sql);
        }
        finally
        {
            await exec($"ALTER TABLE app.Invitation CHECK CONSTRAINT {constraint};");
        }
    }
}
