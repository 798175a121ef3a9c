using System.Xml.Linq;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Documents;

/// <summary>
/// Issue 10 against SQL Server: a move writes only what must change (gaps at the origin stay, siblings shift only
/// where the destination needs room), every lookup seeks, a move to where the document already is writes nothing,
/// errors come before writes, every lock wait is bounded, and the outbox keys are deterministic. Starts from
/// <see cref="DocumentForest"/>, the desk-check example of api.Document_Move.
/// </summary>
public sealed class DocumentMoveScaleTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const string Snapshot =
        "SELECT CONCAT('doc ', DocumentId, ' ', Path, ' ', Title, ' ', CONVERT(varchar(30), UpdatedAt, 126)) AS R FROM app.Document " +
        "UNION ALL SELECT CONCAT('access ', DocumentAccessId, ' ', DocumentId, ' ', UserId, ' ', Team, ' ', Role, ' ', CONVERT(varchar(30), UpdatedAt, 126)) FROM app.DocumentAccess " +
        "UNION ALL SELECT CONCAT('invitation ', DocumentInvitationId, ' ', DocumentId, ' ', Email) FROM app.DocumentInvitation " +
        "UNION ALL SELECT CONCAT('outbox ', OutboxId, ' ', EventType, ' ', DedupeKey, ' ', Payload) FROM dbmerge.Outbox " +
        "UNION ALL SELECT CONCAT('move ', DocumentId, ' ', MoveSequence) FROM dbmerge.DocumentMove ORDER BY R;";

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<DocumentForest> GivenTheForestAsync()
    {
        var forest = await DocumentForest.CreateAsync(sql => ScalarAsync<int>(sql)!);

        // A fixed, old UpdatedAt: a row the move rewrites gets a new one, every other row keeps this one.
        await ExecAsync("UPDATE app.Document SET UpdatedAt = '2000-01-01T00:00:00';");
        return forest;
    }

    private Task<DocumentMoved> MoveAsync(int document, int target, string position, int? actor = null, int lockTimeoutMs = 5000) =>
        Client.MoveDocumentAsync(document, target, position, actor, lockTimeoutMs, TimeSpan.FromMinutes(5), Ct);

    private async Task<List<string>> SnapshotAsync() => [.. (await RowsAsync(Snapshot)).Select(r => (string)r["R"]!)];

    private sealed record Row(string Title, string Path, DateTime UpdatedAt);

    private async Task<Dictionary<int, Row>> DocumentsAsync()
    {
        var rows = await RowsAsync("SELECT DocumentId, Title, Path, UpdatedAt FROM app.Document ORDER BY Path;");
        Dump("documents", rows);
        return rows.ToDictionary(r => (int)r["DocumentId"]!, r => new Row((string)r["Title"]!, (string)r["Path"]!, (DateTime)r["UpdatedAt"]!));
    }

    private static string[] TitlePaths(Dictionary<int, Row> documents) =>
        [.. documents.Values.OrderBy(r => r.Path, StringComparer.Ordinal).Select(r => $"{r.Title}={r.Path}")];

    private async Task<int> RefusedAsync(Func<Task> call)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(call);
        Output.WriteLine($"refused: {error.ErrorNumber} {error.Message}");
        return error.ErrorNumber;
    }

    /// <summary>Every non-root has its parent (paths are unique by UQ_app_Document_Path; gaps between siblings are allowed).</summary>
    private async Task AssertNoOrphansAsync()
    {
        var orphans = await RowsAsync(
            "SELECT d.Path FROM app.Document AS d WHERE DATALENGTH(d.Path) > 7 AND NOT EXISTS (SELECT 1 FROM app.Document AS p WHERE p.Path = LEFT(d.Path, DATALENGTH(d.Path) - 7));");
        Dump("orphans", orphans);
        Assert.Empty(orphans);
    }

    // ---- every position: exact paths, gaps left behind, rows written ------------------------------------------------

    /// <summary>document, position, target, every path afterwards, paths rewritten, rows written, siblings shifted, scope changed.</summary>
    public static TheoryData<string, string, string, string[], int, int, int, bool> Positions => new()
    {
        // appending: only the moved subtree; C's step 2 under A stays a gap
        { "C", "last-child", "E", DocumentForest.PathsAfter("C=00000020000002"), 1, 1, 0, true },
        // no free step before B: the run B, C, D (steps 1-3) shifts into the gap at 4; F (5) is not touched
        { "E1", "first-child", "A", DocumentForest.PathsAfter("E1=00000010000001", "B=00000010000002", "B1=000000100000020000001", "B2=000000100000020000002", "C=00000010000003", "D=00000010000004", "D1=000000100000040000001"), 7, 7, 3, true },
        // no free step between C and D: D (the run) shifts into the gap at 4, F takes D's step 3; F's step 5 is left
        { "F", "left", "D", DocumentForest.PathsAfter("F=00000010000003", "D=00000010000004", "D1=000000100000040000001"), 3, 3, 1, false },
        // a free step (4) between D and F: only the moved document
        { "D1", "left", "F", DocumentForest.PathsAfter("D1=00000010000004"), 1, 1, 0, false },
        // D's own step ends the run (C): rotation; C (1 row) is smaller than D (2) and is parked: C written twice
        { "D", "right", "B", DocumentForest.PathsAfter("D=00000010000002", "D1=000000100000020000001", "C=00000010000003"), 3, 4, 1, false },
        // root level: the run A, E shifts into the root gap 3; G's root step 4 is left
        { "G", "first-sibling", "A", DocumentForest.PathsAfter("G=0000001", "A=0000002", "B=00000020000001", "B1=000000200000010000001", "B2=000000200000010000002", "C=00000020000002", "D=00000020000003", "D1=000000200000030000001", "F=00000020000005", "E=0000003", "E1=00000030000001"), 11, 11, 2, true },
        // rotation of two single documents: the moved one (not smaller) is parked: written twice
        { "B2", "left", "B1", DocumentForest.PathsAfter("B2=000000100000010000001", "B1=000000100000010000002"), 2, 3, 1, false },
        // rotation: B (3 rows) is not smaller than C (1): C is parked
        { "C", "left", "B", DocumentForest.PathsAfter("C=00000010000001", "B=00000010000002", "B1=000000100000020000001", "B2=000000100000020000002"), 4, 5, 1, false },
        // the document lies inside a shifted sibling (before its own parent): the shift carries it, then it moves
        { "B1", "left", "B", DocumentForest.PathsAfter("B1=00000010000001", "B=00000010000002", "B2=000000100000020000002", "C=00000010000003", "D=00000010000004", "D1=000000100000040000001"), 6, 7, 3, false },
        // promotion to the last root: appended after G (4), root gap 3 stays
        { "D1", "last-sibling", "G", DocumentForest.PathsAfter("D1=0000005"), 1, 1, 0, true },
        // right of the last sibling: appended after F (5); B's step 1 is left
        { "B", "right", "F", DocumentForest.PathsAfter("B=00000010000006", "B1=000000100000060000001", "B2=000000100000060000002"), 3, 3, 0, false },
        // first child of a childless document
        { "F", "first-child", "C", DocumentForest.PathsAfter("F=000000100000020000001"), 1, 1, 0, false },
        // promotion into the root gap 3, left of G
        { "E1", "left", "G", DocumentForest.PathsAfter("E1=0000003"), 1, 1, 0, true },
        // cross-tree, no free step before E1: E1 shifts to 2
        { "C", "first-sibling", "E1", DocumentForest.PathsAfter("C=00000020000001", "E1=00000020000002"), 2, 2, 1, true },
    };

    [Theory]
    [MemberData(nameof(Positions))]
    public async Task Every_position_gives_the_desk_checked_paths_leaving_gaps_and_writing_only_the_documented_rows(
        string document, string position, string target, string[] expected, int pathsRewritten, int rowsWritten, int siblingsShifted, bool scopeChanged)
    {
        // Given the forest
        var f = await GivenTheForestAsync();
        var before = await DocumentsAsync();

        // When the operator moves the document
        var moved = await MoveAsync(f[document], f[target], position);

        // Then the paths are exactly the desk-checked ones, gaps included
        var after = await DocumentsAsync();
        Assert.Equal(expected, TitlePaths(after));

        // and exactly the documented rows changed: their paths, and only their UpdatedAt
        var changed = after.Where(a => a.Value.Path != before[a.Key].Path).Select(a => a.Value.Title).Order(StringComparer.Ordinal).ToList();
        Output.WriteLine("changed: " + string.Join(", ", changed));
        Assert.Equal(pathsRewritten, changed.Count);
        Assert.All(after, a => Assert.Equal(a.Value.Path != before[a.Key].Path, a.Value.UpdatedAt != before[a.Key].UpdatedAt));
        Assert.False(moved.NoOp);
        Assert.Equal(pathsRewritten, moved.PathsRewritten);
        Assert.Equal(rowsWritten, moved.RowsWritten);
        Assert.Equal(siblingsShifted, moved.SiblingsShifted);
        Assert.Equal(scopeChanged, moved.ScopeChanged);
        Assert.Equal(1, moved.MoveSequence);

        // and the history row says the same
        var history = await RowsAsync("SELECT DocumentId, MoveSequence, PathsRewritten, RowsWritten, SiblingsShifted, DocumentsMoved, OldPath, NewPath FROM dbmerge.DocumentMove;");
        Dump("history", history);
        var row = Assert.Single(history);
        Assert.Equal(f[document], row["DocumentId"]);
        Assert.Equal(pathsRewritten, row["PathsRewritten"]);
        Assert.Equal(rowsWritten, row["RowsWritten"]);
        Assert.Equal(DocumentForest.Paths[document], row["OldPath"]);
        Assert.Equal(after[f[document]].Path, row["NewPath"]);
        await AssertNoOrphansAsync();
    }

    // ---- no-op means no-op -------------------------------------------------------------------------------------------

    public static TheoryData<string, string, string> NoOps => new()
    {
        { "F", "right", "D" },          // already right of D (the gap at 4 between them does not matter)
        { "D", "left", "F" },           // already left of F
        { "A", "left", "E" },           // a root left of the root it precedes
        { "A", "first-sibling", "G" },  // the first root
        { "G", "last-sibling", "A" },   // the last root
        { "B", "first-child", "A" },    // already the first child
        { "F", "last-child", "A" },     // already the last child
        { "E1", "first-child", "E" },   // the only child
        { "E1", "last-child", "E" },
        { "B", "left", "B" },           // relative to itself
        { "A", "right", "B2" },         // relative to a descendant
    };

    [Theory]
    [MemberData(nameof(NoOps))]
    public async Task A_move_that_leaves_the_document_where_it_is_writes_nothing_at_all(string document, string position, string target)
    {
        var f = await GivenTheForestAsync();
        var before = await SnapshotAsync();

        var moved = await MoveAsync(f[document], f[target], position);

        Assert.True(moved.NoOp);
        Assert.False(moved.ScopeChanged);
        Assert.Null(moved.MoveSequence);
        Assert.Equal(0, moved.RowsWritten);
        Assert.Equal(before, await SnapshotAsync()); // paths, UpdatedAt, accesses, invitations, outbox, history
    }

    [Fact]
    public async Task A_root_moved_to_where_it_already_is_keeps_every_access_and_writes_no_outbox_row()
    {
        // Given root A with two owners and a reader, left of E
        var f = await GivenTheForestAsync();
        var accessesBefore = await RowsAsync("SELECT DocumentAccessId, UserId, Team, Role, UpdatedAt FROM app.DocumentAccess WHERE DocumentId = @a ORDER BY DocumentAccessId;", ("@a", f["A"]));
        Assert.Equal(3, accessesBefore.Count);

        // When its owner moves it left of E, where it already is
        var moved = await MoveAsync(f["A"], f["E"], "left", f.OwnerA);

        // Then nothing changed: every access (ids and timestamps), no outbox row, no history row
        Assert.True(moved.NoOp);
        var accessesAfter = await RowsAsync("SELECT DocumentAccessId, UserId, Team, Role, UpdatedAt FROM app.DocumentAccess WHERE DocumentId = @a ORDER BY DocumentAccessId;", ("@a", f["A"]));
        Dump("accesses of A", accessesAfter);
        Assert.Equal(accessesBefore.Select(r => string.Join("|", r.Values)), accessesAfter.Select(r => string.Join("|", r.Values)));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.Outbox;"));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.DocumentMove;"));
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.DocumentInvitation WHERE DocumentId IN (SELECT DocumentId FROM app.Document WHERE Path LIKE '0000001%') AND Email = N'b@example.org';"));
    }

    [Fact]
    public async Task A_root_reordered_among_the_roots_keeps_its_owner_rows_untouched_and_loses_the_others()
    {
        var f = await GivenTheForestAsync();
        var owners = await RowsAsync("SELECT DocumentAccessId, CONVERT(varchar(30), UpdatedAt, 126) AS UpdatedAt FROM app.DocumentAccess WHERE DocumentId = @a AND Role = 'owner' ORDER BY DocumentAccessId;", ("@a", f["A"]));
        Assert.Equal(2, owners.Count);

        var moved = await MoveAsync(f["A"], f["G"], "right", f.OwnerA);

        Assert.True(moved.ScopeChanged);
        Assert.Equal(1, moved.AccessesDeleted); // the reader
        Assert.Equal(0, moved.OwnersRestored);
        Assert.Equal(8, moved.RowsWritten);      // appended after G: A's whole tree (8 documents), nothing else
        var after = await RowsAsync("SELECT DocumentAccessId, CONVERT(varchar(30), UpdatedAt, 126) AS UpdatedAt FROM app.DocumentAccess WHERE DocumentId = @a ORDER BY DocumentAccessId;", ("@a", f["A"]));
        Dump("accesses of A", after);
        Assert.Equal(owners.Select(r => string.Join("|", r.Values)), after.Select(r => string.Join("|", r.Values)));
    }

    // ---- a big forest: one tree moved, the others untouched -------------------------------------------------------

    [Fact]
    public async Task Moving_root_1_of_1000_roots_under_root_2_rewrites_only_root_1s_subtree()
    {
        // Given 1,000 roots with two children each (3,000 documents)
        await ExecAsync(
            """
            WITH Numbers AS (SELECT TOP (1000) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS N FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b)
            INSERT INTO app.Document (Path, Title, UpdatedAt)
            SELECT r.Step + ISNULL(c.Step, ''), CONCAT(N'root ', n.N, N' child ', k.K), '2000-01-01T00:00:00'
            FROM Numbers AS n
            CROSS JOIN (VALUES (0), (1), (2)) AS k (K)
            CROSS APPLY dbmerge.Path_Step(n.N) AS r
            OUTER APPLY (SELECT s.Step FROM dbmerge.Path_Step(k.K) AS s WHERE k.K > 0) AS c;
            """);
        var before = await DocumentsAsync();
        Assert.Equal(3000, before.Count);
        var root1 = before.Single(d => d.Value.Path == "0000001").Key;
        var root2 = before.Single(d => d.Value.Path == "0000002").Key;

        // When the operator moves root 1 under root 2
        var moved = await MoveAsync(root1, root2, "last-child");

        // Then exactly root 1's three documents changed; the 2,997 others keep path and UpdatedAt; root step 1 is a gap
        var after = await DocumentsAsync();
        var changed = after.Where(a => a.Value.Path != before[a.Key].Path || a.Value.UpdatedAt != before[a.Key].UpdatedAt).Select(a => a.Value.Path).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["00000020000003", "000000200000030000001", "000000200000030000002"], changed);
        Assert.Equal(3, moved.RowsWritten);
        Assert.Equal(3, moved.DocumentsMoved);
        Assert.Equal(0, moved.SiblingsShifted);
        Assert.DoesNotContain(after.Values, d => d.Path.StartsWith("0000001", StringComparison.Ordinal));
    }

    // ---- errors before writes: depth 35/36, step overflow --------------------------------------------------------------

    /// <summary>document (C is a leaf, B has children), position, target depth (35 or 36), expected error (0 = moves).</summary>
    public static TheoryData<string, string, int, int> Deep => new()
    {
        { "C", "last-child", 36, 51207 },
        { "C", "first-child", 36, 51207 },
        { "C", "last-child", 35, 0 },
        { "C", "first-child", 35, 0 },
        { "C", "left", 36, 0 },
        { "C", "right", 36, 0 },
        { "C", "first-sibling", 36, 0 },
        { "C", "last-sibling", 36, 0 },
        { "B", "last-child", 35, 51207 },
        { "B", "first-child", 35, 51207 },
        { "B", "left", 36, 51207 },
        { "B", "right", 36, 51207 },
        { "B", "first-sibling", 36, 51207 },
        { "B", "last-sibling", 36, 51207 },
    };

    [Theory]
    [MemberData(nameof(Deep))]
    public async Task Every_position_at_depth_35_and_36_moves_or_refuses_with_51207_before_writing_anything(string document, string position, int targetDepth, int expectedError)
    {
        // Given the forest and a chain of depth 1..36 under root 9
        var f = await GivenTheForestAsync();
        await ExecAsync(
            """
            WITH Levels AS (SELECT TOP (36) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) - 1 AS K FROM sys.all_objects)
            INSERT INTO app.Document (Path, Title, UpdatedAt)
            SELECT '0000009' + REPLICATE(CONVERT(varchar(max), '0000001'), l.K), CONCAT(N'deep ', l.K + 1), '2000-01-01T00:00:00'
            FROM Levels AS l;
            """);
        var target = await ScalarAsync<int>("SELECT DocumentId FROM app.Document WHERE Title = @t;", ("@t", $"deep {targetDepth}"));
        var before = await SnapshotAsync();

        if (expectedError != 0)
        {
            // Then the move is refused with 51207 (never 2628, string truncation) and nothing changed
            Assert.Equal(expectedError, await RefusedAsync(() => MoveAsync(f[document], target, position)));
            Assert.Equal(before, await SnapshotAsync());
        }
        else
        {
            // Then the leaf lands at depth 36: a path of exactly 252 characters
            var moved = await MoveAsync(f[document], target, position);
            Assert.False(moved.NoOp);
            var path = await ScalarAsync<string>("SELECT Path FROM app.Document WHERE DocumentId = @d;", ("@d", f[document]));
            Assert.Equal(252, path!.Length);
            await AssertNoOrphansAsync();
        }
    }

    [Fact]
    public async Task A_step_that_would_overflow_ZZZZZZZ_is_refused_with_51207_before_writing_anything()
    {
        // Given E's children at steps 1, ZZZZZZX, ZZZZZZY, ZZZZZZZ
        var f = await GivenTheForestAsync();
        await ExecAsync("INSERT INTO app.Document (Path, Title) VALUES ('0000002ZZZZZZX', N'X'), ('0000002ZZZZZZY', N'Y'), ('0000002ZZZZZZZ', N'Z');");
        var y = await ScalarAsync<int>("SELECT DocumentId FROM app.Document WHERE Path = '0000002ZZZZZZY';");
        var before = await SnapshotAsync();

        // Then appending after ZZZZZZZ, and shifting the run Y, Z past it, are refused; nothing changed
        Assert.Equal(51207, await RefusedAsync(() => MoveAsync(f["C"], f["E"], "last-child")));
        Assert.Equal(51207, await RefusedAsync(() => MoveAsync(f["C"], y, "left")));
        Assert.Equal(51207, await RefusedAsync(() => Client.CreateDocumentAsync(f["E"], "too many", f.OwnerE, cancellationToken: Ct)));
        Assert.Equal(before, await SnapshotAsync());
    }

    // ---- every lookup seeks ------------------------------------------------------------------------------------------

    private async Task GivenManyAccessesAsync(int documents)
    {
        // documents under G, each with a user and a team access: a scan of app.DocumentAccess would read them all
        await ExecAsync(
            """
            WITH Numbers AS (SELECT TOP (@n) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS N FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b)
            INSERT INTO app.Document (Path, Title)
            SELECT '0000004' + s.Step, CONCAT(N'g', n.N) FROM Numbers AS n CROSS APPLY dbmerge.Path_Step(n.N) AS s;
            INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role)
            SELECT d.DocumentId, NULL, N'team', 'reader' FROM app.Document AS d WHERE d.Path > '0000004' AND d.Path < '0000004[';
            INSERT INTO app.DocumentAccess (DocumentId, UserId, Team, Role)
            SELECT d.DocumentId, u.UserId, NULL, 'reader' FROM app.Document AS d CROSS JOIN (SELECT TOP (1) UserId FROM app.[User] ORDER BY UserId) AS u
            WHERE d.Path > '0000004' AND d.Path < '0000004[';
            UPDATE STATISTICS app.DocumentAccess;
            """, ("@n", documents));
    }

    [Fact]
    public async Task A_lookup_of_one_documents_accesses_is_an_index_seek_on_IX_app_DocumentAccess_DocumentId()
    {
        // Given 5,000 accesses on 2,500 documents
        var f = await GivenTheForestAsync();
        await GivenManyAccessesAsync(2500);

        // When one document's accesses are read with the actual plan
        await using var connection = await OpenAsync();
        await using (var on = new SqlCommand("SET STATISTICS XML ON;", connection))
        {
            await on.ExecuteNonQueryAsync(Ct);
        }

        string plan;
        await using (var command = new SqlCommand("SELECT da.UserId, da.Team, da.Role FROM app.DocumentAccess AS da WHERE da.DocumentId = @d;", connection))
        {
            command.Parameters.AddWithValue("@d", f["A"]);
            await using var reader = await command.ExecuteReaderAsync(Ct);
            var rows = 0;
            while (await reader.ReadAsync(Ct))
            {
                rows++;
            }

            Assert.Equal(3, rows);
            Assert.True(await reader.NextResultAsync(Ct), "no showplan result set");
            Assert.True(await reader.ReadAsync(Ct));
            plan = reader.GetString(0);
        }

        // Then it is an Index Seek on the unfiltered index and no operator scans app.DocumentAccess
        XNamespace ns = "http://schemas.microsoft.com/sqlserver/2004/07/showplan";
        var operators = XDocument.Parse(plan).Descendants(ns + "RelOp")
            .Select(r => (Op: (string)r.Attribute("PhysicalOp")!, Object: r.Elements().SelectMany(e => e.Elements(ns + "Object")).FirstOrDefault()))
            .Where(o => (string?)o.Object?.Attribute("Table") == "[DocumentAccess]")
            .Select(o => $"{o.Op} {(string?)o.Object!.Attribute("Index")}")
            .ToList();
        Output.WriteLine(string.Join(Environment.NewLine, operators));
        Assert.Equal(["Index Seek [IX_app_DocumentAccess_DocumentId]"], operators);
    }

    [Fact]
    public async Task A_cross_tree_move_and_a_promotion_scan_no_document_access_or_invitation_index()
    {
        // Given the forest with 5,000 more accesses
        var f = await GivenTheForestAsync();
        await GivenManyAccessesAsync(2500);
        const string Usage = """
            SELECT ISNULL(SUM(s.user_scans), 0) AS Scans, ISNULL(SUM(s.user_seeks), 0) AS Seeks
            FROM sys.dm_db_index_usage_stats AS s
            WHERE s.database_id = DB_ID()
              AND s.object_id IN (OBJECT_ID(N'app.Document'), OBJECT_ID(N'app.DocumentAccess'), OBJECT_ID(N'app.DocumentInvitation'));
            """;
        var before = Assert.Single(await RowsAsync(Usage));

        // When B moves to another tree (its accesses and invitation deleted) and D1 is promoted to root (A's owners copied)
        var crossTree = await MoveAsync(f["B"], f["E"], "last-child");
        var promotion = await MoveAsync(f["D1"], f["G"], "last-sibling");

        // Then every read and delete of those tables sought: the scan counters did not move, the seek counters did
        var after = Assert.Single(await RowsAsync(Usage));
        Output.WriteLine($"scans {before["Scans"]} -> {after["Scans"]}, seeks {before["Seeks"]} -> {after["Seeks"]}");
        Assert.Equal(1, crossTree.AccessesDeleted);
        Assert.Equal(1, crossTree.InvitationsDeleted);
        Assert.Equal(2, promotion.OwnersRestored);
        Assert.Equal(Convert.ToInt64(before["Scans"], System.Globalization.CultureInfo.InvariantCulture), Convert.ToInt64(after["Scans"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(Convert.ToInt64(after["Seeks"], System.Globalization.CultureInfo.InvariantCulture) > Convert.ToInt64(before["Seeks"], System.Globalization.CultureInfo.InvariantCulture));
    }

    // ---- bounded, non-blocking -----------------------------------------------------------------------------------------

    [Fact]
    public async Task Rows_locked_by_another_session_in_an_unrelated_tree_do_not_block_a_move()
    {
        // Given another session holding, uncommitted, an access row, an invitation row, the document row of G and its owner's user row
        var f = await GivenTheForestAsync();
        await using var holder = await OpenAsync();
        await using var transaction = (SqlTransaction)await holder.BeginTransactionAsync(Ct);
        await using (var hold = new SqlCommand(
            """
            UPDATE app.DocumentAccess SET Role = 'commenter' WHERE DocumentId = @g AND UserId = @bob;
            UPDATE app.DocumentInvitation SET Role = 'editor' WHERE DocumentId = @g;
            UPDATE app.Document SET Title = N'held' WHERE DocumentId = @g;
            UPDATE app.[User] SET DisplayName = N'held' WHERE UserId = @ownerG;
            """, holder, transaction))
        {
            hold.Parameters.AddWithValue("@g", f["G"]);
            hold.Parameters.AddWithValue("@bob", f.Bob);
            hold.Parameters.AddWithValue("@ownerG", f.OwnerG);
            Assert.Equal(4, await hold.ExecuteNonQueryAsync(Ct));
        }

        // When moves that delete accesses and invitations, copy owners, find the last root and shift roots run with a 2 s lock timeout.
        // The promotion is relative to E, not G: the procedure reads its target's row by PK_app_Document (the header says so),
        // and G's clustered row is the one the other session holds; the last root (G) is found on UQ_app_Document_Path only.
        var crossTree = await MoveAsync(f["B"], f["E"], "last-child", lockTimeoutMs: 2000);
        var promotion = await MoveAsync(f["D1"], f["E"], "last-sibling", lockTimeoutMs: 2000); // after G (4): root 5
        var rootShift = await MoveAsync(f["E1"], f["A"], "first-sibling", lockTimeoutMs: 2000); // roots A, E shift; G is the break

        // Then they completed while the other session still holds its locks (a wait would have been 51210)
        Assert.Equal(1, crossTree.AccessesDeleted);
        Assert.Equal(2, promotion.OwnersRestored);
        Assert.Equal("0000005", await ScalarAsync<string>("SELECT Path FROM app.Document WHERE DocumentId = @d;", ("@d", f["D1"])));
        Assert.Equal(2, rootShift.SiblingsShifted);
        Assert.Empty(await LockWaitersAsync());
        await transaction.RollbackAsync(Ct);
    }

    public static TheoryData<string, string> HeldRows => new()
    {
        { "C", "C" },    // the moved document's own row: the read before the applocks waits
        { "D1", "D" },   // a row inside the moved subtree: the path rewrite after the applocks waits
    };

    [Theory]
    [MemberData(nameof(HeldRows))]
    public async Task A_row_lock_not_granted_within_the_lock_timeout_is_51210_before_or_after_the_applocks_and_nothing_changes(string held, string document)
    {
        var f = await GivenTheForestAsync();
        var before = await SnapshotAsync();
        await using var holder = await OpenAsync();
        await using var transaction = (SqlTransaction)await holder.BeginTransactionAsync(Ct);
        await using (var hold = new SqlCommand("UPDATE app.Document SET Title = Title + N'' WHERE DocumentId = @d;", holder, transaction))
        {
            hold.Parameters.AddWithValue("@d", f[held]);
            Assert.Equal(1, await hold.ExecuteNonQueryAsync(Ct));
        }

        Assert.Equal(51210, await RefusedAsync(() => MoveAsync(f[document], f["E"], "last-child", lockTimeoutMs: 300)));

        await transaction.RollbackAsync(Ct);
        Assert.Equal(before, await SnapshotAsync());
        Assert.False((await MoveAsync(f[document], f["E"], "last-child", lockTimeoutMs: 300)).NoOp);
    }

    [Fact]
    public async Task A_promotion_waits_for_the_owners_user_rows_before_its_first_write()
    {
        // Given another session holding OwnerA's user row (as a merge of OwnerA would, L2)
        var f = await GivenTheForestAsync();
        await using var holder = await OpenAsync();
        int holderSession;
        await using (var spid = new SqlCommand("SELECT @@SPID;", holder))
        {
            holderSession = Convert.ToInt32(await spid.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        await using var transaction = (SqlTransaction)await holder.BeginTransactionAsync(Ct);
        await using (var hold = new SqlCommand("UPDATE app.[User] SET DisplayName = N'merging' WHERE UserId = @u;", holder, transaction))
        {
            hold.Parameters.AddWithValue("@u", f.OwnerA);
            await hold.ExecuteNonQueryAsync(Ct);
        }

        // When D1 is promoted to root (it receives A's owners, OwnerA among them)
        var move = MoveAsync(f["D1"], f["G"], "last-sibling", lockTimeoutMs: 30000);
        await WaitUntilAsync(async () => (await LockWaitersAsync(holderSession)).Count > 0, TimeSpan.FromSeconds(20), "the move to wait for OwnerA's row");
        var waiter = (await LockWaitersAsync(holderSession)).Single();

        // Then, while it waits, it holds no row lock on accesses, invitations or documents: it has written nothing yet
        var written = await RowsAsync(
            """
            SELECT OBJECT_NAME(p.object_id) AS TableName, l.resource_type AS ResourceType, l.request_mode AS Mode
            FROM sys.dm_tran_locks AS l
            JOIN sys.partitions AS p ON p.hobt_id = l.resource_associated_entity_id
            WHERE l.request_session_id = @s AND l.resource_database_id = DB_ID()
              AND l.resource_type IN (N'KEY', N'PAGE', N'RID') AND l.request_mode IN (N'X', N'IX')
              AND p.object_id IN (OBJECT_ID(N'app.DocumentAccess'), OBJECT_ID(N'app.DocumentInvitation'), OBJECT_ID(N'app.Document'));
            """, ("@s", waiter.Session));
        Dump("write locks of the waiting move", written);
        Assert.Empty(written);

        // and once the row is released it completes
        await transaction.RollbackAsync(Ct);
        var moved = await move;
        Assert.Equal(2, moved.OwnersRestored);
    }

    private async Task<(SqlConnection Connection, SqlTransaction Transaction, int Session)> HoldApplockAsync(string resource)
    {
        var connection = await OpenAsync();
        int session;
        await using (var spid = new SqlCommand("SELECT @@SPID;", connection))
        {
            session = Convert.ToInt32(await spid.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        await using var take = new SqlCommand(
            "DECLARE @r int; EXEC @r = sys.sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 0; SELECT @r;",
            connection, transaction);
        take.Parameters.AddWithValue("@resource", resource);
        Assert.Equal(0, Convert.ToInt32(await take.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture));
        return (connection, transaction, session);
    }

    /// <summary>who a user merge holds (its DbMerge.User:&lt;id&gt; applock, Exclusive): the access holder or the invitee.</summary>
    public static TheoryData<string> HeldUsers => new() { "Bob", "invitee" };

    [Theory]
    [MemberData(nameof(HeldUsers))]
    public async Task A_scope_change_waits_for_the_user_applocks_of_the_accesses_and_invitations_it_deletes_before_any_tree_lock_or_write(string held)
    {
        // Given C (Bob reader; an invitation of c@example.org, which is an account's address) and another session
        // holding, as a user merge of that user does before it writes its access and invitation rows, its applock
        var f = await GivenTheForestAsync();
        var invitee = await ScalarAsync<int>("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'C@Example.org', N'Invitee');");
        var (holder, transaction, holderSession) = await HoldApplockAsync($"DbMerge.User:{(held == "Bob" ? f.Bob : invitee)}");
        await using var holderConnection = holder;
        await using var holderTransaction = transaction;

        // When C moves to another tree (its access and its invitation are deleted)
        var move = MoveAsync(f["C"], f["E"], "last-child", lockTimeoutMs: 30000);
        await WaitUntilAsync(async () => (await LockWaitersAsync(holderSession)).Count > 0, TimeSpan.FromSeconds(20), $"the move to wait for {held}'s applock");
        var waiter = (await LockWaitersAsync(holderSession)).Single();

        // Then it waits there holding no tree applock and no write lock on accesses, invitations or documents
        var heldLocks = await RowsAsync(
            """
            SELECT l.resource_type AS ResourceType, l.resource_description AS Description, l.request_mode AS Mode, l.request_status AS Status
            FROM sys.dm_tran_locks AS l
            LEFT JOIN sys.partitions AS p ON p.hobt_id = l.resource_associated_entity_id AND l.resource_type IN (N'KEY', N'PAGE', N'RID')
            WHERE l.request_session_id = @s AND l.resource_database_id = DB_ID() AND l.request_status = N'GRANT'
              AND ((l.resource_type = N'APPLICATION' AND (l.resource_description LIKE N'%DbMerge.Roots%' OR l.resource_description LIKE N'%DbMerge.Tree%'))
                   OR (l.request_mode IN (N'X', N'IX') AND p.object_id IN (OBJECT_ID(N'app.DocumentAccess'), OBJECT_ID(N'app.DocumentInvitation'), OBJECT_ID(N'app.Document'))));
            """, ("@s", waiter.Session));
        Dump("tree applocks and write locks of the waiting move", heldLocks);
        Assert.Empty(heldLocks);

        // and once the merge's applock is released it completes
        await transaction.RollbackAsync(Ct);
        var moved = await move;
        Assert.Equal(1, moved.AccessesDeleted);
        Assert.Equal(1, moved.InvitationsDeleted);
    }

    [Fact]
    public async Task A_user_found_under_the_tree_locks_whose_applock_a_merge_holds_is_51210_at_once_and_nothing_changes()
    {
        // Given a session holding tree A's applock, and the move of C (Bob reader) to E waiting for it after taking Bob's applock
        var f = await GivenTheForestAsync();
        var newcomer = await ScalarAsync<int>("INSERT INTO app.[User] (Email, DisplayName) OUTPUT inserted.UserId VALUES (N'newcomer@forest.example.org', N'Newcomer');");
        var (tree, treeTransaction, treeSession) = await HoldApplockAsync("DbMerge.Tree:0000001");
        await using var treeConnection = tree;
        await using var treeLock = treeTransaction;
        var move = MoveAsync(f["C"], f["E"], "last-child", lockTimeoutMs: 30000);
        await WaitUntilAsync(async () => (await LockWaitersAsync(treeSession)).Count > 0, TimeSpan.FromSeconds(20), "the move to wait for tree A's applock");

        // and, meanwhile, the application grants Newcomer access to C and a user merge of Newcomer takes its applock
        await ExecAsync("INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) VALUES (@c, @n, 'reader');", ("@c", f["C"]), ("@n", newcomer));
        var before = await SnapshotAsync();
        var (merge, mergeTransaction, _) = await HoldApplockAsync($"DbMerge.User:{newcomer}");
        await using var mergeConnection = merge;
        await using var mergeLock = mergeTransaction;

        // When the tree lock is released
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await treeTransaction.RollbackAsync(Ct);

        // Then the move finds Newcomer under the tree locks, cannot take its applock without waiting, and refuses at once
        // (well before its 30 s lock timeout): a lock taken out of order never waits; nothing changed
        Assert.Equal(51210, await RefusedAsync(() => move));
        Output.WriteLine($"refused {clock.ElapsedMilliseconds} ms after the tree lock was released");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), "the move waited for the newcomer's applock");
        Assert.Equal(before, await SnapshotAsync());

        // and once the merge is done, the retry deletes both accesses
        await mergeTransaction.RollbackAsync(Ct);
        Assert.Equal(2, (await MoveAsync(f["C"], f["E"], "last-child")).AccessesDeleted);
    }

    [Fact]
    public async Task A_rewrite_of_thousands_of_rows_never_escalates_to_a_table_lock()
    {
        // Given a subtree of 4,000 documents under a new root 9
        var f = await GivenTheForestAsync();
        await ExecAsync(
            """
            INSERT INTO app.Document (Path, Title) VALUES ('0000009', N'R'), ('00000090000001', N'big');
            WITH Numbers AS (SELECT TOP (3999) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS N FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b)
            INSERT INTO app.Document (Path, Title)
            SELECT '00000090000001' + s.Step, CONCAT(N'big ', n.N) FROM Numbers AS n CROSS APPLY dbmerge.Path_Step(n.N) AS s;
            """);
        var big = await ScalarAsync<int>("SELECT DocumentId FROM app.Document WHERE Path = '00000090000001';");
        const string Promotions = """
            SELECT ISNULL(SUM(s.index_lock_promotion_attempt_count), 0) AS Attempts, ISNULL(SUM(s.index_lock_promotion_count), 0) AS Promotions
            FROM sys.dm_db_index_operational_stats(DB_ID(), OBJECT_ID(N'app.Document'), NULL, NULL) AS s;
            """;
        var before = Assert.Single(await RowsAsync(Promotions));

        // When it moves to E (4,000 rows) and then C becomes E's first child (E1 and the 4,000 shift one step)
        var moved = await MoveAsync(big, f["E"], "last-child");
        var shifted = await MoveAsync(f["C"], f["E"], "first-child");

        // Then no statement attempted a lock escalation on app.Document, and the rows written are as documented
        var after = Assert.Single(await RowsAsync(Promotions));
        Output.WriteLine($"escalation attempts {before["Attempts"]} -> {after["Attempts"]}, escalations {before["Promotions"]} -> {after["Promotions"]}");
        Assert.Equal(before["Attempts"], after["Attempts"]);
        Assert.Equal(before["Promotions"], after["Promotions"]);
        Assert.Equal(4000, moved.RowsWritten);
        Assert.Equal(2, shifted.SiblingsShifted);
        Assert.Equal(4002, shifted.RowsWritten);
        Assert.Equal(4000, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Document WHERE Path >= '00000020000003' AND Path < '00000020000003[';"));
        await AssertNoOrphansAsync();
    }

    // ---- outbox ----------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Outbox_dedupe_keys_are_the_document_and_its_move_sequence_and_a_rolled_back_move_takes_no_number()
    {
        await UseOwnDatabaseAsync(); // plants a trigger on app.Document: never in the class's shared database (COORDINATION §7)
        var f = await GivenTheForestAsync();

        // When C moves twice, a third move fails after its writes (rolled back), and a fourth succeeds
        var first = await MoveAsync(f["C"], f["E"], "last-child");
        var second = await MoveAsync(f["C"], f["A"], "last-child");
        await ExecAsync(
            """
            CREATE TRIGGER app.TR_Test_Document_FailPathUpdate ON app.Document AFTER UPDATE AS
            BEGIN
                IF UPDATE(Path) THROW 50999, N'injected failure after the cleanup', 1;
            END;
            """);
        try
        {
            var failure = await Assert.ThrowsAnyAsync<SqlException>(() => MoveAsync(f["C"], f["G"], "last-child"));
            Assert.Equal(50999, failure.Number);
        }
        finally
        {
            await ExecAsync("DROP TRIGGER app.TR_Test_Document_FailPathUpdate;");
        }

        var fourth = await MoveAsync(f["C"], f["G"], "last-child");

        // Then the keys are deterministic, numbered 1, 2, 3 (the failure took none), two events per committed move
        Assert.Equal([1, 2, 3], new[] { first.MoveSequence, second.MoveSequence, fourth.MoveSequence });
        var rows = await RowsAsync("SELECT EventType, DedupeKey, Payload FROM dbmerge.Outbox ORDER BY OutboxId;");
        Dump("outbox", rows);
        var c = f["C"];
        Assert.Equal(
            [$"collaboration.reset:{c}:1", $"document.moved:{c}:1", $"collaboration.reset:{c}:2", $"document.moved:{c}:2", $"collaboration.reset:{c}:3", $"document.moved:{c}:3"],
            rows.Select(r => (string)r["DedupeKey"]!));
        Assert.Equal($$"""{"documentId":{{c}},"moveSequence":1,"accessesRemoved":true}""", rows[0]["Payload"]);
        Assert.Equal($$"""{"documentId":{{c}},"moveSequence":1,"oldParentId":{{f["A"]}},"newParentId":{{f["E"]}},"position":"last-child","targetDocumentId":{{f["E"]}},"scopeChanged":true}""", rows[1]["Payload"]);
        Assert.Equal($$"""{"documentId":{{c}},"moveSequence":2,"accessesRemoved":false}""", rows[2]["Payload"]);
        Assert.Equal(3, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.DocumentMove WHERE DocumentId = @c;", ("@c", c)));
    }

    // ---- create appends after the highest sibling step ---------------------------------------------------------------

    [Fact]
    public async Task Create_appends_after_the_highest_existing_sibling_step_and_leaves_gaps_alone()
    {
        var f = await GivenTheForestAsync();

        var underA = await Client.CreateDocumentAsync(f["A"], "A6", f.OwnerA, cancellationToken: Ct);
        var root = await Client.CreateDocumentAsync(null, "H", f.Ann, cancellationToken: Ct);
        var underD = await Client.CreateDocumentAsync(f["D"], "D2", f.OwnerA, cancellationToken: Ct);

        Assert.Equal("00000010000006", underA.Path);   // after F (5); the gap at 4 stays
        Assert.Equal("0000005", root.Path);            // after G (4); the gap at 3 stays
        Assert.Equal("000000100000030000002", underD.Path);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Document WHERE Path IN ('00000010000004', '0000003');"));
    }
}
