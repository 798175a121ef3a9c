using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using DbMerge.Schema.Merge;
using DbMerge.Testing;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The undo of every policy kind on the planted tables (tests/Shared/PlantedMergeTables.cs): their migration and the merge
/// and undo generated for them are deployed into a database of the test's own; a merge touching every planted kind (moved,
/// raised, deleted, re-pointed children, re-addressed, duplicates reduced) is undone, and every app table holds exactly
/// its rows from before the merge.
/// </summary>
public sealed class UnmergePlantedPolicyTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Every_planted_policy_kind_is_undone_to_the_row_images_from_before_the_merge()
    {
        // Given the planted migration and the merge and undo generated for it, deployed into this test's own database
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

        // and a source and target holding rows of every planted kind, collisions both ways
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
            VALUES (N's@x.test', 'active', 'gold', 1), (N't@x.test', 'active', 'bronze', 1), (N'S@X.test', 'active', 'bronze', 2),
                   (N's@x.test', 'active', 'bronze', 2), (N's@x.test', 'used', 'gold', 3);
            """, ("@S", src), ("@T", t));
        var before = await FullImagesAsync();

        // When the merge commits and is undone
        var merge = await MergeAsync(src, t, batchSize: 1);
        DumpSummary(merge);
        foreach (var kind in new[] { "PlantedBookmark", "PlantedTeamMember", "PlantedStar", "PlantedClubMember", "PlantedVoucher" })
        {
            Assert.True(Row(merge, kind, kind == "PlantedBookmark" ? "OwnerUserId" : kind == "PlantedVoucher" ? "Email" : "UserId").RowsChanged > 0, $"{kind} unchanged by the merge");
        }

        var undo = await UnmergeAsync(merge.MergeRunId, batchSize: 1);
        DumpUnmerge(undo);

        // Then every app table, the planted ones included, holds exactly its rows from before the merge
        AssertSameImages(before, await FullImagesAsync());
        Assert.Equal(merge.Tables.Sum(r => r.RowsChanged) + 2, undo.ChangesUndone);
        var verification = await Client.VerifyUnmergeAsync(undo.UnmergeRunId, Ct);
        Assert.True(verification.Verified, string.Join("\n", verification.Problems));
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
