using System.Text.RegularExpressions;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbMerge.Tests.Constraints;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Collections;

/// <summary>
/// The collection procedures of issue 13 against their contracts: every THROW number is in the client registry,
/// documented in the header, inside the collections half 51550–51599 (51500–51549 is reconciliation's); every
/// registry entry of 51550–51599 is thrown by the procedure it names; the house style holds; the owning procedures
/// refuse implicit transactions too; the lock order (app.User rows, then app.Collection, then DbMerge's tables)
/// holds in the text; every statement is batched well below the escalation threshold; and the headers answer the
/// filtered-index question the predicates rely on.
/// </summary>
public sealed partial class CollectionProcedureContractTests
{
    private const string Core = "database/dbmerge/Procedures/dbmerge.Collection_ClaimCore.sql";
    private const string ClaimSession = "database/api/Procedures/api.Collection_ClaimSession.sql";
    private const string ClaimLegacy = "database/api/Procedures/api.Collection_ClaimLegacy.sql";
    private const string UndoClaim = "database/api/Procedures/api.Collection_UndoClaim.sql";

    private static readonly string[] ProcedureFiles =
    [
        ClaimSession,
        ClaimLegacy,
        "database/api/Procedures/api.Collection_ListLegacy.sql",
        UndoClaim,
        "database/api/Procedures/api.CollectionClaim_List.sql",
        Core,
    ];

    private static readonly string[] OwningFiles = [ClaimSession, ClaimLegacy, UndoClaim];

    public static TheoryData<string> Files => new(ProcedureFiles);

    public static TheoryData<string> Owning => new(OwningFiles);

    private static SqlScriptFile Load(string relativePath) => ProcedureContract.Load(relativePath);

    private static (TSqlScript Script, CreateOrAlterProcedureStatement Procedure) Parse(string relativePath) =>
        ProcedureContract.Parse(relativePath);

    [Theory]
    [MemberData(nameof(Files))]
    public void The_file_holds_exactly_its_procedure_and_starts_with_the_session_settings(string relativePath) =>
        ProcedureContract.AssertFileHoldsItsProcedure(relativePath);

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_thrown_number_is_registered_for_its_procedure_documented_in_its_header_and_in_the_collections_half(string relativePath) =>
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(relativePath, 51550, 51599);

    [Fact]
    public void Every_registered_collection_error_is_thrown_by_the_procedure_it_names() =>
        ProcedureContract.AssertAreaErrorsAreThrownByTheProcedureTheyName(ProcedureFiles, 51550, 51599);

    [Theory]
    [MemberData(nameof(Files))]
    public void The_procedure_follows_the_house_rules(string relativePath) =>
        ProcedureContract.AssertHouseStyle(relativePath);

    [Fact]
    public void The_collection_errors_stay_out_of_the_reconciliation_half_of_the_block()
    {
        var collections = ErrorRegistry.All.Where(e => e.Procedure.Contains("Collection", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(collections);
        Assert.All(collections, e => Assert.InRange(e.Number, 51550, 51599));
        Assert.DoesNotContain(ErrorRegistry.All, e => e.Number is >= 51500 and <= 51549 && e.Procedure.Contains("Collection", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Owning))]
    public void An_owning_procedure_refuses_an_open_transaction_and_implicit_transactions_before_its_TRY(string relativePath)
    {
        var (_, procedure) = Parse(relativePath);
        var body = procedure.StatementList.Statements.OfType<BeginEndBlockStatement>().Single().StatementList.Statements;
        var guard = Assert.IsType<IfStatement>(body.First(s => s is IfStatement));
        var tryIndex = body.ToList().FindIndex(s => s is TryCatchStatement);
        Assert.True(body.ToList().IndexOf(guard) < tryIndex, "the guard must come before the TRY");

        var predicate = Text(guard.Predicate);
        Assert.Equal("@@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2", predicate);
        Assert.Contains(ErrorNumberSync.ThrowNumbers(guard).Select(t => t.Number), n => n == ErrorRegistry.CollectionOpenTransaction);
    }

    [Fact]
    public void The_core_locks_the_user_rows_before_any_collection_and_writes_the_audit_after_the_last_collection_statement() =>
        AssertLockOrder(Core);

    [Fact]
    public void The_undo_locks_the_user_rows_before_any_collection_and_marks_the_claim_undone_after_the_last_collection_statement() =>
        AssertLockOrder(UndoClaim);

    [Fact]
    public void Two_claims_of_one_session_serialize_on_the_sessions_applock_taken_after_the_user_applocks_and_named_by_its_hash()
    {
        // Row locks alone do not serialize two claims of one session cleanly (the waiter's U lock on the filtered
        // index key against the winner's move deleting it: a deadlock), so the core takes DbMerge.Session:<hash>.
        var (_, procedure) = Parse(Core);
        var text = Load(Core).Text;
        var applocks = ProcedureRuleSupportAll<ExecuteStatement>(procedure)
            .Where(e => Text(e).Contains("sys.sp_getapplock", StringComparison.OrdinalIgnoreCase))
            .ToList();
        Assert.Equal(2, applocks.Count);

        // The user applocks (the loop) come first, then the session's: no procedure takes a DbMerge.User applock after it.
        var userLoop = Regex.Match(text, @"SELECT @Resource = CONCAT\(N'DbMerge\.User:', o\.UserId\)");
        var session = Regex.Match(text, @"SET @Resource = CONCAT\(N'DbMerge\.Session:', CONVERT\(nvarchar\(64\), HASHBYTES\('SHA2_256', @SessionId\), 2\)\);");
        Assert.True(userLoop.Success, "the user applocks are named DbMerge.User:<id>");
        Assert.True(session.Success, "the session's applock is named by the SHA-256 of the session id, never the id (it is a credential)");
        Assert.True(userLoop.Index < session.Index && session.Index < text.IndexOf("EXEC @LockResult", session.Index, StringComparison.Ordinal),
            "the session's applock is taken after the user applocks");
        Assert.DoesNotMatch(@"DbMerge\.Session:'\s*,\s*@SessionId", text);

        // Only for a session claim.
        Assert.Matches(@"IF @SessionId IS NOT NULL\s+BEGIN\s+SET @Resource = CONCAT\(N'DbMerge\.Session:'", text);
    }

    [Theory]
    [InlineData(Core, "p.OldName", "p.OldUpdatedAt")]
    [InlineData(UndoClaim, "i.NewName", "i.NewUpdatedAt")]
    public void The_move_and_the_restore_write_a_row_only_if_it_still_has_exactly_the_name_and_UpdatedAt_read_before(
        string relativePath, string name, string updatedAt)
    {
        // The statement that changes the owner must not rely on the earlier non-updating UPDATE's locks (under
        // optimized locking they may end with that statement): it re-checks the row, and the post-condition
        // (moved / restored count) turns a row changed in between into 51563 and a rollback, never a lost update.
        var (_, procedure) = Parse(relativePath);
        var writes = ProcedureRuleSupportAll<UpdateStatement>(procedure)
            .Where(u => References(u, "app", "Collection")
                        && u.UpdateSpecification.SetClauses.OfType<AssignmentSetClause>().Any(a => a.Column?.MultiPartIdentifier.Identifiers.Last().Value == "OwnerUserId"))
            .ToList();
        var write = Assert.Single(writes);
        var where = Text(write.UpdateSpecification.WhereClause);
        Assert.Contains($"c.Name = {name} COLLATE Latin1_General_100_BIN2", where, StringComparison.Ordinal);
        Assert.Contains($"DATALENGTH(c.Name) = DATALENGTH({name})", where, StringComparison.Ordinal);
        Assert.Contains($"c.UpdatedAt = {updatedAt}", where, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Core)]
    [InlineData(UndoClaim)]
    public void Every_collection_statement_of_a_claim_or_undo_is_a_keyset_batch_of_at_most_1000_rows(string relativePath)
    {
        var (_, procedure) = Parse(relativePath);
        Assert.Matches(@"DECLARE @BatchSize\s+int = 1000;", Load(relativePath).Text);

        // Every UPDATE of app.Collection is bounded by a keyset range (@From < key <= @To, the @To of a TOP (@BatchSize) batch).
        var updates = ProcedureRuleSupportAll<UpdateStatement>(procedure)
            .Where(u => References(u, "app", "Collection"))
            .ToList();
        Assert.NotEmpty(updates);
        Assert.All(updates, u =>
        {
            var text = Text(u);
            Assert.Matches(@"CollectionId > @From\s+AND\s+\w+\.CollectionId <= @To", text);
        });

        // Every batch boundary is a TOP (@BatchSize).
        var boundaries = Regex.Matches(Load(relativePath).Text, @"SELECT @To = MAX\(b\.CollectionId\)\s+FROM \(SELECT TOP \((?<top>[^)]+)\)");
        Assert.NotEmpty(boundaries);
        Assert.All(boundaries, m => Assert.Equal("@BatchSize", m.Groups["top"].Value));
    }

    [Theory]
    [InlineData(Core)]
    [InlineData(ClaimSession)]
    [InlineData(UndoClaim)]
    [InlineData("database/api/Procedures/api.CollectionClaim_List.sql")]
    public void Every_TOP_has_an_ORDER_BY_so_that_which_rows_it_keeps_is_defined(string relativePath)
    {
        var (_, procedure) = Parse(relativePath);
        var tops = ProcedureRuleSupportAll<QuerySpecification>(procedure).Where(q => q.TopRowFilter is not null).ToList();
        Assert.NotEmpty(tops);
        Assert.All(tops, q => Assert.True(q.OrderByClause is not null, $"{relativePath}:{q.StartLine}: TOP without ORDER BY: {Text(q)}"));
    }

    [Fact]
    public void Every_session_predicate_states_the_filter_of_the_filtered_index_it_seeks()
    {
        var text = Load(Core).Text;
        var predicates = Regex.Matches(text, @"c\.AnonymousSessionId = @SessionId\s*\n\s*AND c\.AnonymousSessionId IS NOT NULL");
        var all = Regex.Matches(text, @"WHERE c\.AnonymousSessionId = @SessionId");
        Assert.Equal(2, all.Count);
        Assert.Equal(all.Count, predicates.Count);
    }

    [Theory]
    [InlineData(Core)]
    [InlineData(ClaimSession)]
    public void The_header_answers_whether_the_filtered_session_index_serves_a_parameter(string relativePath)
    {
        var header = ProcedureContract.Header(relativePath);
        Assert.Contains("IX_app_Collection_AnonymousSessionId", header, StringComparison.Ordinal);
        Assert.Contains("WHERE AnonymousSessionId IS NOT NULL", header, StringComparison.Ordinal);
        Assert.Matches(@"implies\s+the\s+filter\s+for\s+every", header);
    }

    [Fact]
    public void The_core_header_documents_the_name_collision_rule_and_the_truncation_bound()
    {
        var header = ProcedureContract.Header(Core);
        Assert.Contains("Name collisions", header, StringComparison.Ordinal);
        Assert.Contains("'Name (k)'", header, StringComparison.Ordinal);
        Assert.Contains("2628", header, StringComparison.Ordinal);
        Assert.Contains("Latin1_General_100_CI_AS", header, StringComparison.Ordinal);
    }

    [Fact]
    public void A_taken_name_blocks_a_number_only_when_its_prefix_equals_the_groups_in_length_too()
    {
        // '=' pads trailing spaces: 'Poems ' = 'Poems', yet 'Poems  (2)' is not 'Poems (2)'; without the length a
        // taken 'Poems  (2)' would block 2 and the claim would skip the smallest free number.
        var text = Load(Core).Text;
        Assert.Matches(@"INNER JOIN #Variant AS v ON v\.Prefix = x\.Prefix AND v\.SuffixLength = x\.SuffixLength\s+AND DATALENGTH\(v\.Prefix\) = DATALENGTH\(x\.Prefix\)", text);
    }

    [Fact]
    public void The_claims_read_what_they_change_with_an_UPDATE_never_a_bare_SELECT_of_app_Collection_under_a_lock_hint()
    {
        foreach (var file in new[] { Core, UndoClaim })
        {
            var text = HeaderComment().Replace(Load(file).Text, string.Empty);
            Assert.DoesNotMatch(@"app\.Collection AS c WITH \([^)]*UPDLOCK", text);
            Assert.DoesNotMatch(@"(?i)NOLOCK|READUNCOMMITTED", text);
        }
    }

    [Fact]
    public void The_name_helper_is_an_inline_function_that_never_needs_truncation()
    {
        const string relativePath = "database/dbmerge/Functions/dbmerge.Collection_NamePrefix.sql";
        var file = Load(relativePath);
        var fragment = MigrationSafety.Parse(file.Text, out var errors);
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors.Select(e => $"{relativePath}:{e.Line}: {e.Message}")));
        var function = Assert.IsType<TSqlScript>(fragment).Batches.SelectMany(b => b.Statements).OfType<CreateOrAlterFunctionStatement>().Single();
        Assert.IsType<SelectFunctionReturnType>(function.ReturnType);
        Assert.Contains("DATALENGTH(@Name) / 2", file.Text, StringComparison.Ordinal);
        Assert.Contains("BETWEEN 55296 AND 56319", file.Text, StringComparison.Ordinal);

        // The core never builds a name longer than 200: the prefix leaves room for the suffix.
        Assert.Contains("dbmerge.Collection_NamePrefix(RTRIM(p.OldName), 200 - LEN(s.Suffix))", Load(Core).Text, StringComparison.Ordinal);
    }

    // ---- helpers -----------------------------------------------------------------------------------------

    /// <summary>
    /// In <paramref name="relativePath"/>: the L1 applocks (Exclusive, transaction-owned) precede the L2 lock (the first
    /// UPDATE of app.[User]), which precedes every statement that
    /// references app.Collection, no app.[User] row is locked after it, and every write to DbMerge's claim tables
    /// (dbmerge.CollectionClaim*) follows the last app.Collection statement.
    /// </summary>
    private static void AssertLockOrder(string relativePath)
    {
        var (_, procedure) = Parse(relativePath);
        var statements = ProcedureRuleSupportAll<TSqlStatement>(procedure)
            .Where(s => s is UpdateStatement or InsertStatement or DeleteStatement or SelectStatement)
            .ToList();
        var userLock = statements.OfType<UpdateStatement>().First(u => References(u, "app", "User"));
        var applocks = ProcedureRuleSupportAll<ExecuteStatement>(procedure)
            .Where(e => Text(e).Contains("sys.sp_getapplock", StringComparison.OrdinalIgnoreCase))
            .ToList();
        Assert.NotEmpty(applocks);
        Assert.All(applocks, applock =>
        {
            Assert.Contains("@LockMode = N'Exclusive', @LockOwner = N'Transaction'", Text(applock), StringComparison.Ordinal);
            Assert.True(applock.FirstTokenIndex < userLock.FirstTokenIndex,
                $"{relativePath}: the user rows are locked (line {userLock.StartLine}) before an applock (line {applock.StartLine}): L1 comes first.");
        });
        var collection = statements.Where(s => References(s, "app", "Collection")).ToList();
        var audit = statements.Where(s => s is UpdateStatement or InsertStatement && Writes(s, "dbmerge", "CollectionClaim")).ToList();
        Assert.NotEmpty(collection);
        Assert.NotEmpty(audit);

        Assert.True(userLock.FirstTokenIndex < collection.Min(s => s.FirstTokenIndex),
            $"{relativePath}: app.Collection is referenced (line {collection.First().StartLine}) before the user rows are locked (line {userLock.StartLine}).");
        Assert.True(audit.Min(s => s.FirstTokenIndex) > collection.Max(s => s.FirstTokenIndex),
            $"{relativePath}: a claim table is written (line {audit.First().StartLine}) before the last app.Collection statement (line {collection.Last().StartLine}).");
        Assert.DoesNotContain(statements.OfType<UpdateStatement>(), u => u != userLock && References(u, "app", "User"));
    }

    /// <summary>The statement's target is a table of <paramref name="schema"/> whose name starts with <paramref name="prefix"/>.</summary>
    private static bool Writes(TSqlStatement statement, string schema, string prefix)
    {
        var target = statement switch
        {
            InsertStatement i => i.InsertSpecification.Target,
            UpdateStatement u => u.UpdateSpecification.Target,
            _ => null,
        };
        return target is NamedTableReference t
               && string.Equals(t.SchemaObject.SchemaIdentifier?.Value, schema, StringComparison.OrdinalIgnoreCase)
               && t.SchemaObject.BaseIdentifier.Value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase);
    }

    private static List<T> ProcedureRuleSupportAll<T>(TSqlFragment fragment)
        where T : TSqlFragment =>
        DbMerge.Schema.HouseRules.ProcedureRuleSupport.All<T>(fragment).OrderBy(f => f.FirstTokenIndex).ToList();

    private static bool References(TSqlFragment fragment, string schema, string table) =>
        DbMerge.Schema.HouseRules.ProcedureRuleSupport.All<NamedTableReference>(fragment).Any(t =>
            string.Equals(t.SchemaObject.SchemaIdentifier?.Value, schema, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(t.SchemaObject.BaseIdentifier.Value, table, StringComparison.OrdinalIgnoreCase));

    private static string Text(TSqlFragment fragment) =>
        string.Concat(Enumerable.Range(fragment.FirstTokenIndex, fragment.LastTokenIndex - fragment.FirstTokenIndex + 1)
            .Select(i => fragment.ScriptTokenStream[i].Text));

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex HeaderComment();
}
