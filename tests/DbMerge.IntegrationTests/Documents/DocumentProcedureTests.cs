using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Documents;

/// <summary>api.Document_Create / _Move / _Tree and dbmerge.Document_EffectiveRole against SQL Server (issue 4).</summary>
public sealed class DocumentProcedureTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('doc ', DocumentId, ' ', Path, ' ', Title, ' ', CONVERT(varchar(30), UpdatedAt, 126)) AS R FROM app.Document " +
        "UNION ALL SELECT CONCAT('access ', DocumentAccessId, ' ', DocumentId, ' ', UserId, ' ', Team, ' ', Role) FROM app.DocumentAccess " +
        "UNION ALL SELECT CONCAT('invitation ', DocumentInvitationId, ' ', DocumentId, ' ', Email) FROM app.DocumentInvitation " +
        "UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType, ' ', Payload) FROM dbmerge.Outbox ORDER BY R;";

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<DocumentWorld> GivenTheWorldAsync() =>
        await DocumentWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);

    private Task<DocumentMoved> MoveAsync(int document, int target, string position, int? actor) =>
        Client.MoveDocumentAsync(document, target, position, actor, cancellationToken: Ct);

    private async Task AssertRefusedAsync(int number, Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(call);
        Output.WriteLine($"refused as expected: {error.ErrorNumber} {error.Message}");
        Assert.Equal(number, error.ErrorNumber);
        Assert.True(ErrorRegistry.TryGet(number, out _));
    }

    /// <summary>Title → path of every document, dumped first.</summary>
    private async Task<Dictionary<string, string>> PathsAsync()
    {
        var rows = await RowsAsync("SELECT Title, Path FROM app.Document ORDER BY Path;");
        Dump("documents", rows);
        return rows.ToDictionary(r => (string)r["Title"]!, r => (string)r["Path"]!);
    }

    private async Task<List<string>> SnapshotAsync() =>
        [.. (await RowsAsync(Snapshot)).Select(r => (string)r["R"]!)];

    private async Task<List<string>> AccessesAsync(int document)
    {
        var rows = await RowsAsync("SELECT UserId, Team, Role FROM app.DocumentAccess WHERE DocumentId = @d ORDER BY Role, UserId, Team;", ("@d", document));
        Dump($"accesses of {document}", rows);
        return [.. rows.Select(r => $"{r["UserId"] ?? r["Team"]}:{r["Role"]}")];
    }

    private Task<int> InvitationCountAsync(int document) =>
        ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE DocumentId = @d;", ("@d", document))!;

    /// <summary>Every non-root has its parent (paths are unique by UQ_app_Document_Path; siblings may have gaps, as in treebeard).</summary>
    private async Task AssertTreeIsConsistentAsync()
    {
        var broken = await RowsAsync(
            """
            SELECT d.Path FROM app.Document AS d
            WHERE DATALENGTH(d.Path) > 7
              AND NOT EXISTS (SELECT 1 FROM app.Document AS p WHERE p.Path = LEFT(d.Path, DATALENGTH(d.Path) - 7));
            """);
        Dump("orphans", broken);
        Assert.Empty(broken);
    }

    public static TheoryData<string, string, string, string[]> EveryPosition => new()
    {
        // document, position, target, expected "Title=Path" for A's tree after the move (E stays 0000002 unless listed).
        // Gaps at the origin stay; siblings shift only where the destination has no free step.
        { "D", "left", "B", ["A=0000001", "D=00000010000001", "B=00000010000002", "B1=000000100000020000001", "B2=000000100000020000002", "C=00000010000003"] },
        { "B", "right", "D", ["A=0000001", "C=00000010000002", "D=00000010000003", "B=00000010000004", "B1=000000100000040000001", "B2=000000100000040000002"] },
        { "C", "first-sibling", "D", ["A=0000001", "C=00000010000001", "B=00000010000002", "B1=000000100000020000001", "B2=000000100000020000002", "D=00000010000003"] },
        { "B", "last-sibling", "C", ["A=0000001", "C=00000010000002", "D=00000010000003", "B=00000010000004", "B1=000000100000040000001", "B2=000000100000040000002"] },
        { "D", "first-child", "B", ["A=0000001", "B=00000010000001", "D=000000100000010000001", "B1=000000100000010000002", "B2=000000100000010000003", "C=00000010000002"] },
        { "B1", "last-child", "C", ["A=0000001", "B=00000010000001", "B2=000000100000010000002", "C=00000010000002", "B1=000000100000020000001", "D=00000010000003"] },
        { "B1", "right", "C", ["A=0000001", "B=00000010000001", "B2=000000100000010000002", "C=00000010000002", "B1=00000010000003", "D=00000010000004"] },
        { "B2", "left", "B1", ["A=0000001", "B=00000010000001", "B2=000000100000010000001", "B1=000000100000010000002", "C=00000010000002", "D=00000010000003"] },
    };

    [Theory]
    [MemberData(nameof(EveryPosition))]
    public async Task Every_position_gives_the_treebeard_paths_leaving_the_gaps_at_the_origin(string document, string position, string target, string[] expected)
    {
        // Given the world
        var w = await GivenTheWorldAsync();
        var ids = new Dictionary<string, int> { ["A"] = w.A, ["B"] = w.B, ["B1"] = w.B1, ["B2"] = w.B2, ["C"] = w.C, ["D"] = w.D, ["E"] = w.E };

        // When the owner of A moves the document
        var moved = await MoveAsync(ids[document], ids[target], position, w.OwnerA);

        // Then the paths are exactly the desk-checked ones, in this sibling order, and nothing left its scope
        var paths = await PathsAsync();
        Assert.Equal(expected, paths.Where(p => p.Key != "E").OrderBy(p => p.Value, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        Assert.Equal("0000002", paths["E"]);
        Assert.False(moved.NoOp);
        Assert.False(moved.ScopeChanged);
        Assert.Equal(0, moved.AccessesDeleted);
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task A_same_tree_move_keeps_every_access_and_invitation()
    {
        var w = await GivenTheWorldAsync();
        var before = await RowsAsync("SELECT DocumentAccessId, DocumentId, UserId, Team, Role FROM app.DocumentAccess UNION ALL SELECT DocumentInvitationId, DocumentId, NULL, Email, Role FROM app.DocumentInvitation ORDER BY 1, 2;");

        var moved = await MoveAsync(w.C, w.B, "left", w.OwnerA);

        var after = await RowsAsync("SELECT DocumentAccessId, DocumentId, UserId, Team, Role FROM app.DocumentAccess UNION ALL SELECT DocumentInvitationId, DocumentId, NULL, Email, Role FROM app.DocumentInvitation ORDER BY 1, 2;");
        Dump("after", after);
        Assert.False(moved.ScopeChanged);
        Assert.Equal(before.Select(r => string.Join("|", r.Values)), after.Select(r => string.Join("|", r.Values)));
        Assert.Equal(w.A, moved.OldParentId);
        Assert.Equal(w.A, moved.NewParentId);
    }

    [Fact]
    public async Task A_cross_tree_move_of_a_child_deletes_its_own_accesses_and_invitations_but_not_its_descendants()
    {
        var w = await GivenTheWorldAsync();

        // When the operator moves B (Ann administrator, Bob commenter, one invitation) under E
        var moved = await MoveAsync(w.B, w.E, "last-child", null);

        var paths = await PathsAsync();
        Assert.Equal("00000010000002", paths["C"]); // the gap at step 1 stays: C and D are not rewritten
        Assert.Equal("00000010000003", paths["D"]);
        Assert.Equal("00000020000001", paths["B"]);
        Assert.Equal("000000200000010000001", paths["B1"]);
        Assert.Equal("000000200000010000002", paths["B2"]);
        Assert.True(moved.ScopeChanged);
        Assert.Equal(2, moved.AccessesDeleted);
        Assert.Equal(1, moved.InvitationsDeleted);
        Assert.Equal(0, moved.OwnersRestored);
        Assert.Equal(3, moved.DocumentsMoved);
        Assert.Equal(3, moved.PathsRewritten);
        Assert.Equal(3, moved.RowsWritten);
        Assert.Empty(await AccessesAsync(w.B));
        Assert.Equal(0, await InvitationCountAsync(w.B));
        Assert.Equal([$"{w.Bob}:editor"], await AccessesAsync(w.B1));
        Assert.Equal(1, await InvitationCountAsync(w.C));
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task A_root_moved_into_another_tree_loses_its_direct_accesses()
    {
        var w = await GivenTheWorldAsync();

        var moved = await MoveAsync(w.A, w.E, "last-child", null);

        var paths = await PathsAsync();
        Assert.Equal("0000002", paths["E"]); // the root gap at step 1 stays: E is not rewritten
        Assert.Equal("00000020000001", paths["A"]);
        Assert.Equal("000000200000010000001", paths["B"]);
        Assert.Equal("0000002000000100000010000001", paths["B1"]);
        Assert.Equal("0000002000000100000010000002", paths["B2"]);
        Assert.Equal("000000200000010000002", paths["C"]);
        Assert.Equal("000000200000010000003", paths["D"]);
        Assert.Equal(6, moved.RowsWritten);
        Assert.True(moved.ScopeChanged);
        Assert.Equal(3, moved.AccessesDeleted);
        Assert.Equal(0, moved.OwnersRestored);
        Assert.Null(moved.OldParentId);
        Assert.Equal(w.E, moved.NewParentId);
        Assert.Empty(await AccessesAsync(w.A));
        Assert.Equal([$"{w.Ann}:administrator", $"{w.Bob}:commenter"], await AccessesAsync(w.B));
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task Promotion_to_root_as_sibling_of_its_own_root_loses_its_accesses_and_gets_the_old_roots_owners()
    {
        var w = await GivenTheWorldAsync();

        // When OwnerA (owner of A; the target is a root, so only the document requirement applies) promotes B1
        var moved = await MoveAsync(w.B1, w.A, "right", w.OwnerA);

        var paths = await PathsAsync();
        Assert.Equal("0000001", paths["A"]);
        Assert.Equal("0000002", paths["B1"]);
        Assert.Equal("0000003", paths["E"]);              // no free root step after A: E shifted
        Assert.Equal("000000100000010000002", paths["B2"]); // B1's step under B stays a gap
        Assert.Equal(1, moved.SiblingsShifted);
        Assert.Equal(2, moved.RowsWritten);
        Assert.True(moved.ScopeChanged);
        Assert.Equal(1, moved.AccessesDeleted);
        Assert.Equal(2, moved.OwnersRestored);
        Assert.Null(moved.NewParentId);
        Assert.Equal(w.B, moved.OldParentId);
        var accesses = await AccessesAsync(w.B1);
        Assert.Equal(2, accesses.Count);
        Assert.Contains($"{w.OwnerA}:owner", accesses);
        Assert.Contains("founders:owner", accesses);
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task A_root_reordered_among_roots_keeps_only_its_owners()
    {
        var w = await GivenTheWorldAsync();

        var moved = await MoveAsync(w.A, w.E, "right", w.OwnerA);

        var paths = await PathsAsync();
        Assert.Equal("0000002", paths["E"]);        // not rewritten: A is appended after it, its root step 1 left as a gap
        Assert.Equal("0000003", paths["A"]);
        Assert.Equal("00000030000003", paths["D"]);
        Assert.True(moved.ScopeChanged);
        Assert.Equal(1, moved.AccessesDeleted);     // the reader; the two owner rows stay as they are
        Assert.Equal(0, moved.OwnersRestored);
        Assert.Equal(6, moved.RowsWritten);
        Assert.Equal(["founders:owner", $"{w.OwnerA}:owner"], await AccessesAsync(w.A)); // ORDER BY Role, UserId: the team's NULL first
        await AssertTreeIsConsistentAsync();
    }

    [Theory]
    [InlineData("B", "left", "B")]
    [InlineData("B", "right", "B1")]
    [InlineData("A", "first-sibling", "B2")]
    [InlineData("A", "last-sibling", "A")]
    public async Task A_sibling_move_relative_to_itself_or_a_descendant_changes_nothing(string document, string position, string target)
    {
        var w = await GivenTheWorldAsync();
        var ids = new Dictionary<string, int> { ["A"] = w.A, ["B"] = w.B, ["B1"] = w.B1, ["B2"] = w.B2 };
        var before = await SnapshotAsync();

        var moved = await MoveAsync(ids[document], ids[target], position, w.OwnerA);

        var after = await SnapshotAsync();
        Assert.True(moved.NoOp);
        Assert.False(moved.ScopeChanged);
        Assert.Equal(before, after);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox;"));
    }

    [Theory]
    [InlineData("B", "first-child", "B1")]
    [InlineData("B", "last-child", "B")]
    [InlineData("A", "last-child", "B2")]
    public async Task A_child_move_into_its_own_subtree_fails_and_changes_nothing(string document, string position, string target)
    {
        var w = await GivenTheWorldAsync();
        var ids = new Dictionary<string, int> { ["A"] = w.A, ["B"] = w.B, ["B1"] = w.B1, ["B2"] = w.B2 };
        var before = await SnapshotAsync();

        await AssertRefusedAsync(51206, () => MoveAsync(ids[document], ids[target], position, w.OwnerA));

        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_failure_after_the_cleanup_rolls_the_deletions_back()
    {
        await UseOwnDatabaseAsync(); // plants a trigger on app.Document
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();
        await ExecAsync(
            """
            CREATE TRIGGER app.TR_Test_Document_FailPathUpdate ON app.Document AFTER UPDATE AS
            BEGIN
                IF UPDATE(Path) THROW 50999, N'injected failure after the cleanup', 1;
            END;
            """);
        try
        {
            var error = await Assert.ThrowsAnyAsync<SqlException>(() => MoveAsync(w.B, w.E, "last-child", null));
            Output.WriteLine(error.Message);
            Assert.Equal(50999, error.Number);
        }
        finally
        {
            await ExecAsync("DROP TRIGGER app.TR_Test_Document_FailPathUpdate;");
        }

        Assert.Equal(before, await SnapshotAsync());
        Assert.Equal(2, (await AccessesAsync(w.B)).Count);
        Assert.Equal(1, await InvitationCountAsync(w.B));
    }

    [Fact]
    public async Task Authorization_requires_administrator_or_owner_of_the_document_and_of_the_new_parent()
    {
        var w = await GivenTheWorldAsync();
        var before = await SnapshotAsync();

        // Ann is administrator of B only (inherited by B1, B2)
        await AssertRefusedAsync(51204, () => MoveAsync(w.D, w.B, "first-child", w.Ann));        // not on the document
        await AssertRefusedAsync(51204, () => MoveAsync(w.B1, w.C, "last-child", w.Ann));        // not on the target (child)
        await AssertRefusedAsync(51204, () => MoveAsync(w.B1, w.C, "right", w.Ann));             // not on the target's parent A (sibling)
        await AssertRefusedAsync(51204, () => MoveAsync(w.C, w.B, "left", w.Reader));            // reader is not enough
        await AssertRefusedAsync(51204, () => MoveAsync(w.B, w.E, "last-child", w.OwnerA));      // owner of A, nothing on E
        await AssertRefusedAsync(51204, () => MoveAsync(w.B, w.B1, "left", w.Bob));              // commenter on B: checked before the no-op
        await AssertRefusedAsync(51203, () => MoveAsync(w.B, w.C, "left", w.Idle));              // inactive actor
        await AssertRefusedAsync(51203, () => MoveAsync(w.B, w.C, "left", int.MaxValue));        // unknown actor
        Assert.Equal(before, await SnapshotAsync());

        // Allowed: Ann inside B; OwnerE owner of E also made owner of A → cross-tree
        var inside = await MoveAsync(w.B1, w.B2, "first-child", w.Ann);
        Assert.False(inside.NoOp);
        await ExecAsync("INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) VALUES (@a, @u, 'administrator');", ("@a", w.A), ("@u", w.OwnerE));
        var cross = await MoveAsync(w.C, w.E, "first-child", w.OwnerE);
        Assert.True(cross.ScopeChanged);
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task A_system_move_without_an_actor_is_refused_for_an_application_user()
    {
        await UseOwnDatabaseAsync(); // creates a database user
        var w = await GivenTheWorldAsync();
        await ExecAsync(
            """
            IF USER_ID(N'dbmerge_docs_app') IS NULL
            BEGIN
                CREATE USER dbmerge_docs_app WITHOUT LOGIN;
                ALTER ROLE DbMergeApp ADD MEMBER dbmerge_docs_app;
            END;
            """);
        var error = await Assert.ThrowsAnyAsync<SqlException>(() => ExecAsync(
            "EXECUTE AS USER = N'dbmerge_docs_app'; EXEC api.Document_Move @DocumentId = @d, @TargetDocumentId = @t, @Position = 'left', @ActorUserId = NULL;",
            ("@d", w.C), ("@t", w.B)));
        Output.WriteLine(error.Message);
        Assert.Equal(51205, error.Number);
        Assert.Equal("00000010000002", (await PathsAsync())["C"]);
    }

    [Fact]
    public async Task Unknown_documents_positions_and_too_deep_results_are_refused_with_their_numbers()
    {
        var w = await GivenTheWorldAsync();
        await AssertRefusedAsync(51200, () => MoveAsync(int.MaxValue, w.B, "left", null));
        await AssertRefusedAsync(51201, () => MoveAsync(w.B, int.MaxValue, "left", null));
        await AssertRefusedAsync(51202, () => MoveAsync(w.B, w.C, "middle", null));

        // A chain 36 deep under a third root: B (3 levels) cannot go below its last document.
        var deep = await ScalarAsync<int>(
            "INSERT INTO app.Document (Path, Title) OUTPUT inserted.DocumentId VALUES ('0000003' + REPLICATE('0000001', 35), N'Deep');");
        var before = await SnapshotAsync();
        await AssertRefusedAsync(51207, () => MoveAsync(w.B, deep, "last-child", null));
        Assert.Equal(before, await SnapshotAsync());
    }

    [Fact]
    public async Task Outbox_rows_are_written_only_when_the_move_commits()
    {
        var w = await GivenTheWorldAsync();

        await AssertRefusedAsync(51204, () => MoveAsync(w.B, w.E, "last-child", w.Ann));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox;"));

        await MoveAsync(w.B, w.E, "last-child", null);

        var rows = await RowsAsync("SELECT EventType, Payload FROM dbmerge.Outbox ORDER BY OutboxId;");
        Dump("outbox", rows);
        Assert.Equal(["collaboration.reset", "document.moved"], rows.Select(r => (string)r["EventType"]!));
        Assert.Equal($$"""{"documentId":{{w.B}},"moveSequence":1,"accessesRemoved":true}""", rows[0]["Payload"]);
        Assert.Equal($$"""{"documentId":{{w.B}},"moveSequence":1,"oldParentId":{{w.A}},"newParentId":{{w.E}},"position":"last-child","targetDocumentId":{{w.E}},"scopeChanged":true}""", rows[1]["Payload"]);
    }

    [Fact]
    public async Task Concurrent_moves_in_one_tree_serialize_with_consistent_paths()
    {
        var w = await GivenTheWorldAsync();
        string[] positions = ["first-child", "last-child", "left", "right", "first-sibling", "last-sibling"];
        int[] movable = [w.B1, w.B2, w.C, w.D];
        int[] targets = [w.B, w.B1, w.B2, w.C, w.D];

        // When 40 moves among B's and A's children run at once (operator, waiting forever for the tree lock)
        var random = new Random(4);
        var moves = Enumerable.Range(0, 40)
            .Select(_ => (Document: movable[random.Next(movable.Length)], Target: targets[random.Next(targets.Length)], Position: positions[random.Next(positions.Length)]))
            .ToList();
        var outcomes = await Task.WhenAll(moves.Select(async m =>
        {
            try
            {
                var moved = await Client.MoveDocumentAsync(m.Document, m.Target, m.Position, null, lockTimeoutMs: -1, cancellationToken: Ct);
                return moved.NoOp ? -1 : 0;
            }
            catch (DbMergeException e)
            {
                return e.ErrorNumber;
            }
        }));

        // Then every failure is a documented refusal (moving into its own subtree, as the tree changed) and the tree is consistent
        Output.WriteLine(string.Join(", ", outcomes));
        Assert.All(outcomes, n => Assert.Contains(n, new[] { 0, -1, 51206 }));
        await PathsAsync();
        await AssertTreeIsConsistentAsync();
        Assert.Equal(7, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Document;"));
        Assert.Contains(0, outcomes);
        // Two outbox rows per committed move, none for no-ops and refusals.
        Assert.Equal(2 * outcomes.Count(n => n == 0), await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox;"));
    }

    [Fact]
    public async Task Create_appends_last_children_and_new_roots_owned_by_their_creator()
    {
        var w = await GivenTheWorldAsync();

        var root = await Client.CreateDocumentAsync(null, "F", w.Ann, cancellationToken: Ct);
        var underA = await Client.CreateDocumentAsync(w.A, "A4", w.Ann, cancellationToken: Ct);
        var underD = await Client.CreateDocumentAsync(w.D, "D1", w.Ann, cancellationToken: Ct);

        Assert.Equal("0000003", root.Path);
        Assert.Equal(1, root.Depth);
        Assert.Null(root.ParentDocumentId);
        Assert.Equal([$"{w.Ann}:owner"], await AccessesAsync(root.DocumentId));
        Assert.Equal("00000010000004", underA.Path);
        Assert.Equal(w.A, underA.ParentDocumentId);
        Assert.Equal("000000100000030000001", underD.Path);
        Assert.Equal(3, underD.Depth);
        Assert.Empty(await AccessesAsync(underA.DocumentId));

        var tree = await Client.GetTreeAsync(w.A, cancellationToken: Ct);
        Assert.Equal(["A", "B", "B1", "B2", "C", "D", "D1", "A4"], tree.Select(n => n.Title));
        Assert.Equal(0, tree[0].RelativeDepth);
        Assert.Equal(2, tree.Single(n => n.Title == "D1").RelativeDepth);
        Assert.Contains("\"role\":\"owner\"", tree[0].Accesses, StringComparison.Ordinal);
        await AssertTreeIsConsistentAsync();
    }

    [Fact]
    public async Task Create_refuses_a_missing_parent_an_inactive_creator_a_blank_title_and_a_full_parent()
    {
        var w = await GivenTheWorldAsync();
        await AssertRefusedAsync(51208, () => Client.CreateDocumentAsync(int.MaxValue, "X", w.Ann, cancellationToken: Ct));
        await AssertRefusedAsync(51209, () => Client.CreateDocumentAsync(w.A, "X", w.Idle, cancellationToken: Ct));
        await AssertRefusedAsync(51209, () => Client.CreateDocumentAsync(w.A, "X", int.MaxValue, cancellationToken: Ct));
        await AssertRefusedAsync(51211, () => Client.CreateDocumentAsync(w.A, "   ", w.Ann, cancellationToken: Ct));
        await AssertRefusedAsync(51211, () => Client.CreateDocumentAsync(w.A, new string('x', 256), w.Ann, cancellationToken: Ct));

        var deep = await ScalarAsync<int>("INSERT INTO app.Document (Path, Title) OUTPUT inserted.DocumentId VALUES ('0000003' + REPLICATE('0000001', 35), N'Deep');");
        await AssertRefusedAsync(51207, () => Client.CreateDocumentAsync(deep, "X", w.Ann, cancellationToken: Ct));
        await ExecAsync("INSERT INTO app.Document (Path, Title) VALUES ('0000002ZZZZZZZ', N'Last');");
        await AssertRefusedAsync(51207, () => Client.CreateDocumentAsync(w.E, "X", w.Ann, cancellationToken: Ct));
        Assert.Equal(9, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Document;"));
    }

    [Fact]
    public async Task The_effective_role_is_the_highest_direct_grant_on_the_document_or_an_ancestor()
    {
        var w = await GivenTheWorldAsync();
        async Task<string?> Role(int document, int user) =>
            await ScalarAsync<string>("SELECT er.Role FROM dbmerge.Document_EffectiveRole(@d, @u) AS er;", ("@d", document), ("@u", user));

        Assert.Equal("editor", await Role(w.B1, w.Bob));          // editor on B1 beats commenter on B
        Assert.Equal("commenter", await Role(w.B2, w.Bob));       // inherited from B
        Assert.Equal("reader", await Role(w.C, w.Bob));
        Assert.Null(await Role(w.D, w.Bob));
        Assert.Equal("owner", await Role(w.B2, w.OwnerA));        // from the root
        Assert.Equal("administrator", await Role(w.B1, w.Ann));
        Assert.Null(await Role(w.A, w.Ann));
        Assert.Null(await Role(w.E, w.OwnerA));
    }

    [Fact]
    public async Task A_held_tree_lock_times_out_moves_in_that_tree_but_not_work_in_another_tree()
    {
        var w = await GivenTheWorldAsync();

        // Given another session holding tree A's applock
        await using var holder = await OpenAsync();
        await using var transaction = (SqlTransaction)await holder.BeginTransactionAsync(Ct);
        await using (var take = new SqlCommand(
            "DECLARE @r int; EXEC @r = sys.sp_getapplock @Resource = N'DbMerge.Tree:0000001', @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 0; SELECT @r;",
            holder, transaction))
        {
            Assert.Equal(0, (int)(await take.ExecuteScalarAsync(Ct))!);
        }

        // Then a move in tree A times out with 51210 and changes nothing, while tree E accepts a new child
        var before = await SnapshotAsync();
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() =>
            Client.MoveDocumentAsync(w.C, w.B, "left", w.OwnerA, lockTimeoutMs: 200, cancellationToken: Ct));
        Assert.Equal(51210, error.ErrorNumber);
        Assert.Equal(before, await SnapshotAsync());
        var created = await Client.CreateDocumentAsync(w.E, "E1", w.OwnerE, lockTimeoutMs: 200, cancellationToken: Ct);
        Assert.Equal("00000020000001", created.Path);

        await transaction.RollbackAsync(Ct);
        var moved = await Client.MoveDocumentAsync(w.C, w.B, "left", w.OwnerA, lockTimeoutMs: 200, cancellationToken: Ct);
        Assert.False(moved.NoOp);
    }
}
