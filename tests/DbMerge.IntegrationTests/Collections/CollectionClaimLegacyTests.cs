using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>api.Collection_ListLegacy and api.Collection_ClaimLegacy against SQL Server (issue 13): "migrate data".</summary>
public sealed class CollectionClaimLegacyTests(SqlServerFixture fixture, ITestOutputHelper output) : CollectionTestBase(fixture, output)
{
    [Fact]
    public async Task The_legacy_listing_finds_only_inactive_never_merged_accounts_with_the_same_email_in_any_case()
    {
        // Given Ada's two legacy accounts (one with the e-mail in other case), a merged account with her e-mail,
        // Carol (inactive, other e-mail) and Bob (active, other e-mail), each with collections
        var w = await GivenTheWorldAsync();

        // When Ada's legacy collections are listed
        var rows = await Client.ListLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);

        // Then exactly AdaOld's and AdaOlder's collections are offered, with their account, in order
        foreach (var row in rows)
        {
            Output.WriteLine($"{row.LegacyUserId} {row.CollectionId} {row.Name}");
        }

        Assert.Equal(
            [(w.AdaOld, w["old.reading"]), (w.AdaOld, w["old.poems"]), (w.AdaOlder, w["older.poems"]), (w.AdaOlder, w["older.letters"])],
            rows.Select(r => (r.LegacyUserId, r.CollectionId)).ToArray());
        Assert.DoesNotContain(rows, r => r.CollectionId == w["merged.left"] || r.CollectionId == w["carol.list"] || r.CollectionId == w["bob.list"]
                                         || r.CollectionId == w["ada.reading"]);
    }

    [Fact]
    public async Task A_user_without_legacy_accounts_is_offered_nothing()
    {
        var w = await GivenTheWorldAsync();

        Assert.Empty(await Client.ListLegacyCollectionsAsync(w.Bob, cancellationToken: Ct));
    }

    [Fact]
    public async Task Legacy_collections_are_listed_only_for_an_active_user()
    {
        var w = await GivenTheWorldAsync();

        await AssertRefusedAsync(ErrorRegistry.CollectionUserNotFoundOrInactive, () => Client.ListLegacyCollectionsAsync(w.AdaOld, cancellationToken: Ct));
        await AssertRefusedAsync(ErrorRegistry.CollectionUserNotFoundOrInactive, () => Client.ListLegacyCollectionsAsync(int.MaxValue, cancellationToken: Ct));
    }

    [Fact]
    public async Task Claiming_every_legacy_account_moves_their_collections_in_one_recorded_claim_and_renames_the_collisions()
    {
        // Given Ada with "Reading list" and "Poems (2)"; AdaOld with "Reading list", "Poems"; AdaOlder with "poems", "Letters"
        var w = await GivenTheWorldAsync();

        // When Ada claims from all her legacy accounts
        var result = await Client.ClaimLegacyCollectionsAsync(w.Ada, requestedBy: "migrate data", cancellationToken: Ct);

        // Then the four are hers: "Reading list" (2); the first "Poems" kept; "poems" skips (2) (Ada's "Poems (2)"); "Letters" kept
        await DumpClaimsAsync();
        var byId = result.Collections.ToDictionary(c => c.CollectionId);
        Assert.Equal(4, result.ClaimedCount);
        Assert.Equal(("Reading list (2)", true, (int?)w.AdaOld), (byId[w["old.reading"]].Name, byId[w["old.reading"]].Renamed, byId[w["old.reading"]].FromUserId));
        Assert.Equal(("Poems", false, (int?)w.AdaOld), (byId[w["old.poems"]].Name, byId[w["old.poems"]].Renamed, byId[w["old.poems"]].FromUserId));
        Assert.Equal(("poems (3)", true, (int?)w.AdaOlder), (byId[w["older.poems"]].Name, byId[w["older.poems"]].Renamed, byId[w["older.poems"]].FromUserId));
        Assert.Equal(("Letters", false, (int?)w.AdaOlder), (byId[w["older.letters"]].Name, byId[w["older.letters"]].Renamed, byId[w["older.letters"]].FromUserId));
        Assert.Equal(["Reading list", "Poems (2)", "Reading list (2)", "Poems", "poems (3)", "Letters"], await NamesOfAsync(w.Ada));
        Assert.Empty(await NamesOfAsync(w.AdaOld));
        Assert.Empty(await NamesOfAsync(w.AdaOlder));
        Assert.Equal(["Left behind"], await NamesOfAsync(w.AdaMerged));

        // And one claim records every move: from-user, to-user, old and new name, who and when
        var claim = Assert.Single(await RowsAsync("SELECT ClaimId, Kind, UserId, LegacyUserId, RequestedBy, CollectionCount, RenamedCount FROM dbmerge.CollectionClaim;"));
        Assert.Equal((result.ClaimId, "legacy", w.Ada, (int?)null, "migrate data", 4, 2),
            ((long?)(long)claim["ClaimId"]!, (string)claim["Kind"]!, (int)claim["UserId"]!, claim["LegacyUserId"] as int?, (string)claim["RequestedBy"]!,
             (int)claim["CollectionCount"]!, (int)claim["RenamedCount"]!));
        var items = await RowsAsync("SELECT CollectionId, FromUserId, ToUserId, OldName, NewName FROM dbmerge.CollectionClaimItem WHERE ClaimId = @C ORDER BY CollectionId;", ("@C", result.ClaimId));
        Assert.Equal(
            [(w["old.reading"], w.AdaOld, "Reading list", "Reading list (2)"), (w["old.poems"], w.AdaOld, "Poems", "Poems"),
             (w["older.poems"], w.AdaOlder, "poems", "poems (3)"), (w["older.letters"], w.AdaOlder, "Letters", "Letters")],
            items.Select(i => ((int)i["CollectionId"]!, (int)i["FromUserId"]!, (string)i["OldName"]!, (string)i["NewName"]!)).ToArray());
        Assert.All(items, i => Assert.Equal(w.Ada, (int)i["ToUserId"]!));
    }

    [Fact]
    public async Task A_legacy_claim_after_the_session_claim_numbers_past_every_name_the_user_has_by_then()
    {
        // Given Ada claimed her session (she now has "Reading list", "Poems (2)", "Favourites", "Reading list (2)", "Poems", "poems (3)")
        var w = await GivenTheWorldAsync();
        await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, cancellationToken: Ct);

        // When she claims her legacy accounts
        var result = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);

        // Then (the worked example of CollectionWorld) "Reading list (3)", "Poems (4)", "poems (5)", "Letters"
        Assert.Equal(["Reading list (3)", "Poems (4)", "poems (5)", "Letters"], result.Collections.Select(c => c.Name).ToArray());
        var names = await NamesOfAsync(w.Ada);
        Assert.Equal(10, names.Count);
        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public async Task Claiming_legacy_collections_again_claims_nothing_and_writes_no_audit_row()
    {
        var w = await GivenTheWorldAsync();
        var first = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        var before = await SnapshotAsync();

        var again = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        var againFromOne = await Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOld, cancellationToken: Ct);

        Assert.Equal(4, first.ClaimedCount);
        Assert.Empty(again.Collections);
        Assert.Null(again.ClaimId);
        Assert.Empty(againFromOne.Collections);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaim;"));
    }

    [Fact]
    public async Task Claiming_from_one_legacy_account_moves_only_that_accounts_collections()
    {
        var w = await GivenTheWorldAsync();

        var result = await Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOlder, cancellationToken: Ct);

        Assert.Equal([w["older.poems"], w["older.letters"]], result.Collections.Select(c => c.CollectionId).ToArray());
        Assert.All(result.Collections, c => Assert.Equal(w.AdaOlder, c.FromUserId));
        Assert.Equal(["Reading list", "Poems"], await NamesOfAsync(w.AdaOld));
        Assert.Equal(w.AdaOlder, await ScalarAsync<int>("SELECT LegacyUserId FROM dbmerge.CollectionClaim WHERE ClaimId = @C;", ("@C", result.ClaimId)));
    }

    [Theory]
    [InlineData("itself", ErrorRegistry.CollectionNotLegacyAccount, "the user itself")]
    [InlineData("merged", ErrorRegistry.CollectionNotLegacyAccount, "merged into user")]
    [InlineData("carol", ErrorRegistry.CollectionNotLegacyAccount, "another e-mail")]
    [InlineData("bob", ErrorRegistry.CollectionNotLegacyAccount, "another e-mail")]
    [InlineData("missing", ErrorRegistry.CollectionLegacyAccountNotFound, "does not exist")]
    public async Task An_account_that_is_not_a_legacy_account_of_the_user_is_refused_with_its_number_naming_it_and_nothing_changes(
        string account, int number, string reason)
    {
        // Given the world
        var w = await GivenTheWorldAsync();
        var id = account switch { "itself" => w.Ada, "merged" => w.AdaMerged, "carol" => w.Carol, "bob" => w.Bob, _ => int.MaxValue };
        var before = await SnapshotAsync();

        // When Ada claims from it, then it is refused with its number, naming the account and why
        var error = await AssertRefusedAsync(number, () => Client.ClaimLegacyCollectionsAsync(w.Ada, id, cancellationToken: Ct));
        Assert.Contains(id.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);

        // And nothing changed (no collection, no audit row, no user row)
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_dry_run_reports_exactly_what_the_claim_then_does_and_changes_nothing()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        var dry = await Client.ClaimLegacyCollectionsAsync(w.Ada, dryRun: true, cancellationToken: Ct);

        Assert.True(dry.DryRun);
        Assert.Null(dry.ClaimId);
        Assert.Equal(4, dry.ClaimedCount);
        Assert.Equal(before, await SnapshotAsync());

        var real = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);

        Assert.Equal(dry.Collections, real.Collections);
    }

    [Fact]
    public async Task A_legacy_account_merged_while_the_claim_waits_for_its_row_is_refused_under_the_lock()
    {
        // Given a transaction (standing in for a user merge) holding AdaOld's user row
        var w = await GivenTheWorldAsync();
        Task<Outcome<CollectionClaimResult>> claim;
        await using (var merge = await HoldAsync("UPDATE app.[User] SET UpdatedAt = UpdatedAt WHERE UserId = @L;", ("@L", w.AdaOld)))
        {
            // When Ada claims from AdaOld and is seen waiting for that row
            claim = Task.Run(() => TryAsync(() => Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOld, cancellationToken: Ct)), Ct);
            await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: merge.Session)).Count == 1, TimeSpan.FromSeconds(30), "the claim waiting for AdaOld's row");
            Assert.False(claim.IsCompleted);

            // and the "merge" moves AdaOld's collections to Bob and marks AdaOld merged, then commits
            await using (var command = new Microsoft.Data.SqlClient.SqlCommand(
                             "UPDATE app.Collection SET OwnerUserId = @B WHERE OwnerUserId = @L; UPDATE app.[User] SET MergedIntoUserId = @B WHERE UserId = @L;",
                             merge.Connection, merge.Transaction))
            {
                command.Parameters.AddWithValue("@B", w.Bob);
                command.Parameters.AddWithValue("@L", w.AdaOld);
                await command.ExecuteNonQueryAsync(Ct);
            }

            await merge.CommitAsync();
        }

        // Then the claim re-checked AdaOld under the lock and refused it: "never merged" no longer holds
        var outcome = await claim;
        Assert.NotNull(outcome.Error);
        Output.WriteLine(outcome.Error!.Message);
        Assert.Equal(ErrorRegistry.CollectionNotLegacyAccount, outcome.Error.ErrorNumber);
        Assert.Contains($"merged into user {w.Bob}", outcome.Error.Message, StringComparison.Ordinal);
        Assert.Equal(["Reading list", "Poems (2)"], await NamesOfAsync(w.Ada));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaim;"));
    }

    [Fact]
    public async Task A_claim_of_all_legacy_accounts_skips_one_merged_while_it_waited()
    {
        var w = await GivenTheWorldAsync();
        Task<Outcome<CollectionClaimResult>> claim;
        await using (var merge = await HoldAsync("UPDATE app.[User] SET UpdatedAt = UpdatedAt WHERE UserId = @L;", ("@L", w.AdaOld)))
        {
            claim = Task.Run(() => TryAsync(() => Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct)), Ct);
            await WaitUntilAsync(async () => (await LockWaitersAsync(blockedBy: merge.Session)).Count == 1, TimeSpan.FromSeconds(30), "the claim waiting for AdaOld's row");
            await using (var command = new Microsoft.Data.SqlClient.SqlCommand(
                             "UPDATE app.Collection SET OwnerUserId = @B WHERE OwnerUserId = @L; UPDATE app.[User] SET MergedIntoUserId = @B WHERE UserId = @L;",
                             merge.Connection, merge.Transaction))
            {
                command.Parameters.AddWithValue("@B", w.Bob);
                command.Parameters.AddWithValue("@L", w.AdaOld);
                await command.ExecuteNonQueryAsync(Ct);
            }

            await merge.CommitAsync();
        }

        var outcome = await claim;
        Assert.Null(outcome.Error);
        Assert.Equal([w["older.poems"], w["older.letters"]], outcome.Result!.Collections.Select(c => c.CollectionId).ToArray());
        Assert.All(outcome.Result.Collections, c => Assert.Equal(w.AdaOlder, c.FromUserId));
    }

    [Fact]
    public async Task A_legacy_claim_and_a_user_merge_of_the_legacy_account_started_together_serialize_without_a_deadlock()
    {
        // Given the world and 300 more collections in AdaOld, so both operations take a while
        var w = await GivenTheWorldAsync();
        await ExecAsync("INSERT INTO app.Collection (Name, OwnerUserId) SELECT TOP (300) CONCAT(N'bulk ', ROW_NUMBER() OVER (ORDER BY (SELECT NULL))), @L FROM sys.all_columns;",
            ("@L", w.AdaOld));

        // When Ada claims AdaOld's collections while AdaOld is merged into Bob
        var claim = Task.Run(() => TryAsync(() => Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOld, cancellationToken: Ct)), Ct);
        var merge = Task.Run(() => TryAsync(() => Client.MergeUsersAsync(w.AdaOld, w.Bob, "test: merge racing a claim", "test", false, Ct)), Ct);
        var (claimed, merged) = (await claim, await merge);

        // Then both finished (the claim possibly refused because the merge came first), none as a deadlock victim,
        // and every one of AdaOld's 302 collections is in exactly one place consistent with the order they ran in
        Output.WriteLine($"claim: {claimed.Result?.ClaimedCount.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? claimed.Error!.Message}");
        Output.WriteLine($"merge: {merged.Result?.MergeRunId.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? merged.Error!.Message}");
        Dump("merge runs", await RowsAsync("SELECT MergeRunId, Status, ErrorNumber, ErrorMessage FROM dbmerge.MergeRun ORDER BY MergeRunId;"));
        Assert.Null(merged.Error);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun WHERE ErrorNumber = 1205;"));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @L;", ("@L", w.AdaOld)));
        if (claimed.Error is null)
        {
            Assert.Equal(302, claimed.Result!.ClaimedCount);
            Assert.Equal(304, (await NamesOfAsync(w.Ada)).Count);
        }
        else
        {
            Assert.Equal(ErrorRegistry.CollectionNotLegacyAccount, claimed.Error.ErrorNumber);
            Assert.Equal(2, (await NamesOfAsync(w.Ada)).Count);
            Assert.Equal(303, (await NamesOfAsync(w.Bob)).Count);
        }
    }
}
