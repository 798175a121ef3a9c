using System.Data;
using System.Text.RegularExpressions;
using DbMerge.Client;
using DbMerge.Client.Errors;
using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Reconciliation;

/// <summary>
/// The reconciliation, outbox and settings procedures against their contracts (registry, headers, house rules), the
/// state machine as SQL enforces it against the client's list and the README, the table types against the client's
/// rows, and the structural promises of the processing: one procedure calls the merge core, every status change
/// records the old status, done is written after the merge and the outbox events, a token leaves only by the claim.
/// </summary>
public sealed partial class ReconciliationContractTests
{
    private static readonly string[] ProcedureFiles =
    [
        "database/api/Procedures/api.Reconciliation_ImportBegin.sql",
        "database/api/Procedures/api.Reconciliation_ImportBatch.sql",
        "database/api/Procedures/api.Reconciliation_ImportFinish.sql",
        "database/api/Procedures/api.Reconciliation_Confirm.sql",
        "database/api/Procedures/api.Reconciliation_Claim.sql",
        "database/api/Procedures/api.Reconciliation_Process.sql",
        "database/api/Procedures/api.Reconciliation_List.sql",
        "database/api/Procedures/api.Reconciliation_Counts.sql",
        "database/api/Procedures/api.Reconciliation_Get.sql",
        "database/api/Procedures/api.Reconciliation_Cancel.sql",
        "database/dbmerge/Procedures/dbmerge.Reconciliation_ProcessOne.sql",
        "database/api/Procedures/api.Outbox_Claim.sql",
        "database/api/Procedures/api.Outbox_MarkDispatched.sql",
        "database/api/Procedures/api.Outbox_List.sql",
        "database/api/Procedures/api.Setting_Set.sql",
    ];

    private const string TablesMigration = "migrations/0071_create_dbmerge_reconciliation_tables.sql";
    private const string TypesMigration = "migrations/0072_create_dbmerge_reconciliation_and_outbox_types.sql";

    public static TheoryData<string> Files => new(ProcedureFiles);

    public static TheoryData<string> AllFiles => new([.. ProcedureFiles, "database/api/Procedures/api.Setting_List.sql"]);

    private static readonly string ReadmeText = File.ReadAllText(Path.Combine(Repo.Layout.Root, "README.md"));

    // ---- contracts ----------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(AllFiles))]
    public void The_file_holds_exactly_its_procedure_and_starts_with_the_session_settings(string relativePath) =>
        ProcedureContract.AssertFileHoldsItsProcedure(relativePath);

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_thrown_number_is_registered_for_the_block_and_documented_in_the_header(string relativePath) =>
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(relativePath, 51500, 51549);

    [Fact]
    public void Every_registered_reconciliation_outbox_and_setting_error_is_thrown_by_the_procedure_it_names() =>
        ProcedureContract.AssertAreaErrorsAreThrownByTheProcedureTheyName(ProcedureFiles, 51500, 51549);

    [Theory]
    [MemberData(nameof(AllFiles))]
    public void The_procedure_follows_the_house_rules(string relativePath) =>
        ProcedureContract.AssertHouseStyle(relativePath);

    [Fact]
    public void The_block_stays_inside_51500_51549_which_the_collections_stream_does_not_use()
    {
        var numbers = ErrorRegistry.All.Where(e => e.Name.StartsWith("Reconciliation", StringComparison.Ordinal)
                                                   || e.Name.StartsWith("Outbox", StringComparison.Ordinal)
                                                   || e.Name.StartsWith("Setting", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(numbers);
        Assert.All(numbers, e => Assert.InRange(e.Number, 51500, 51549));
        Assert.Contains("### Reconciliation and outbox (51500–51549)", ReadmeText, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_operator_only_procedure_checks_the_operator_role_before_anything_else_it_does()
    {
        var operatorOnly = ProcedureFiles.Where(f => !f.EndsWith("api.Reconciliation_Confirm.sql", StringComparison.Ordinal)
                                                     && !f.EndsWith("dbmerge.Reconciliation_ProcessOne.sql", StringComparison.Ordinal)).ToList();
        Assert.Equal(13, operatorOnly.Count);
        foreach (var file in operatorOnly)
        {
            var text = Body(file);
            var check = text.IndexOf("IS_ROLEMEMBER(N'DbMergeOperator')", StringComparison.Ordinal);
            Assert.True(check > 0, $"{file} does not check DbMergeOperator");
            var firstTableAccess = Regex.Match(text, @"\b(FROM|UPDATE|INSERT INTO|EXEC)\s+(dbmerge|app)\.", RegexOptions.IgnoreCase);
            Assert.True(firstTableAccess.Success && check < firstTableAccess.Index, $"{file} touches a table before its role check");
        }

        Assert.DoesNotContain("IS_ROLEMEMBER", Body("database/api/Procedures/api.Reconciliation_Confirm.sql"), StringComparison.Ordinal);
    }

    // ---- the state machine --------------------------------------------------------------------------------------

    [Fact]
    public void The_transition_check_constraint_admits_exactly_the_client_s_transitions()
    {
        var sql = TransitionPairs(CheckConstraint(TablesMigration, "CK_dbmerge_ReconciliationRequest_Transition"));

        var client = ReconciliationStatuses.Transitions.Select(t => (t.From, t.To)).ToHashSet();

        Assert.Equal(9, client.Count);
        Assert.Equal(client.OrderBy(t => t.ToString()), sql.OrderBy(t => t.ToString()));
    }

    [Fact]
    public void The_status_check_constraint_lists_exactly_the_client_s_statuses()
    {
        var check = CheckConstraint(TablesMigration, "CK_dbmerge_ReconciliationRequest_Status");

        var statuses = Literals(check).ToHashSet(StringComparer.Ordinal);

        Assert.Equal(ReconciliationStatuses.All.Order(StringComparer.Ordinal), statuses.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_README_documents_every_status_and_exactly_the_admitted_transitions()
    {
        var section = ReadmeTests.Section(ReadmeText, "#### Statuses");
        foreach (var status in ReconciliationStatuses.All)
        {
            Assert.Matches($@"\| `{Regex.Escape(status)}` \| \w", section);
        }

        var rows = TransitionRow().Matches(section)
            .Select(m => (From: m.Groups["from"].Value == "(none)" ? null : m.Groups["from"].Value.Trim('`'), To: m.Groups["to"].Value))
            .ToHashSet();

        Assert.Equal(ReconciliationStatuses.Transitions.Select(t => (t.From, t.To)).OrderBy(t => t.ToString()), rows.OrderBy(t => t.ToString()));
    }

    [Fact]
    public void Every_status_change_records_the_old_status_so_the_check_constraint_sees_the_transition()
    {
        var updates = DatabaseProcedures()
            .SelectMany(p => All<UpdateSpecification>(p.Fragment).Select(u => (p.Name, Update: u)))
            .Where(u => SetsColumn(u.Update, "Status") && TargetsRequests(u.Update))
            .ToList();
        Assert.True(updates.Count >= 7, $"found only {updates.Count} status updates");

        foreach (var (name, update) in updates)
        {
            var previous = update.SetClauses.OfType<AssignmentSetClause>()
                .Single(c => c.Column?.MultiPartIdentifier.Identifiers[^1].Value == "PreviousStatus");
            Assert.True(previous.NewValue is ColumnReferenceExpression c && c.MultiPartIdentifier.Identifiers[^1].Value == "Status"
                        || previous.NewValue is IIfCall, $"{name}: PreviousStatus is not set from Status");
        }
    }

    // ---- table types --------------------------------------------------------------------------------------------

    [Fact]
    public void The_import_row_type_has_the_columns_the_client_sends_in_order_with_their_types_and_lengths()
    {
        var columns = TypeColumns("ReconciliationImportRowList");

        Assert.Equal(
            DbMergeClient.ImportRowMetadata.Select(m => (m.Name, Type: m.SqlDbType.ToString().ToLowerInvariant(), Length: m.MaxLength)),
            columns);
    }

    [Fact]
    public void The_outbox_id_type_has_the_column_the_client_sends()
    {
        Assert.Equal(
            DbMergeClient.OutboxIdMetadata.Select(m => (m.Name, Type: m.SqlDbType.ToString().ToLowerInvariant(), Length: m.MaxLength)),
            TypeColumns("OutboxIdList"));
    }

    [Fact]
    public void The_client_never_sends_more_rows_than_the_procedures_accept()
    {
        Assert.Contains("@RowCount > 500", Body("database/api/Procedures/api.Reconciliation_ImportBatch.sql"), StringComparison.Ordinal);
        Assert.Equal(500, DbMergeClient.ReconciliationImportMaxBatch);
        Assert.Contains("@Requested > 1000", Body("database/api/Procedures/api.Outbox_MarkDispatched.sql"), StringComparison.Ordinal);
        Assert.Contains("@Max NOT BETWEEN 1 AND 1000", Body("database/api/Procedures/api.Outbox_Claim.sql"), StringComparison.Ordinal);
        Assert.Equal(1000, DbMergeClient.OutboxMaxBatch);
        Assert.InRange(DbMerge.Runner.Reconciliation.ReconciliationImporter.DefaultBatchSize, 1, DbMergeClient.ReconciliationImportMaxBatch);
    }

    // ---- processing -------------------------------------------------------------------------------------------

    [Fact]
    public void Only_api_User_Merge_api_User_Sweep_and_dbmerge_Reconciliation_ProcessOne_call_the_merge_core()
    {
        var callers = DatabaseProcedures()
            .Where(p => All<ExecutableProcedureReference>(p.Fragment)
                .Any(e => e.ProcedureReference?.ProcedureReference?.Name is { } n && SqlText.Display(n) == "dbmerge.User_MergeCore"))
            .Select(p => p.Name)
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(["api.User_Merge", "api.User_Sweep", "dbmerge.Reconciliation_ProcessOne"], callers);
    }

    [Fact]
    public void ProcessOne_writes_done_after_the_merge_and_the_outbox_events_and_records_the_error_after_the_rollback()
    {
        var text = Body("database/dbmerge/Procedures/dbmerge.Reconciliation_ProcessOne.sql");
        var tryBlock = text[..text.IndexOf("BEGIN CATCH", StringComparison.Ordinal)];
        var catchBlock = text[text.IndexOf("BEGIN CATCH", StringComparison.Ordinal)..];

        var core = tryBlock.IndexOf("EXEC dbmerge.User_MergeCore", StringComparison.Ordinal);
        var outbox = tryBlock.IndexOf("INSERT INTO dbmerge.Outbox", StringComparison.Ordinal);
        var done = tryBlock.IndexOf("Status = 'done'", StringComparison.Ordinal);
        var commit = tryBlock.LastIndexOf("COMMIT TRANSACTION", StringComparison.Ordinal);
        Assert.True(core > 0 && core < outbox && outbox < done && done < commit, "the merge transaction is not core → outbox → request → commit");
        Assert.Contains("WHERE RequestId = @RequestId AND Status = 'processing' AND ClaimId = @ClaimId", tryBlock, StringComparison.Ordinal);
        Assert.DoesNotContain("app.[User]", tryBlock, StringComparison.Ordinal);

        var rollback = catchBlock.IndexOf("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;", StringComparison.Ordinal);
        var error = catchBlock.IndexOf("Status = 'error'", StringComparison.Ordinal);
        Assert.True(rollback >= 0 && rollback < error, "the error is not recorded after the rollback");
    }

    [Fact]
    public void The_claim_commits_before_the_merge_and_takes_rows_with_READPAST_and_UPDLOCK()
    {
        var claim = Body("database/api/Procedures/api.Reconciliation_Claim.sql");

        Assert.DoesNotContain("BEGIN TRANSACTION", claim, StringComparison.Ordinal);
        Assert.Equal(2, Regex.Matches(claim, @"WITH \(READPAST, UPDLOCK, ROWLOCK\)").Count);
        Assert.DoesNotContain("User_MergeCore", claim, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_is_generated_only_by_the_import_and_its_plain_text_is_returned_only_by_the_outbox_claim()
    {
        var procedures = DatabaseProcedures().ToList();
        Assert.Equal(["api.Reconciliation_ImportBatch"],
            procedures.Where(p => p.Text.Contains("CRYPT_GEN_RANDOM", StringComparison.Ordinal)).Select(p => p.Name));

        // Every procedure that reads an outbox payload either erases or masks its secret, except the drainer's claim.
        var readers = procedures.Where(p => Regex.IsMatch(p.Text, @"\bo\.Payload\b")).Select(p => p.Name).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["api.Outbox_Claim", "api.Outbox_List", "api.Outbox_MarkDispatched"], readers);
        Assert.Contains("JSON_MODIFY(o.Payload, '$.secret', NULL)", procedures.Single(p => p.Name == "api.Outbox_List").Text, StringComparison.Ordinal);
        Assert.Contains("JSON_MODIFY(o.Payload, '$.secret', NULL)", procedures.Single(p => p.Name == "api.Outbox_MarkDispatched").Text, StringComparison.Ordinal);

        var batch = procedures.Single(p => p.Name == "api.Reconciliation_ImportBatch").Text;
        Assert.Contains("AS [secret.token]", batch, StringComparison.Ordinal);
        Assert.Contains("HASHBYTES('SHA2_256', s.Token)", batch, StringComparison.Ordinal);
        var result = batch[batch.LastIndexOf("SELECT r.LineNumber", StringComparison.Ordinal)..];
        Assert.DoesNotContain("Token", result, StringComparison.Ordinal);
    }

    // ---- helpers ------------------------------------------------------------------------------------------------

    private sealed record ParsedProcedure(string Name, string Text, TSqlFragment Fragment);

    private static IEnumerable<ParsedProcedure> DatabaseProcedures() =>
        Repo.Layout.DatabaseObjects()
            .Where(f => f.RelativePath.Contains("/Procedures/", StringComparison.Ordinal))
            .Select(f => new ParsedProcedure(Path.GetFileNameWithoutExtension(f.RelativePath), StripComments(f.Text), SqlText.Parse(f).Fragment!));

    private static string Body(string relativePath) => StripComments(ProcedureContract.Load(relativePath).Text);

    private static string StripComments(string text) => BlockComment().Replace(text, string.Empty);

    private static IEnumerable<T> All<T>(TSqlFragment fragment)
        where T : TSqlFragment
    {
        var visitor = new Collector<T>();
        fragment.Accept(visitor);
        return visitor.Found;
    }

    private sealed class Collector<T> : TSqlFragmentVisitor
        where T : TSqlFragment
    {
        public List<T> Found { get; } = [];

        public override void Visit(TSqlFragment fragment)
        {
            if (fragment is T t)
            {
                Found.Add(t);
            }
        }
    }

    private static bool SetsColumn(UpdateSpecification update, string column) =>
        update.SetClauses.OfType<AssignmentSetClause>().Any(c => c.Column?.MultiPartIdentifier.Identifiers[^1].Value == column);

    /// <summary>The UPDATE's target is dbmerge.ReconciliationRequest (directly, through its alias, or through a CTE over it).</summary>
    private static bool TargetsRequests(UpdateSpecification update) =>
        update.Target is NamedTableReference target
        && (SqlText.Display(target.SchemaObject) == "dbmerge.ReconciliationRequest"
            || update.FromClause?.TableReferences.OfType<NamedTableReference>().Any(t => SqlText.Display(t.SchemaObject) == "dbmerge.ReconciliationRequest") == true
            || target.SchemaObject.BaseIdentifier.Value is "NextReady" or "NextError");

    private static BooleanExpression CheckConstraint(string migration, string name)
    {
        var fragment = SqlText.Parse(Repo.Layout.Migrations().Single(m => m.RelativePath == migration)).Fragment!;
        return All<CheckConstraintDefinition>(fragment).Single(c => c.ConstraintIdentifier?.Value == name).CheckCondition;
    }

    private static IEnumerable<string> Literals(TSqlFragment fragment) => All<StringLiteral>(fragment).Select(l => l.Value);

    /// <summary>(PreviousStatus, Status) pairs of an OR of (PreviousStatus IS NULL | = 'a') AND Status (= 'b' | IN (…)).</summary>
    private static HashSet<(string? From, string To)> TransitionPairs(BooleanExpression check)
    {
        var pairs = new HashSet<(string? From, string To)>();
        foreach (var disjunct in Disjuncts(check))
        {
            var conjunction = Assert.IsType<BooleanBinaryExpression>(Unwrap(disjunct));
            Assert.Equal(BooleanBinaryExpressionType.And, conjunction.BinaryExpressionType);
            string? from = Unwrap(conjunction.FirstExpression) switch
            {
                BooleanIsNullExpression { IsNot: false } => null,
                BooleanComparisonExpression { SecondExpression: StringLiteral l } => l.Value,
                var other => throw new InvalidOperationException($"unexpected previous-status test {other.GetType().Name}"),
            };
            foreach (var to in Literals(conjunction.SecondExpression))
            {
                pairs.Add((from, to));
            }
        }

        return pairs;
    }

    private static IEnumerable<BooleanExpression> Disjuncts(BooleanExpression e) =>
        Unwrap(e) is BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.Or } or
            ? Disjuncts(or.FirstExpression).Concat(Disjuncts(or.SecondExpression))
            : [e];

    private static BooleanExpression Unwrap(BooleanExpression e)
    {
        while (e is BooleanParenthesisExpression p)
        {
            e = p.Expression;
        }

        return e;
    }

    private static List<(string Name, string Type, long Length)> TypeColumns(string typeName)
    {
        var fragment = SqlText.Parse(Repo.Layout.Migrations().Single(m => m.RelativePath == TypesMigration)).Fragment!;
        var type = All<CreateTypeTableStatement>(fragment).Single(t => t.Name.BaseIdentifier.Value == typeName);
        return type.Definition.ColumnDefinitions.Select(c =>
        {
            var dataType = (SqlDataTypeReference)c.DataType;
            var length = dataType.Parameters.Count > 0 ? long.Parse(dataType.Parameters[0].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            var name = dataType.SqlDataTypeOption.ToString().ToLowerInvariant();
            var fixedLength = name switch { "int" => 4, "smallint" => 2, "bigint" => 8, _ => length };
            return (c.ColumnIdentifier.Value, name, fixedLength == 0 ? length : fixedLength);
        }).ToList();
    }

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex BlockComment();

    [GeneratedRegex(@"^\| (?<from>\(none\)|`[a-z-]+`) \| `(?<to>[a-z-]+)` \|", RegexOptions.Multiline)]
    private static partial Regex TransitionRow();
}
