namespace DbMerge.IntegrationTests.Collections;

/// <summary>
/// The small world every collection test starts from — also the worked example the procedures were desk-checked
/// against (identity values are not reseeded between tests, so ids are read back):
/// <list type="bullet">
/// <item>Ada (active, ada@example.org) owns "Reading list" and "Poems (2)".</item>
/// <item>AdaOld (inactive, never merged, ADA@Example.org — same e-mail, other case) owns "Reading list" and "Poems":
///   a legacy account of Ada.</item>
/// <item>AdaOlder (inactive, never merged, ada@example.org) owns "poems" and "Letters": a legacy account of Ada.</item>
/// <item>AdaMerged (inactive, ada@example.org, merged into Ada) owns "Left behind" (planted: a merged account's
///   collections move with the merge, so normally it has none): NOT a legacy account.</item>
/// <item>Carol (inactive, never merged, carol@example.org) owns "Carol's list": inactive, but another e-mail.</item>
/// <item>Bob (active, bob@example.org) owns "Bob's list": active and another e-mail.</item>
/// <item>Session <see cref="AdaSession"/> holds "Favourites", "Reading list", "Poems", "poems"; session
///   <see cref="OtherSession"/> holds "Other".</item>
/// </list>
/// Worked example, session claim by Ada: "Favourites" and the first "Poems" keep their names (Ada has neither);
/// "Reading list" collides with Ada's and becomes "Reading list (2)"; "poems" equals (case-insensitively) the kept
/// "Poems" and "Poems (2)" is Ada's, so it becomes "poems (3)". Legacy claim of both accounts afterwards (Ada now has
/// "Reading list", "Poems (2)", "Favourites", "Reading list (2)", "Poems", "poems (3)"): AdaOld's "Reading list" →
/// "Reading list (3)", "Poems" → "Poems (4)"; AdaOlder's "poems" → "poems (5)", "Letters" kept.
/// </summary>
internal sealed record CollectionWorld(
    int Ada, int AdaOld, int AdaOlder, int AdaMerged, int Carol, int Bob,
    IReadOnlyDictionary<string, int> Collections)
{
    public const string AdaSession = "s-ada-7f3k9q";
    public const string OtherSession = "s-other-2b8x";

    public int this[string key] => Collections[key];

    public static async Task<CollectionWorld> CreateAsync(Func<string, Task<int>> scalar)
    {
        var ada = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'ada@example.org', N'Ada');");
        var adaOld = await scalar("INSERT INTO app.[User] (Email, DisplayName, IsActive) OUTPUT inserted.UserId VALUES (N'ADA@Example.org', N'Ada (old)', 0);");
        var adaOlder = await scalar("INSERT INTO app.[User] (Email, DisplayName, IsActive) OUTPUT inserted.UserId VALUES (N'ada@example.org', N'Ada (older)', 0);");
        var adaMerged = await scalar(
            $"INSERT INTO app.[User] (Email, DisplayName, IsActive, MergedIntoUserId) OUTPUT inserted.UserId VALUES (N'ada@example.org', N'Ada (merged)', 0, {ada});");
        var carol = await scalar("INSERT INTO app.[User] (Email, DisplayName, IsActive) OUTPUT inserted.UserId VALUES (N'carol@example.org', N'Carol', 0);");
        var bob = await scalar("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'bob@example.org', N'Bob');");

        var collections = new Dictionary<string, int>(StringComparer.Ordinal);
        async Task Owned(string key, int owner, string name) =>
            collections[key] = await scalar(
                $"INSERT INTO app.Collection (Name, OwnerUserId) OUTPUT inserted.CollectionId VALUES (N'{name.Replace("'", "''", StringComparison.Ordinal)}', {owner});");
        async Task Anonymous(string key, string session, string name) =>
            collections[key] = await scalar(
                $"INSERT INTO app.Collection (Name, AnonymousSessionId) OUTPUT inserted.CollectionId VALUES (N'{name.Replace("'", "''", StringComparison.Ordinal)}', '{session}');");

        await Owned("ada.reading", ada, "Reading list");
        await Owned("ada.poems2", ada, "Poems (2)");
        await Owned("old.reading", adaOld, "Reading list");
        await Owned("old.poems", adaOld, "Poems");
        await Owned("older.poems", adaOlder, "poems");
        await Owned("older.letters", adaOlder, "Letters");
        await Owned("merged.left", adaMerged, "Left behind");
        await Owned("carol.list", carol, "Carol's list");
        await Owned("bob.list", bob, "Bob's list");
        await Anonymous("s.favourites", AdaSession, "Favourites");
        await Anonymous("s.reading", AdaSession, "Reading list");
        await Anonymous("s.poems", AdaSession, "Poems");
        await Anonymous("s.poems.lower", AdaSession, "poems");
        await Anonymous("other.other", OtherSession, "Other");
        return new CollectionWorld(ada, adaOld, adaOlder, adaMerged, carol, bob, collections);
    }

    /// <summary>Every collection row as one sortable string (owner, session, name, UpdatedAt): equal snapshots mean nothing changed.</summary>
    public const string Snapshot =
        "SELECT CONCAT(CollectionId, ' owner ', OwnerUserId, ' session ', AnonymousSessionId, ' name [', Name, '] updated ', " +
        "CONVERT(varchar(30), UpdatedAt, 126)) AS R FROM app.Collection " +
        "UNION ALL SELECT CONCAT('claim ', ClaimId, ' ', Kind, ' ', UserId, ' ', CollectionCount, ' ', UndoneAt) FROM dbmerge.CollectionClaim " +
        "UNION ALL SELECT CONCAT('item ', ClaimId, ' ', CollectionId) FROM dbmerge.CollectionClaimItem " +
        "UNION ALL SELECT CONCAT('user ', UserId, ' ', IsActive, ' ', MergedIntoUserId, ' ', CONVERT(varchar(30), UpdatedAt, 126)) FROM app.[User] ORDER BY R;";
}
