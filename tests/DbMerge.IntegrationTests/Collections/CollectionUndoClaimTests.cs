using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Collections;

/// <summary>api.Collection_UndoClaim and api.CollectionClaim_List against SQL Server (issue 13): see what moved, undo it.</summary>
public sealed class CollectionUndoClaimTests(SqlServerFixture fixture, ITestOutputHelper output) : CollectionTestBase(fixture, output)
{
    private const string CollectionRows =
        "SELECT CONCAT(CollectionId, ' owner ', OwnerUserId, ' session ', AnonymousSessionId, ' name [', Name, '] len ', DATALENGTH(Name), " +
        "' created ', CONVERT(varchar(30), CreatedAt, 126), ' updated ', CONVERT(varchar(30), UpdatedAt, 126)) AS R FROM app.Collection ORDER BY R;";

    private async Task<List<string>> CollectionRowsAsync() =>
        (await RowsAsync(CollectionRows)).Select(r => (string)r["R"]!).ToList();

    [Fact]
    public async Task An_undo_restores_every_collection_exactly_as_before_the_claim_and_marks_the_claim_undone()
    {
        // Given the world, its collections as they are, and Ada's claim of both legacy accounts (two renamed)
        var w = await GivenTheWorldAsync();
        var before = await CollectionRowsAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        Assert.Equal(2, claim.RenamedCollections.Count);
        Assert.NotEqual(before, await CollectionRowsAsync());

        // When an operator undoes the claim
        var undone = await Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, requestedBy: "ops: ticket 4711", cancellationToken: Ct);

        // Then every collection is back exactly (owner, name, UpdatedAt), and the claim says when and by whom it was undone
        await DumpClaimsAsync();
        Assert.Equal(before, await CollectionRowsAsync());
        Assert.Equal((claim.ClaimId.Value, CollectionClaimKinds.Legacy, w.Ada, 4, false, false, "ops: ticket 4711"),
            (undone.ClaimId, undone.Kind, undone.UserId, undone.RestoredCount, undone.AlreadyUndone, undone.DryRun, undone.UndoneBy));
        Assert.NotNull(undone.UndoneAt);
        var row = Assert.Single(await RowsAsync("SELECT UndoneAt, UndoneBy FROM dbmerge.CollectionClaim WHERE ClaimId = @C;", ("@C", claim.ClaimId)));
        Assert.Equal(("ops: ticket 4711", undone.UndoneAt), ((string)row["UndoneBy"]!, (DateTime?)row["UndoneAt"]));
        Assert.Equal(4, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.CollectionClaimItem WHERE ClaimId = @C;", ("@C", claim.ClaimId)));

        // And the legacy collections can be claimed again, as a new claim
        var again = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        Assert.Equal(claim.Collections, again.Collections);
        Assert.NotEqual(claim.ClaimId, again.ClaimId);
    }

    [Fact]
    public async Task Undoing_an_undone_claim_changes_nothing_and_says_so()
    {
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        var first = await Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, cancellationToken: Ct);
        var before = await SnapshotAsync();

        var second = await Client.UndoCollectionClaimAsync(claim.ClaimId.Value, cancellationToken: Ct);

        Assert.True(second.AlreadyUndone);
        Assert.Equal(0, second.RestoredCount);
        Assert.Equal((first.UndoneAt, first.UndoneBy), (second.UndoneAt, second.UndoneBy));
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_dry_run_undo_reports_what_it_would_restore_and_changes_nothing()
    {
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        var before = await SnapshotAsync();

        var dry = await Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, dryRun: true, cancellationToken: Ct);

        Assert.True(dry.DryRun);
        Assert.Equal(4, dry.RestoredCount);
        Assert.False(dry.AlreadyUndone);
        Assert.Null(dry.UndoneAt);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Theory]
    [InlineData("renamed")]
    [InlineData("renamed by case only")]
    [InlineData("renamed by a trailing space")]
    [InlineData("updated")]
    [InlineData("deleted")]
    [InlineData("moved by a merge")]
    public async Task An_undo_after_a_collection_changed_since_the_claim_is_refused_naming_it_and_changes_nothing(string change)
    {
        // Given Ada's claim of both legacy accounts, then a change to one claimed collection ("Letters")
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        var letters = w["older.letters"];
        switch (change)
        {
            case "renamed":
                await ExecAsync("UPDATE app.Collection SET Name = N'Letters to Charles' WHERE CollectionId = @C;", ("@C", letters));
                break;
            case "renamed by case only":
                // Equal to 'Letters' under the case-insensitive collations, not byte for byte: still a change.
                await ExecAsync("UPDATE app.Collection SET Name = N'letters' WHERE CollectionId = @C;", ("@C", letters));
                break;
            case "renamed by a trailing space":
                // Equal to 'Letters' under '=' in every collation (trailing spaces are padded), not in length.
                await ExecAsync("UPDATE app.Collection SET Name = N'Letters ' WHERE CollectionId = @C;", ("@C", letters));
                break;
            case "updated":
                await ExecAsync("UPDATE app.Collection SET UpdatedAt = DATEADD(SECOND, 1, UpdatedAt) WHERE CollectionId = @C;", ("@C", letters));
                break;
            case "deleted":
                await ExecAsync("DELETE FROM app.Collection WHERE CollectionId = @C;", ("@C", letters));
                break;
            default:
                await Client.MergeUsersAsync(w.Ada, w.Bob, "test: Ada merged into Bob after the claim", "test", false, Ct);
                break;
        }

        var before = await SnapshotAsync();

        // When the operator undoes the claim
        var error = await AssertRefusedAsync(ErrorRegistry.CollectionClaimChangedSince, () => Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, cancellationToken: Ct));

        // Then it is refused with 51559 naming the (first) changed collection and what happened to it, and nothing changed
        Assert.IsType<DbMergeConflictException>(error);
        var first = change == "moved by a merge" ? claim.Collections.Min(c => c.CollectionId) : letters;
        var what = change switch
        {
            "moved by a merge" => "moved to another owner",
            "renamed by case only" or "renamed by a trailing space" => "renamed",
            _ => change,
        };
        Assert.Contains($"collection {first} of claim {claim.ClaimId} was {what}", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_undo_after_a_legacy_account_was_merged_since_is_refused_and_changes_nothing()
    {
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        await Client.MergeUsersAsync(w.AdaOlder, w.Ada, "test: legacy account merged after the claim", "test", false, Ct);
        var before = await SnapshotAsync();

        var error = await AssertRefusedAsync(ErrorRegistry.CollectionClaimAccountChanged, () => Client.UndoCollectionClaimAsync(claim.ClaimId!.Value, cancellationToken: Ct));

        Assert.Contains($"account {w.AdaOlder}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"was merged into user {w.Ada}", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task An_unknown_claim_and_a_bad_claim_id_are_refused_with_their_numbers()
    {
        await GivenTheWorldAsync();

        await AssertRefusedAsync(ErrorRegistry.CollectionClaimNotFound, () => Client.UndoCollectionClaimAsync(long.MaxValue, cancellationToken: Ct));
        await AssertRefusedAsync(ErrorRegistry.CollectionParameterInvalid, () => Client.UndoCollectionClaimAsync(0, cancellationToken: Ct));
    }

    [Fact]
    public async Task Only_an_operator_may_undo_a_claim()
    {
        // Given a claim and an application user (DbMergeApp only) in a database of this test's own
        await UseOwnDatabaseAsync(); // creates a database user
        var w = await GivenTheWorldAsync();
        var claim = await Client.ClaimLegacyCollectionsAsync(w.Ada, cancellationToken: Ct);
        await ExecAsync("""
            IF USER_ID(N'dbmerge_collections_app') IS NULL
            BEGIN
                CREATE USER dbmerge_collections_app WITHOUT LOGIN;
                ALTER ROLE DbMergeApp ADD MEMBER dbmerge_collections_app;
            END;
            """);
        var before = await SnapshotAsync();

        // When the application user tries to undo it, then it is refused with 51561 and nothing changed
        var error = await Assert.ThrowsAnyAsync<SqlException>(() => ExecAsync(
            "EXECUTE AS USER = N'dbmerge_collections_app'; EXEC api.Collection_UndoClaim @ClaimId = @C, @DryRun = 0; REVERT;", ("@C", claim.ClaimId)));
        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.CollectionUndoNotOperator, error.Number);
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task The_claim_history_shows_each_moved_collection_with_from_to_names_who_and_when()
    {
        // Given a session claim and a legacy claim by Ada
        var w = await GivenTheWorldAsync();
        var session = await Client.ClaimSessionCollectionsAsync(CollectionWorld.AdaSession, w.Ada, "login", cancellationToken: Ct);
        var legacy = await Client.ClaimLegacyCollectionsAsync(w.Ada, w.AdaOld, requestedBy: "migrate data", cancellationToken: Ct);

        // When the history is listed by user, by legacy account and by claim
        var byUser = await Client.ListCollectionClaimsAsync(userId: w.Ada, cancellationToken: Ct);
        var byAccount = await Client.ListCollectionClaimsAsync(userId: w.AdaOld, cancellationToken: Ct);
        var byClaim = await Client.ListCollectionClaimsAsync(claimId: session.ClaimId, cancellationToken: Ct);
        var latest = await Client.ListCollectionClaimsAsync(top: 3, cancellationToken: Ct);

        // Then newest claim first, one entry per collection, with where it came from and went, its names, who and when
        foreach (var e in byUser)
        {
            Output.WriteLine($"{e.ClaimId} {e.Kind} {e.UserId} {e.FromUserId} {e.CollectionId} [{e.OldName}] -> [{e.NewName}] {e.RequestedBy} {e.ClaimedAt:O}");
        }

        Assert.Equal(6, byUser.Count);
        Assert.Equal([legacy.ClaimId!.Value, legacy.ClaimId.Value, session.ClaimId!.Value, session.ClaimId.Value, session.ClaimId.Value, session.ClaimId.Value],
            byUser.Select(e => e.ClaimId).ToArray());
        var reading = byUser.Single(e => e.CollectionId == w["old.reading"]);
        Assert.Equal((CollectionClaimKinds.Legacy, w.Ada, (int?)w.AdaOld, "Reading list", "Reading list (3)", true, "migrate data"),
            (reading.Kind, reading.UserId, reading.FromUserId, reading.OldName, reading.NewName, reading.Renamed, reading.RequestedBy));
        Assert.All(byUser.Where(e => e.Kind == CollectionClaimKinds.Session), e => Assert.Null(e.FromUserId));
        Assert.Equal(byUser.Where(e => e.ClaimId == legacy.ClaimId).Select(e => e.CollectionId), byAccount.Select(e => e.CollectionId));
        Assert.Equal(4, byClaim.Count);
        Assert.Equal(3, latest.Count);
        await AssertRefusedAsync(ErrorRegistry.CollectionParameterInvalid, () => Client.ListCollectionClaimsAsync(w.Ada, 1, cancellationToken: Ct));
    }
}
