using Xunit;

namespace DbMerge.IntegrationTests.Documents;

/// <summary>
/// The small forest with gaps that the issue-10 tests start from — the worked example every statement of
/// api.Document_Move was desk-checked against (paths shown as steps; each step is 7 characters, '0000001' …):
/// <code>
/// A   1          owners: OwnerA, team 'founders'; reader: Reader
/// ├─ B   1.1     administrator: Ann; invitation b@example.org
/// │  ├─ B1  1.1.1
/// │  └─ B2  1.1.2
/// ├─ C   1.2     reader: Bob; invitation c@example.org
/// ├─ D   1.3     editor: Bob
/// │  └─ D1  1.3.1
/// │          (1.4 is a gap)
/// └─ F   1.5     commenter: Ann
/// E   2          owner: OwnerE
/// └─ E1  2.1
///                (root 3 is a gap)
/// G   4          owner: OwnerG; reader: Bob; invitation g@example.org
/// </code>
/// Users: OwnerA, OwnerE, OwnerG, Ann, Bob, Reader. Identity values are not reseeded between tests: ids are read back.
/// </summary>
internal sealed record DocumentForest(
    int OwnerA, int OwnerE, int OwnerG, int Ann, int Bob, int Reader,
    IReadOnlyDictionary<string, int> Ids)
{
    /// <summary>Title → path of the forest as created.</summary>
    public static IReadOnlyDictionary<string, string> Paths { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["A"] = "0000001",
        ["B"] = "00000010000001",
        ["B1"] = "000000100000010000001",
        ["B2"] = "000000100000010000002",
        ["C"] = "00000010000002",
        ["D"] = "00000010000003",
        ["D1"] = "000000100000030000001",
        ["F"] = "00000010000005",
        ["E"] = "0000002",
        ["E1"] = "00000020000001",
        ["G"] = "0000004",
    };

    public int this[string title] => Ids[title];

    /// <summary>The forest's paths with <paramref name="changes"/> ("Title=Path") applied, as sorted "Title=Path" lines.</summary>
    public static string[] PathsAfter(params string[] changes)
    {
        var paths = new Dictionary<string, string>(Paths, StringComparer.Ordinal);
        foreach (var change in changes)
        {
            var parts = change.Split('=', 2);
            Assert.True(paths.ContainsKey(parts[0]), $"no document {parts[0]} in the forest");
            paths[parts[0]] = parts[1];
        }

        return [.. paths.OrderBy(p => p.Value, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}")];
    }

    public static async Task<DocumentForest> CreateAsync(Func<string, Task<int>> scalar)
    {
        Task<int> User(string name) =>
            scalar($"INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'{name.ToLowerInvariant()}@forest.example.org', N'{name}');");
        Task<int> Access(int document, int? user, string? team, string role) =>
            scalar($"INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role) OUTPUT inserted.DocumentAccessId VALUES ({document}, {(user is null ? "NULL" : user.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))}, {(team is null ? "NULL" : $"N'{team}'")}, '{role}');");
        Task<int> Invite(int document, string email, int issuer) =>
            scalar($"INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) OUTPUT inserted.DocumentInvitationId VALUES ({document}, N'{email}', 'reader', {issuer});");

        var ownerA = await User("OwnerA");
        var ownerE = await User("OwnerE");
        var ownerG = await User("OwnerG");
        var ann = await User("Ann");
        var bob = await User("Bob");
        var reader = await User("Reader");

        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (title, path) in Paths.OrderBy(p => p.Value, StringComparer.Ordinal))
        {
            var creator = path.StartsWith("0000002", StringComparison.Ordinal) ? ownerE : path.StartsWith("0000004", StringComparison.Ordinal) ? ownerG : ownerA;
            ids[title] = await scalar($"INSERT INTO app.Document (Path, Title, CreatorUserId) OUTPUT inserted.DocumentId VALUES ('{path}', N'{title}', {creator});");
        }

        await Access(ids["A"], ownerA, null, "owner");
        await Access(ids["A"], null, "founders", "owner");
        await Access(ids["A"], reader, null, "reader");
        await Access(ids["B"], ann, null, "administrator");
        await Access(ids["C"], bob, null, "reader");
        await Access(ids["D"], bob, null, "editor");
        await Access(ids["F"], ann, null, "commenter");
        await Access(ids["E"], ownerE, null, "owner");
        await Access(ids["G"], ownerG, null, "owner");
        await Access(ids["G"], bob, null, "reader");
        await Invite(ids["B"], "b@example.org", ownerA);
        await Invite(ids["C"], "c@example.org", ownerA);
        await Invite(ids["G"], "g@example.org", ownerG);

        return new DocumentForest(ownerA, ownerE, ownerG, ann, bob, reader, ids);
    }
}
