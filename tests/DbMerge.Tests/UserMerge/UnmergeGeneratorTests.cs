using DbMerge.Client.Errors;
using DbMerge.Schema;
using DbMerge.Schema.Merge;
using DbMerge.Testing;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// Undo a merge (issue 14): dbmerge.User_UnmergeCore and api.MergeRun_Journal are generated from the merge's own plan;
/// every policy kind has its undo, a table the merge can change without one fails offline validation (DBM043), and the
/// generated undo is bounded, seeks, and locks every journaled row in the lock order before its first write.
/// </summary>
public sealed class UnmergeGeneratorTests
{
    private const string UnmergePath = "database/dbmerge/Procedures/dbmerge.User_UnmergeCore.sql";
    private const string JournalPath = "database/api/Procedures/api.MergeRun_Journal.sql";

    private static string Committed(string path) => File.ReadAllText(Path.Combine(Repo.Layout.Root, path));

    [Fact]
    public void The_undo_and_the_journal_reader_are_generated_files_of_dbmerge_generate_merge_and_committed_as_generated()
    {
        var generation = MergeGenerator.Generate(Repo.Layout);

        Assert.Contains(UnmergePath, MergeGenerator.Paths);
        Assert.Contains(JournalPath, MergeGenerator.Paths);
        Assert.Equal(Committed(UnmergePath), generation.Files.Single(f => f.RelativePath == UnmergePath).Text);
        Assert.Equal(Committed(JournalPath), generation.Files.Single(f => f.RelativePath == JournalPath).Text);
    }

    [Fact]
    public void Every_policy_kind_declares_the_journal_operations_its_handler_writes_so_every_kind_has_an_undo()
    {
        var kinds = Enum.GetValues<MergePolicyKind>();
        Assert.Equal(6, kinds.Length);

        var missing = kinds.Where(k => UnmergePlanner.OperationsOf(k) is null).ToList();

        Assert.Empty(missing);
        Assert.Equal(JournalOperations.None, UnmergePlanner.OperationsOf(MergePolicyKind.Refuse));
        Assert.Equal(JournalOperations.Update, UnmergePlanner.OperationsOf(MergePolicyKind.Move));
    }

    [Fact]
    public void A_policy_kind_without_an_undo_is_a_DBM043_finding_at_its_policy_row_and_nothing_is_generated()
    {
        // Given the real plan with one policy planted as a kind the unmerge does not know (a handler added to the merge only)
        var plan = MergeGenerator.Generate(Repo.Layout).Plan;
        var planted = plan.Policies[0] with { Kind = (MergePolicyKind)99 };
        var withNewKind = plan with { Policies = [planted, .. plan.Policies.Skip(1)] };

        // When the undo is planned
        var unmerge = UnmergePlanner.Build(withNewKind);

        // Then the policy's row is named, and the coverage rule's id is DBM043
        var finding = Assert.Single(unmerge.Findings);
        Assert.Equal((UnmergePlanner.RuleId, planted.Row.File, planted.Row.Line), (finding.Rule, finding.File, finding.Line));
        Assert.Contains($"merge policy {planted.Row.Name}", finding.Message, StringComparison.Ordinal);
        Assert.Contains("has no undo", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_planted_policy_kind_gets_its_undo_and_the_result_validates_clean()
    {
        // Given the planted tables of every policy kind (tests/Shared/PlantedMergeTables.cs)
        var scratch = Repo.ScratchCopy();
        PlantedMergeTables.Plant(scratch, PlantedMergeTables.MigrationName, PlantedMergeTables.Sql);

        // When the merge and its undo are generated
        var generation = MergeGenerator.Generate(scratch);
        Assert.False(generation.HasErrors, string.Join("\n", generation.Findings));
        MergeGenerator.Write(scratch, generation);
        var unmerge = UnmergePlanner.Build(generation.Plan);
        var core = File.ReadAllText(Path.Combine(scratch.Root, UnmergePath));

        // Then each planted table is restored for exactly the journal operations its policy writes
        var operations = unmerge.Tables.Where(t => t.Table.Name.StartsWith("Planted", StringComparison.Ordinal))
            .ToDictionary(t => t.Table.Name, t => t.Operations);
        Assert.Equal(
            new Dictionary<string, JournalOperations>
            {
                ["PlantedBookmark"] = JournalOperations.Update,
                ["PlantedTeamMember"] = JournalOperations.Update | JournalOperations.Delete,
                ["PlantedStar"] = JournalOperations.Update | JournalOperations.Delete,
                ["PlantedClubMember"] = JournalOperations.Update | JournalOperations.Delete,
                ["PlantedClubNote"] = JournalOperations.Update,
                ["PlantedClubCard"] = JournalOperations.Update,
                ["PlantedVoucher"] = JournalOperations.Update | JournalOperations.Delete,
                ["PlantedLegalHold"] = JournalOperations.None,
            },
            operations);
        foreach (var (table, ops) in operations.Where(o => o.Value != JournalOperations.None))
        {
            var order = unmerge.Tables.Single(t => t.Table.Name == table).Order;
            Assert.Contains($"/* ---- check {order} app.{table} ", core, StringComparison.Ordinal);
            Assert.Contains($"@RunTableName = N'{table}' AND @RunOperation = 'update'", core, StringComparison.Ordinal);
            Assert.Equal(ops.HasFlag(JournalOperations.Delete), core.Contains($"@RunTableName = N'{table}' AND @RunOperation = 'delete'", StringComparison.Ordinal));
        }

        Assert.Contains("SET IDENTITY_INSERT app.PlantedStar ON;", core, StringComparison.Ordinal);
        Assert.DoesNotContain("PlantedLegalHold", core, StringComparison.Ordinal); // refuse changes nothing: nothing to undo
        AssertValidatesClean(scratch);
    }

    [Fact]
    public void A_table_the_merge_can_change_whose_column_does_not_survive_the_json_journal_is_a_DBM043_finding_and_fails_validate()
    {
        // Given a planted table with a float column and a move policy (the merge itself could journal it)
        var scratch = Repo.ScratchCopy();
        PlantedMergeTables.Plant(scratch, "0089_create_app_PlantedMeasurement.sql", """
            CREATE TABLE app.PlantedMeasurement
            (
                PlantedMeasurementId int IDENTITY(1, 1) NOT NULL,
                OwnerUserId          int NULL,
                Reading              float NOT NULL,
                CONSTRAINT PK_app_PlantedMeasurement PRIMARY KEY CLUSTERED (PlantedMeasurementId),
                CONSTRAINT FK_app_PlantedMeasurement_OwnerUserId_app_User FOREIGN KEY (OwnerUserId) REFERENCES app.[User] (UserId)
            );
            GO
            CREATE NONCLUSTERED INDEX IX_app_PlantedMeasurement_OwnerUserId ON app.PlantedMeasurement (OwnerUserId);
            GO
            INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, ApplyOrder, Description)
            VALUES (N'app', N'PlantedMeasurement', N'OwnerUserId', 'move', NULL, NULL, 1165, N'planted: a float column');
            GO
            """);

        // When the merge is generated, and the repository validated
        var generation = MergeGenerator.Generate(scratch);
        using var verified = SchemaVerifier.Verify(scratch, VerificationOptions.ModelOnly with { RunModelRules = true });

        // Then nothing is generated, and validate reports DBM043 at the policy row, naming the column and its type
        Assert.Empty(generation.Files);
        var finding = Assert.Single(generation.Findings, f => f.Rule == UnmergePlanner.RuleId);
        Assert.Equal("migrations/0089_create_app_PlantedMeasurement.sql", finding.File);
        Assert.Contains("app.PlantedMeasurement.Reading is float", finding.Message, StringComparison.Ordinal);
        Assert.Contains(verified.Findings, f => f.Rule == "DBM043" && f.Message == finding.Message && f.Severity == FindingSeverity.Error);
        Assert.DoesNotContain(verified.Findings, f => f.Rule == "DBM041");
    }

    [Fact]
    public void A_policy_that_changes_a_primary_key_column_of_a_table_another_policy_also_changes_is_a_DBM043_finding()
    {
        // Given a planted table whose key holds the user column, with a second policy on the same table
        var scratch = Repo.ScratchCopy();
        PlantedMergeTables.Plant(scratch, "0089_create_app_PlantedPair.sql", """
            CREATE TABLE app.PlantedPair
            (
                ItemId        int NOT NULL,
                UserId        int NOT NULL,
                CreatorUserId int NULL,
                CONSTRAINT PK_app_PlantedPair PRIMARY KEY CLUSTERED (ItemId, UserId),
                CONSTRAINT FK_app_PlantedPair_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
                CONSTRAINT FK_app_PlantedPair_CreatorUserId_app_User FOREIGN KEY (CreatorUserId) REFERENCES app.[User] (UserId)
            );
            GO
            CREATE NONCLUSTERED INDEX IX_app_PlantedPair_UserId ON app.PlantedPair (UserId);
            GO
            CREATE NONCLUSTERED INDEX IX_app_PlantedPair_CreatorUserId ON app.PlantedPair (CreatorUserId);
            GO
            INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, ApplyOrder, Description)
            VALUES (N'app', N'PlantedPair', N'UserId', 'dedupe', N'ItemId', NULL, 1165, N'planted: key column'),
                   (N'app', N'PlantedPair', N'CreatorUserId', 'move', NULL, NULL, 1166, N'planted: second policy');
            GO
            """);

        var findings = MergeGenerator.Generate(scratch).Findings;

        var finding = Assert.Single(findings, f => f.Rule == UnmergePlanner.RuleId);
        Assert.Contains("app.PlantedPair.UserId changes key column UserId", finding.Message, StringComparison.Ordinal);
        Assert.Contains("app.PlantedPair.CreatorUserId", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_checks_walk_the_journaled_tables_in_the_lock_order_and_come_before_every_restore()
    {
        var generation = MergeGenerator.Generate(Repo.Layout);
        var core = Committed(UnmergePath);
        var expected = generation.Plan.JournaledTables.Select(t => t.QualifiedName).ToList();
        Assert.Equal(16, expected.Count);

        // the check sections, in the order they appear, are the lock order (L3; app.User's other rows last)
        var checks = System.Text.RegularExpressions.Regex.Matches(core, @"/\* ---- check \d+ (app\.\w+) ").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(expected, checks);

        // and every write of an app table but the two user rows' lock (L2) comes after the last check and the refusal
        var fragment = Parse(core);
        var lastCheck = core.IndexOf("---- refuse, changing nothing", StringComparison.Ordinal);
        Assert.True(lastCheck > 0);
        var writes = All<TSqlStatement>(fragment).Where(s => s is UpdateStatement or InsertStatement or DeleteStatement)
            .Where(s => WritesAppTable(s)).ToList();
        Assert.True(writes.Count > 20, $"only {writes.Count} writes of app tables found");
        var early = writes.Where(s => s.StartOffset < lastCheck).ToList();
        Assert.Equal(2, early.Count); // the L2 lock of the two user rows
        Assert.All(early, s => Assert.Contains("SET u.UpdatedAt = IIF(u.UpdatedAt = @Now", SqlText.TextOf(s), StringComparison.Ordinal));
    }

    [Fact]
    public void Every_write_of_the_undo_is_bounded_to_one_run_of_a_batch_of_the_journal_or_one_user_row()
    {
        var fragment = Parse(Committed(UnmergePath));
        var writes = All<TSqlStatement>(fragment).Where(s => s is UpdateStatement or InsertStatement or DeleteStatement).Where(WritesAppTable).ToList();
        Assert.NotEmpty(writes);

        var unbounded = writes.Where(s =>
        {
            var text = SqlText.TextOf(s);
            return !(text.Contains(".ChangeSeq > @RunBottom AND ", StringComparison.Ordinal) && text.Contains(".ChangeSeq <= @RunTop", StringComparison.Ordinal))
                   && !text.Contains("WHERE u.UserId = @FirstUserId", StringComparison.Ordinal)
                   && !text.Contains("WHERE u.UserId = @SecondUserId", StringComparison.Ordinal);
        }).Select(s => $"line {s.StartLine}: {SqlText.TextOf(s).Split('\n')[0]}").ToList();

        Assert.True(unbounded.Count == 0, "writes not bounded to a run of @Undo (≤ @BatchSize journal rows) or one user row:\n" + string.Join("\n", unbounded));
        // and the batches of the journal are TOP (@BatchSize) keyset reads of its primary key
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(Committed(UnmergePath), @"SELECT TOP \(@BatchSize\) c\.ChangeSeq").Count);
    }

    [Fact]
    public void Every_restore_rechecks_that_its_rows_are_exactly_as_the_merge_left_them_and_counts_them()
    {
        var core = Committed(UnmergePath);
        var restores = System.Text.RegularExpressions.Regex.Matches(core, @"@RunTableName = N'(\w+)' AND @RunOperation = '(\w+)'").Count;
        Assert.True(restores >= 16, $"{restores} restore branches");

        // one post-condition per restore branch, and the dispatch refuses a change it has no branch for
        Assert.Equal(restores, System.Text.RegularExpressions.Regex.Matches(core, @"IF @Done <> @Expected").Count);
        Assert.Contains("THROW 51155, @Message, 1;", core, StringComparison.Ordinal);
        // an update or a removal only touches a row whose current image is the merge's after-image (a)
        Assert.Contains("AND (x.UserId = a.[UserId] OR (x.UserId IS NULL AND a.[UserId] IS NULL))", core, StringComparison.Ordinal);
    }

    [Fact]
    public void The_undo_numbers_are_registered_thrown_by_the_procedure_their_entry_names_and_documented_in_its_header()
    {
        string[] files = ["database/api/Procedures/api.User_Unmerge.sql", UnmergePath, JournalPath];
        foreach (var file in files)
        {
            ProcedureContract.AssertFileHoldsItsProcedure(file);
        }

        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented("database/api/Procedures/api.User_Unmerge.sql", 51140, 51169);
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(UnmergePath, 51140, 51169);
        ProcedureContract.AssertThrownNumbersAreRegisteredAndDocumented(JournalPath, 51140, 51169);
        ProcedureContract.AssertAreaErrorsAreThrownByTheProcedureTheyName(files, 51140, 51169);
        Assert.Equal(DbMergeErrorKind.LockTimeout, ErrorRegistry.Get(ErrorRegistry.UnmergeLockTimeout).Kind);
        Assert.Equal(DbMergeErrorKind.Conflict, ErrorRegistry.Get(ErrorRegistry.UnmergeRowsChanged).Kind);
        Assert.Equal(DbMergeErrorKind.Forbidden, ErrorRegistry.Get(ErrorRegistry.UnmergeForbidden).Kind);
    }

    [Fact]
    public void The_coverage_rule_is_registered_with_offline_verification()
    {
        Assert.Contains(ModelRules.All, r => r.Id == "DBM043");
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static void AssertValidatesClean(RepositoryLayout scratch)
    {
        var script = DbMerge.Deployment.DeployScriptGenerator.Build(scratch);
        using var result = SchemaVerifier.Verify(scratch, new VerificationOptions
        {
            RegistryNumbers = ErrorRegistry.All.Select(e => e.Number).ToList(),
            ReadmeText = File.ReadAllText(Path.Combine(scratch.Root, "README.md")),
            GeneratedScripts = [("(generated) dbmerge script", script.TransactSql)],
            ExtraFindings = script.Problems,
        });
        var errors = result.Findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }

    private static bool WritesAppTable(TSqlStatement statement)
    {
        var target = statement switch
        {
            UpdateStatement u => u.UpdateSpecification.Target,
            DeleteStatement d => d.DeleteSpecification.Target,
            InsertStatement i => i.InsertSpecification.Target,
            _ => null,
        };
        if (target is not NamedTableReference named)
        {
            return false;
        }

        if (string.Equals(named.SchemaObject.SchemaIdentifier?.Value, "app", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        // UPDATE x … FROM app.X AS x: the alias stands for an app table
        var from = statement switch
        {
            UpdateStatement u => u.UpdateSpecification.FromClause,
            DeleteStatement d => d.DeleteSpecification.FromClause,
            _ => null,
        };
        var alias = named.SchemaObject.BaseIdentifier.Value;
        return from is not null && All<NamedTableReference>(from).Any(t =>
            string.Equals(t.Alias?.Value, alias, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(t.SchemaObject.SchemaIdentifier?.Value, "app", StringComparison.OrdinalIgnoreCase));
    }

    private static TSqlFragment Parse(string text)
    {
        var fragment = new TSql150Parser(true).Parse(new StringReader(text), out var errors);
        Assert.Empty(errors);
        return fragment;
    }

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
            if (fragment is T match)
            {
                Found.Add(match);
            }
        }
    }
}
