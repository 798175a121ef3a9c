using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Documents;

/// <summary>
/// The shape of api.Document_Move and api.Document_Create that issue 10 asks for, read from the ScriptDom tree (the
/// offline layer cannot run them): every write is bounded; the path rewrite seeks; the lock order (L1 applocks, L2 user
/// rows, L3 DocumentAccess → DocumentInvitation → Document → dbmerge) holds in statement order; every lock wait is
/// bounded by @LockTimeout and a row-lock timeout is the documented 51210; the outbox keys are deterministic.
/// </summary>
public sealed class DocumentMoveShapeTests
{
    private const string MoveFile = "database/api/Procedures/api.Document_Move.sql";
    private const string CreateFile = "database/api/Procedures/api.Document_Create.sql";

    private static CreateOrAlterProcedureStatement Procedure(string file) => ProcedureContract.Parse(file).Procedure;

    private static List<TSqlFragment> Fragments(TSqlFragment root) => [.. ProcedureRuleSupport.Descendants(root)];

    /// <summary>"schema.Table" of a write's target, the alias resolved through the statement's FROM clause.</summary>
    private static string? TargetOf(TSqlStatement statement)
    {
        (TableReference? target, FromClause? from) = statement switch
        {
            UpdateStatement u => (u.UpdateSpecification.Target, u.UpdateSpecification.FromClause),
            DeleteStatement d => (d.DeleteSpecification.Target, d.DeleteSpecification.FromClause),
            InsertStatement i => (i.InsertSpecification.Target, null),
            _ => (null, null),
        };
        if (target is not NamedTableReference named)
        {
            return null;
        }

        if (named.SchemaObject.SchemaIdentifier is null && from is not null)
        {
            var aliased = ProcedureRuleSupport.All<NamedTableReference>(from)
                .FirstOrDefault(t => string.Equals(t.Alias?.Value, named.SchemaObject.BaseIdentifier.Value, StringComparison.OrdinalIgnoreCase));
            if (aliased is not null)
            {
                named = aliased;
            }
        }

        return $"{named.SchemaObject.SchemaIdentifier?.Value}.{named.SchemaObject.BaseIdentifier.Value}";
    }

    private static List<(TSqlStatement Statement, string Target)> Writes(TSqlFragment root) =>
        [.. ProcedureRuleSupport.All<TSqlStatement>(root)
            .Where(s => s is UpdateStatement or DeleteStatement or InsertStatement)
            .Select(s => (Statement: s, Target: TargetOf(s)))
            .Where(w => w.Target is not null && !w.Target.StartsWith('.'))
            .Select(w => (w.Statement, w.Target!))];

    private static ScalarExpression? Unwrap(ScalarExpression? expression) =>
        expression is ParenthesisExpression p ? Unwrap(p.Expression) : expression;

    private static bool InsideWhile(TSqlFragment root, TSqlFragment fragment) =>
        ProcedureRuleSupport.All<WhileStatement>(root).Any(w => w.FirstTokenIndex < fragment.FirstTokenIndex && fragment.LastTokenIndex <= w.LastTokenIndex);

    private static bool HasVariableRangeOnPath(WhereClause? where) =>
        where is not null && ProcedureRuleSupport.All<BooleanComparisonExpression>(where).Any(c =>
            c.ComparisonType is BooleanComparisonType.GreaterThanOrEqualTo or BooleanComparisonType.GreaterThan
                or BooleanComparisonType.LessThan or BooleanComparisonType.LessThanOrEqualTo
            && c.FirstExpression is ColumnReferenceExpression { MultiPartIdentifier.Identifiers: var ids } && ids[^1].Value == "Path"
            && c.SecondExpression is VariableReference);

    [Fact]
    public void Every_path_rewrite_of_the_move_is_a_batched_range_update_that_seeks_on_the_path_index()
    {
        var procedure = Procedure(MoveFile);
        var updates = Writes(procedure).Where(w => w.Target == "app.Document").Select(w => (UpdateStatement)w.Statement).ToList();

        Assert.Equal(2, updates.Count); // the 'move' and the 'shift' operation
        Assert.All(updates, u =>
        {
            Assert.True(InsideWhile(procedure, u), $"line {u.StartLine}: the path UPDATE is not inside a batch loop");
            Assert.True(HasVariableRangeOnPath(u.UpdateSpecification.WhereClause), $"line {u.StartLine}: the path UPDATE has no Path range on batch bounds");
            var table = ProcedureRuleSupport.All<NamedTableReference>(u.UpdateSpecification.FromClause!).First(t => t.SchemaObject.BaseIdentifier.Value == "Document");
            Assert.Contains(table.TableHints, h => h.HintKind == TableHintKind.ForceSeek);
        });
    }

    [Fact]
    public void Every_batch_boundary_of_the_path_rewrite_is_a_top_batch_size_read_ordered_by_path()
    {
        var procedure = Procedure(MoveFile);
        var boundaries = ProcedureRuleSupport.All<QueryDerivedTable>(procedure)
            .Select(d => d.QueryExpression)
            .OfType<QuerySpecification>()
            .Where(q => Unwrap(q.TopRowFilter?.Expression) is VariableReference { Name: "@BatchSize" })
            .ToList();

        Assert.Equal(2, boundaries.Count);
        Assert.All(boundaries, q =>
        {
            var order = Assert.Single(q.OrderByClause!.OrderByElements);
            Assert.Equal("Path", ((ColumnReferenceExpression)order.Expression).MultiPartIdentifier.Identifiers[^1].Value);
            Assert.True(HasVariableRangeOnPath(q.WhereClause), $"line {q.StartLine}: the batch boundary read has no Path range");
        });
    }

    /// <summary>The variable a WHERE clause bounds Path from below with (<c>d.Path &gt;= @x</c>), if any.</summary>
    private static string? LowerBoundOnPath(WhereClause? where) =>
        where is null
            ? null
            : ProcedureRuleSupport.All<BooleanComparisonExpression>(where)
                .Where(c => c.ComparisonType is BooleanComparisonType.GreaterThanOrEqualTo or BooleanComparisonType.GreaterThan
                            && c.FirstExpression is ColumnReferenceExpression { MultiPartIdentifier.Identifiers: var ids } && ids[^1].Value == "Path")
                .Select(c => (c.SecondExpression as VariableReference)?.Name)
                .FirstOrDefault();

    [Fact]
    public void Each_batch_of_a_subtree_move_starts_past_the_previous_batch_not_at_the_start_of_the_range()
    {
        // The keys a batch moves away stay in UQ_app_Document_Path as ghost records until the transaction commits: a
        // batch that seeks from the start of the range again re-reads all of them (quadratic in the subtree).
        var procedure = Procedure(MoveFile);
        var update = Writes(procedure)
            .Where(w => w.Target == "app.Document")
            .Select(w => (UpdateStatement)w.Statement)
            .Single(u => ProcedureRuleSupport.All<VariableReference>(u.UpdateSpecification.SetClauses[0]).Any(v => v.Name == "@OpNew"));
        var loop = ProcedureRuleSupport.All<WhileStatement>(procedure)
            .Where(w => w.FirstTokenIndex < update.FirstTokenIndex && update.LastTokenIndex <= w.LastTokenIndex)
            .MinBy(w => w.LastTokenIndex - w.FirstTokenIndex)!;
        var lower = LowerBoundOnPath(update.UpdateSpecification.WhereClause);

        Assert.NotNull(lower);
        Assert.NotEqual("@OpFrom", lower);
        var boundary = ProcedureRuleSupport.All<QuerySpecification>(loop)
            .Single(q => Unwrap(q.TopRowFilter?.Expression) is VariableReference { Name: "@BatchSize" });
        Assert.Equal(lower, LowerBoundOnPath(boundary.WhereClause));
        var advanced = ProcedureRuleSupport.All<SetVariableStatement>(loop).Where(v => v.Variable.Name == lower).ToList();
        Assert.Contains(advanced, v => ProcedureRuleSupport.All<VariableReference>(v.Expression).Any(r => r.Name == "@Bound"));
    }

    [Fact]
    public void Every_delete_of_the_documents_accesses_and_invitations_is_batched()
    {
        var procedure = Procedure(MoveFile);
        var deletes = Writes(procedure).Where(w => w.Statement is DeleteStatement).ToList();

        Assert.Equal(["app.DocumentAccess", "app.DocumentInvitation"], deletes.Select(d => d.Target));
        Assert.All(deletes, d =>
        {
            var delete = (DeleteStatement)d.Statement;
            Assert.Equal("@BatchSize", Assert.IsType<VariableReference>(Unwrap(delete.DeleteSpecification.TopRowFilter?.Expression)).Name);
            Assert.True(InsideWhile(procedure, delete), $"line {delete.StartLine}: DELETE TOP (@BatchSize) outside a loop deletes one batch only");
        });
    }

    [Fact]
    public void The_batch_size_keeps_every_statement_below_the_lock_escalation_threshold()
    {
        var declaration = ProcedureRuleSupport.All<DeclareVariableElement>(Procedure(MoveFile)).Single(d => d.VariableName.Value == "@BatchSize");

        // ~3 locks per rewritten document (its clustered row, the old and the new UQ_app_Document_Path key): 3 × 1000 < 5000.
        var size = int.Parse(Assert.IsType<IntegerLiteral>(declaration.Value).Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(size, 1, 1000);
    }

    [Fact]
    public void The_move_writes_in_the_L3_order_accesses_then_invitations_then_documents_then_dbmerge()
    {
        var writes = Writes(Procedure(MoveFile)).Where(w => !w.Target.StartsWith("@", StringComparison.Ordinal)).ToList();
        int First(Func<string, bool> table) => writes.First(w => table(w.Target)).Statement.FirstTokenIndex;
        int Last(Func<string, bool> table) => writes.Last(w => table(w.Target)).Statement.FirstTokenIndex;

        Assert.True(Last(t => t == "app.DocumentAccess") < First(t => t == "app.DocumentInvitation"), "a DocumentAccess write after a DocumentInvitation write");
        Assert.True(Last(t => t == "app.DocumentInvitation") < First(t => t == "app.Document"), "a DocumentInvitation write after a Document write");
        Assert.True(Last(t => t == "app.Document") < First(t => t.StartsWith("dbmerge.", StringComparison.Ordinal)), "an app.Document write after a dbmerge write");
    }

    [Theory]
    [InlineData(MoveFile)]
    [InlineData(CreateFile)]
    public void No_app_User_row_is_read_after_the_first_write(string file)
    {
        var procedure = Procedure(file);
        var firstWrite = Writes(procedure).Where(w => w.Target.StartsWith("app.", StringComparison.Ordinal)).Min(w => w.Statement.FirstTokenIndex);
        var userReads = ProcedureRuleSupport.All<NamedTableReference>(procedure)
            .Where(t => t.SchemaObject.SchemaIdentifier?.Value == "app" && t.SchemaObject.BaseIdentifier.Value == "User")
            .ToList();

        Assert.NotEmpty(userReads);
        Assert.All(userReads, r => Assert.True(r.FirstTokenIndex < firstWrite, $"line {r.StartLine}: app.User read after the first write"));
    }

    [Theory]
    [InlineData(MoveFile)]
    [InlineData(CreateFile)]
    public void The_user_rows_a_procedure_locks_are_locked_after_the_applocks_with_UPDLOCK(string file)
    {
        var procedure = Procedure(file);
        var lastApplock = ProcedureRuleSupport.All<ExecuteStatement>(procedure)
            .Where(e => e.ExecuteSpecification.ExecutableEntity is ExecutableProcedureReference p
                        && p.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value == "sp_getapplock")
            .Max(e => e.FirstTokenIndex);
        var locked = ProcedureRuleSupport.All<NamedTableReference>(procedure)
            .Where(t => t.SchemaObject.BaseIdentifier.Value == "User" && t.TableHints.Any(h => h.HintKind == TableHintKind.UpdLock))
            .ToList();

        var userLock = Assert.Single(locked);
        Assert.True(userLock.FirstTokenIndex > lastApplock, "the L2 user-row lock comes before an L1 applock");
    }

    private static List<(ExecuteStatement Statement, Dictionary<string, ScalarExpression> Args)> Applocks(TSqlFragment root) =>
        [.. ProcedureRuleSupport.All<ExecuteStatement>(root)
            .Select(e => (Statement: e, Reference: e.ExecuteSpecification.ExecutableEntity as ExecutableProcedureReference))
            .Where(e => e.Reference?.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value == "sp_getapplock")
            .Select(e => (e.Statement, e.Reference!.Parameters.ToDictionary(p => p.Variable!.Name, p => p.ParameterValue, StringComparer.OrdinalIgnoreCase)))];

    [Fact]
    public void A_scope_change_takes_its_users_applocks_Shared_before_the_tree_applocks_and_again_under_them_without_waiting()
    {
        // COORDINATION §2 L1: DbMerge.User:<id> (the applocks a user merge takes before it writes its users' access and
        // invitation rows) before DbMerge.Roots / DbMerge.Tree; a user found only under the tree locks is locked without
        // waiting, so the out-of-order request can never close a wait cycle.
        var procedure = Procedure(MoveFile);
        var applocks = Applocks(procedure);
        var user = applocks.Where(a => a.Args["@Resource"] is VariableReference { Name: "@UserResource" }).OrderBy(a => a.Statement.FirstTokenIndex).ToList();
        var tree = applocks.Except(user).ToList();
        var firstWrite = Writes(procedure).Where(w => w.Target.StartsWith("app.", StringComparison.Ordinal)).Min(w => w.Statement.FirstTokenIndex);

        Assert.Equal(2, user.Count);
        Assert.Contains(tree, t => t.Args["@Resource"] is StringLiteral { Value: "DbMerge.Roots" });
        Assert.All(user, u => Assert.Equal("Shared", Assert.IsType<StringLiteral>(u.Args["@LockMode"]).Value));
        Assert.True(user[0].Statement.FirstTokenIndex < tree.Min(t => t.Statement.FirstTokenIndex), "the user applocks come after a tree applock");
        Assert.Equal("@LockTimeout", Assert.IsType<VariableReference>(user[0].Args["@LockTimeout"]).Name);
        Assert.True(user[1].Statement.FirstTokenIndex > tree.Max(t => t.Statement.FirstTokenIndex) && user[1].Statement.LastTokenIndex < firstWrite,
            "the second look at the users is not between the tree applocks and the first write");
        Assert.Equal("0", Assert.IsType<IntegerLiteral>(user[1].Args["@LockTimeout"]).Value);
        Assert.All(user, u => Assert.True(InsideWhile(procedure, u.Statement), $"line {u.Statement.StartLine}: one applock per user needs a loop"));

        var resource = ProcedureRuleSupport.All<SelectSetVariable>(procedure).Where(v => v.Variable.Name == "@UserResource").ToList();
        Assert.NotEmpty(resource);
        Assert.All(resource, r => Assert.Contains(ProcedureRuleSupport.All<StringLiteral>(r.Expression), l => l.Value == "DbMerge.User:"));

        var fills = ProcedureRuleSupport.All<InsertStatement>(procedure)
            .Where(i => i.InsertSpecification.Target is VariableTableReference { Variable.Name: "@LockUser" or "@LateUser" })
            .ToList();
        Assert.Equal(2, fills.Count);
        Assert.All(fills, fill => Assert.Contains(ProcedureRuleSupport.All<SchemaObjectFunctionTableReference>(fill),
            t => t.SchemaObject.SchemaIdentifier?.Value == "dbmerge" && t.SchemaObject.BaseIdentifier.Value == "Document_MoveUsers"));
    }

    [Fact]
    public void The_users_of_a_scope_change_are_those_of_its_deleted_accesses_and_invitations_and_the_owners_it_copies()
    {
        var file = Repo.Layout.DatabaseObjects().Single(f => f.RelativePath == "database/dbmerge/Functions/dbmerge.Document_MoveUsers.sql");
        var function = ProcedureRuleSupport.All<CreateOrAlterFunctionStatement>(DbMerge.Schema.SqlText.Parse(file).Fragment!).Single();
        var tables = ProcedureRuleSupport.All<NamedTableReference>(function)
            .Select(t => $"{t.SchemaObject.SchemaIdentifier?.Value}.{t.SchemaObject.BaseIdentifier.Value}")
            .ToList();

        Assert.Equal(2, tables.Count(t => t == "app.DocumentAccess"));       // the document's accesses; the old root's owners
        Assert.Equal(2, tables.Count(t => t == "app.DocumentInvitation"));   // the invitees; the issuers
        Assert.Contains("app.User", tables);                                 // the accounts an invitation is addressed to
        Assert.Contains(ProcedureRuleSupport.All<ColumnReferenceExpression>(function), c => c.MultiPartIdentifier.Identifiers[^1].Value == "IssuerUserId");
        var emailJoin = ProcedureRuleSupport.All<BooleanComparisonExpression>(function).Any(c =>
            c.FirstExpression is ColumnReferenceExpression { MultiPartIdentifier.Identifiers: var l } && l[^1].Value == "Email"
            && c.SecondExpression is ColumnReferenceExpression { MultiPartIdentifier.Identifiers: var r } && r[^1].Value == "Email");
        Assert.True(emailJoin, "the invitees are not found by e-mail");
    }

    [Theory]
    [InlineData(MoveFile, 51210)]
    [InlineData(CreateFile, 51210)]
    public void Every_lock_wait_is_bounded_by_the_lock_timeout_and_a_row_lock_timeout_is_the_documented_number(string file, int number)
    {
        var procedure = Procedure(file);
        var setTimeout = ProcedureRuleSupport.All<SetCommandStatement>(procedure)
            .SelectMany(s => s.Commands.OfType<GeneralSetCommand>().Select(c => (Statement: s, Command: c)))
            .Single(c => c.Command.CommandType == GeneralSetCommandType.LockTimeout);
        var begin = ProcedureRuleSupport.All<BeginTransactionStatement>(procedure).Min(b => b.FirstTokenIndex);

        Assert.Equal("@LockTimeout", Assert.IsType<VariableReference>(setTimeout.Command.Parameter).Name);
        Assert.True(setTimeout.Statement.FirstTokenIndex < begin, "SET LOCK_TIMEOUT comes after BEGIN TRANSACTION: the first reads would wait without limit");

        var catchBlock = ProcedureRuleSupport.All<TryCatchStatement>(procedure).Single().CatchStatements.Statements;
        var translation = Assert.Single(catchBlock.OfType<IfStatement>(), IsLockTimeoutTest);
        var thrown = ProcedureRuleSupport.All<ThrowStatement>(translation).Single();
        Assert.Equal(number.ToString(System.Globalization.CultureInfo.InvariantCulture), ((IntegerLiteral)thrown.ErrorNumber).Value);
    }

    /// <summary><c>IF ERROR_NUMBER() = 1222</c>.</summary>
    private static bool IsLockTimeoutTest(IfStatement statement) =>
        statement.Predicate is BooleanComparisonExpression { ComparisonType: BooleanComparisonType.Equals } comparison
        && comparison.FirstExpression is FunctionCall { FunctionName.Value: "ERROR_NUMBER" }
        && comparison.SecondExpression is IntegerLiteral { Value: "1222" };

    [Fact]
    public void The_outbox_dedupe_keys_are_built_from_the_document_and_its_move_sequence_only()
    {
        var procedure = Procedure(MoveFile);
        var outbox = Writes(procedure).Where(w => w.Target == "dbmerge.Outbox").Select(w => (InsertStatement)w.Statement).ToList();

        Assert.Equal(2, outbox.Count);
        Assert.All(outbox, insert =>
        {
            var columns = insert.InsertSpecification.Columns.Select(c => c.MultiPartIdentifier.Identifiers[^1].Value).ToList();
            var row = Assert.Single(((ValuesInsertSource)insert.InsertSpecification.InsertSource).RowValues);
            var key = row.ColumnValues[columns.IndexOf("DedupeKey")];
            var variables = ProcedureRuleSupport.All<VariableReference>(key).Select(v => v.Name).ToHashSet();
            Assert.Equal(new HashSet<string> { "@DocumentId", "@MoveSequence" }, variables);
            Assert.DoesNotContain(ProcedureRuleSupport.All<FunctionCall>(key), f => f.FunctionName.Value is "NEWID" or "SYSUTCDATETIME" or "SYSDATETIME" or "GETDATE");
        });
    }

    [Fact]
    public void The_header_says_what_each_position_writes_and_which_index_each_lookup_seeks_on()
    {
        var header = ProcedureContract.Header(MoveFile);
        foreach (var text in new[]
                 {
                     "Rows of app.Document written per position", "no-op", "an appending position", "no free step",
                     "What is bounded", "Lookups and the indexes they seek on", "UQ_app_Document_Path",
                     "IX_app_DocumentAccess_DocumentId", "UQ_app_DocumentInvitation_DocumentId_Email", "PK_dbmerge_DocumentMove",
                     "Lock order", "L1", "L2", "L3", "collaboration.reset", "document.moved",
                 })
        {
            Assert.Contains(text, header, StringComparison.Ordinal);
        }
    }
}
