namespace DbMerge.IntegrationTests.Documents;

/// <summary>
/// The small world every document test starts from — the desk-check example of api.Document_Move:
/// <code>
/// A  0000001                  owner: OwnerA, team 'founders'; reader: Reader
/// ├─ B  00000010000001        administrator: Ann; commenter: Bob; invitation x@example.org
/// │  ├─ B1 000000100000010000001   editor: Bob
/// │  └─ B2 000000100000010000002
/// ├─ C  00000010000002        reader: Bob; invitation y@example.org
/// └─ D  00000010000003
/// E  0000002                  owner: OwnerE
/// </code>
/// Users: OwnerA, OwnerE, Ann, Bob, Reader (active), Idle (inactive). Identity values are not reseeded between
/// tests, so ids are read back.
/// </summary>
internal sealed record DocumentWorld(
    int OwnerA, int OwnerE, int Ann, int Bob, int Reader, int Idle,
    int A, int B, int B1, int B2, int C, int D, int E)
{
    public static async Task<DocumentWorld> CreateAsync(Func<string, Task<int>> scalar)
    {
        Task<int> User(string name, int active = 1) =>
            scalar($"INSERT INTO app.[User] (Email, DisplayName, IsActive) OUTPUT inserted.UserId VALUES (N'{name.ToLowerInvariant()}@example.org', N'{name}', {active});");
        Task<int> Doc(string title, string path, int creator) =>
            scalar($"INSERT INTO app.Document (Path, Title, CreatorUserId) OUTPUT inserted.DocumentId VALUES ('{path}', N'{title}', {creator});");
        Task<int> Access(int document, int? user, string? team, string role) =>
            scalar($"INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role) OUTPUT inserted.DocumentAccessId VALUES ({document}, {(user is null ? "NULL" : user.ToString())}, {(team is null ? "NULL" : $"N'{team}'")}, '{role}');");
        Task<int> Invite(int document, string email, int issuer) =>
            scalar($"INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) OUTPUT inserted.DocumentInvitationId VALUES ({document}, N'{email}', 'reader', {issuer});");

        var ownerA = await User("OwnerA");
        var ownerE = await User("OwnerE");
        var ann = await User("Ann");
        var bob = await User("Bob");
        var reader = await User("Reader");
        var idle = await User("Idle", 0);

        var a = await Doc("A", "0000001", ownerA);
        var b = await Doc("B", "00000010000001", ownerA);
        var b1 = await Doc("B1", "000000100000010000001", ownerA);
        var b2 = await Doc("B2", "000000100000010000002", ownerA);
        var c = await Doc("C", "00000010000002", ownerA);
        var d = await Doc("D", "00000010000003", ownerA);
        var e = await Doc("E", "0000002", ownerE);

        await Access(a, ownerA, null, "owner");
        await Access(a, null, "founders", "owner");
        await Access(a, reader, null, "reader");
        await Access(b, ann, null, "administrator");
        await Access(b, bob, null, "commenter");
        await Access(b1, bob, null, "editor");
        await Access(c, bob, null, "reader");
        await Access(e, ownerE, null, "owner");
        await Invite(b, "x@example.org", ownerA);
        await Invite(c, "y@example.org", ownerA);

        return new DocumentWorld(ownerA, ownerE, ann, bob, reader, idle, a, b, b1, b2, c, d, e);
    }
}
