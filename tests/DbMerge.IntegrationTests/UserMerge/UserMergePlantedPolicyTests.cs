using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using DbMerge.Schema.Merge;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The DBA workflow end to end on a real server (README "Adding a table that references a user"): the planted tables of
/// every policy kind (tests/Shared/PlantedMergeTables.cs: their migration and policy rows) are migrated into a database
/// of the test's own, `dbmerge generate merge` runs over a repository copy holding that migration, and the generated
/// procedures are deployed; the merge then applies every kind to the new tables — refuse first refusing the whole merge
/// with 51114, naming table, column and keys, and changing nothing.
/// </summary>
public sealed class UserMergePlantedPolicyTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Every_policy_kind_generated_for_planted_tables_works_and_refuse_refuses_the_whole_merge()
    {
        // Given the planted migration and the merge generated for it, deployed into this test's own database
        await UseOwnDatabaseAsync();
        var layout = PlantedMergeTables.CopyRepository(Fixture.Layout);
        PlantedMergeTables.Plant(layout, PlantedMergeTables.MigrationName, PlantedMergeTables.Sql);
        var generation = MergeGenerator.Generate(layout);
        Assert.False(generation.HasErrors, string.Join("\n", generation.Findings));
        await RunScriptAsync(File.ReadAllText(Path.Combine(layout.MigrationsDirectory, PlantedMergeTables.MigrationName)));
        foreach (var file in generation.Files)
        {
            Output.WriteLine($"deploying generated {file.RelativePath}");
            await RunScriptAsync(file.Text);
        }

        // and a source and target holding rows of every planted kind (collisions both ways where a kind has them)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await ExecAsync("""
            INSERT INTO app.PlantedBookmark (OwnerUserId) VALUES (@S), (@S), (@T);
            INSERT INTO app.PlantedTeamMember (TeamId, UserId, Role) VALUES (1, @S, 'lead'), (1, @T, 'member'), (2, @S, 'member'), (2, @T, 'lead'), (3, @S, 'member');
            INSERT INTO app.PlantedStar (ItemId, UserId) VALUES (1, @S), (1, @T), (2, @S);
            INSERT INTO app.PlantedClubMember (ClubId, UserId) VALUES (1, @S), (1, @T), (2, @S);
            INSERT INTO app.PlantedClubNote (PlantedClubMemberId, Body)
            SELECT m.PlantedClubMemberId, N'note' FROM app.PlantedClubMember AS m WHERE m.UserId = @S;
            INSERT INTO app.PlantedClubCard (PlantedClubMemberId, CardNumber)
            SELECT m.PlantedClubMemberId, 'card-1' FROM app.PlantedClubMember AS m WHERE m.UserId = @S AND m.ClubId = 1;
            INSERT INTO app.PlantedVoucher (Email, Status, Tier, CampaignId)
            VALUES (N's@x.test', 'active', 'gold', 1), (N't@x.test', 'active', 'bronze', 1), (N'S@X.test', 'active', 'bronze', 2), (N's@x.test', 'used', 'gold', 3);
            INSERT INTO app.PlantedLegalHold (UserId) VALUES (@S);
            """, ("@S", src), ("@T", t));
        var hold = await ScalarAsync<int>("SELECT PlantedLegalHoldId FROM app.PlantedLegalHold;");
        var before = await FingerprintAsync(includeHistory: true);

        // When the merge runs while the source has a legal hold, then it is refused, naming the table, column and key
        var refused = await MergeFailsAsync(ErrorRegistry.MergeRefusedByPolicy, src, t);
        Assert.Contains("app.PlantedLegalHold.UserId", refused.Message);
        Assert.Contains($"{hold}", refused.Message);
        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));

        // When the hold is lifted, then every planted policy does its work
        await ExecAsync("DELETE FROM app.PlantedLegalHold;");
        var result = await MergeAsync(src, t);
        DumpSummary(result);

        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedBookmark WHERE OwnerUserId = @T;", ("@T", t)));
        var teams = await RowsAsync("SELECT TeamId, UserId, Role FROM app.PlantedTeamMember ORDER BY TeamId;");
        Dump("team members", teams);
        Assert.Equal([(1, t, "lead"), (2, t, "lead"), (3, t, "member")], teams.Select(r => ((int)r["TeamId"]!, (int)r["UserId"]!, (string)r["Role"]!)));
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedStar WHERE UserId = @T;", ("@T", t)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedStar WHERE UserId = @S;", ("@S", src)));
        var club1 = await ScalarAsync<int>("SELECT PlantedClubMemberId FROM app.PlantedClubMember WHERE ClubId = 1 AND UserId = @T;", ("@T", t));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedClubCard WHERE PlantedClubMemberId = @M;", ("@M", club1)));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedClubNote WHERE PlantedClubMemberId = @M;", ("@M", club1)));
        Assert.Equal(2, await ScalarAsync<int>("SELECT COUNT(*) FROM app.PlantedClubMember WHERE UserId = @T;", ("@T", t)));
        var vouchers = await RowsAsync("SELECT Email, Status, Tier, CampaignId FROM app.PlantedVoucher ORDER BY CampaignId;");
        Dump("vouchers", vouchers);
        Assert.Equal([("t@x.test", "active", "gold", 1), ("t@x.test", "active", "bronze", 2), ("s@x.test", "used", "gold", 3)],
            vouchers.Select(r => ((string)r["Email"]!, (string)r["Status"]!, (string)r["Tier"]!, (int)r["CampaignId"]!)));

        void Expect(string table, string column, int moved, int merged, int deleted, int conflicts)
        {
            var row = Row(result, table, column);
            Assert.Equal((moved, merged, deleted, conflicts), (row.Moved, row.Merged, row.Deleted, row.Conflicts));
        }

        Expect("PlantedBookmark", "OwnerUserId", 2, 0, 0, 0);
        Expect("PlantedTeamMember", "UserId", 1, 1, 2, 2);
        Expect("PlantedStar", "UserId", 1, 0, 1, 1);
        Expect("PlantedClubMember", "UserId", 1, 2, 1, 1);
        Expect("PlantedVoucher", "Email", 1, 1, 1, 1);
        Expect("PlantedLegalHold", "UserId", 0, 0, 0, 0);
        Assert.True((await Client.VerifyMergeAsync(result.MergeRunId, Ct)).Verified);

        // and dbmerge status's late-reference query covers the new tables (none left)
        var late = await Client.GetLateReferencesAsync(Ct);
        Assert.Contains(late, l => l.TableName == "PlantedBookmark" && l.ReferencingRows == 0);
    }

    [Fact]
    public async Task A_merge_children_child_unique_per_parent_and_kind_moves_other_kinds_and_refuses_the_same_kind_without_error_8622()
    {
        // Given the planted tables plus a child at most one per (club membership, kind), the merge generated for them and
        // deployed (review 9: the collision checks of such a child named the kind in both children's FORCESEEK — 8622)
        await UseOwnDatabaseAsync();
        var layout = PlantedMergeTables.CopyRepository(Fixture.Layout);
        PlantedMergeTables.Plant(layout, PlantedMergeTables.MigrationName, PlantedMergeTables.Sql + "\n" + PlantedMergeTables.ChildUniquePerKindSql);
        var generation = MergeGenerator.Generate(layout);
        Assert.False(generation.HasErrors, string.Join("\n", generation.Findings));
        await RunScriptAsync(File.ReadAllText(Path.Combine(layout.MigrationsDirectory, PlantedMergeTables.MigrationName)));
        foreach (var file in generation.Files)
        {
            await RunScriptAsync(file.Text);
        }

        // and both users in club 1 with badges of different kinds
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        const string Badges = """
            INSERT INTO app.PlantedClubMember (ClubId, UserId) VALUES (1, @S), (1, @T);
            INSERT INTO app.PlantedClubBadge (PlantedClubMemberId, Kind)
            SELECT m.PlantedClubMemberId, IIF(m.UserId = @S, @SourceKind, 'silver') FROM app.PlantedClubMember AS m WHERE m.UserId IN (@S, @T);
            """;
        await ExecAsync(Badges, ("@S", src), ("@T", t), ("@SourceKind", "gold"));

        // When they are merged, then the source's badge moves to the target's membership (the checks compiled and ran)
        var result = await MergeAsync(src, t);
        DumpSummary(result);
        var club = Row(result, "PlantedClubMember", "UserId");
        Assert.Equal((0, 1, 1, 1), (club.Moved, club.Merged, club.Deleted, club.Conflicts));
        Assert.Equal(["gold", "silver"], (await RowsAsync("""
            SELECT b.Kind FROM app.PlantedClubBadge AS b JOIN app.PlantedClubMember AS m ON m.PlantedClubMemberId = b.PlantedClubMemberId
            WHERE m.UserId = @T ORDER BY b.Kind;
            """, ("@T", t))).Select(r => (string)r["Kind"]!));

        // When two other users both hold a badge of the same kind in club 1, then that merge is refused (51106), naming the table
        var t2 = await Seed.UserAsync("t2@x.test");
        var s2 = await Seed.UserAsync("s2@x.test");
        await ExecAsync(Badges.Replace("'silver'", "'gold'", StringComparison.Ordinal), ("@S", s2), ("@T", t2), ("@SourceKind", "gold"));
        var refused = await MergeFailsAsync(ErrorRegistry.MergeRefusedCollision, s2, t2);
        Assert.Contains("app.PlantedClubBadge", refused.Message);
    }

    [Fact]
    public async Task A_foreign_key_to_app_User_without_a_policy_makes_the_generated_merge_refuse_with_51105_before_touching_data()
    {
        // (the table exists in the database but not in the migrations the merge was generated from)
        await UseOwnDatabaseAsync();
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);
        await ExecAsync("CREATE TABLE app.MergeTestBookmark (BookmarkId int IDENTITY(1, 1) NOT NULL PRIMARY KEY, OwnerUserId int NULL " +
                        "CONSTRAINT FK_app_MergeTestBookmark_OwnerUserId_app_User REFERENCES app.[User] (UserId));");
        await ExecAsync("INSERT INTO app.MergeTestBookmark (OwnerUserId) VALUES (@S);", ("@S", src));
        var before = await FingerprintAsync();

        var error = await MergeFailsAsync(ErrorRegistry.MergeUnhandledReference, src, t);

        Assert.Contains("app.MergeTestBookmark.OwnerUserId", error.Message);
        Assert.Contains("dbmerge generate merge", error.Message);
        AssertSameFingerprint(before, await FingerprintAsync());
    }

    [Fact]
    public async Task A_policy_row_the_deployed_merge_was_not_generated_from_makes_it_refuse_with_51105()
    {
        // (a migration changed a policy, but nobody ran dbmerge generate merge: the deployed core's @Handler differs)
        await UseOwnDatabaseAsync();
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await ExecAsync("UPDATE dbmerge.MergePolicy SET Policy = 'refuse', CollisionKey = NULL WHERE SchemaName = N'app' AND TableName = N'Collection' AND ColumnName = N'OwnerUserId';");

        var error = await MergeFailsAsync(ErrorRegistry.MergeUnhandledReference, src, t);

        Assert.Contains("app.Collection.OwnerUserId", error.Message);
        Assert.Contains("is not the one this procedure was generated from", error.Message);
    }

    private async Task RunScriptAsync(string text)
    {
        await using var connection = await OpenAsync();
        foreach (var batch in SqlBatches.Split(text))
        {
            await using var command = new SqlCommand(batch.Text, connection) { CommandTimeout = 120 };
            await command.ExecuteNonQueryAsync(Ct);
        }
    }
}
