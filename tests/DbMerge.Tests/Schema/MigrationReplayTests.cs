using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Schema;

/// <summary>
/// <see cref="MigrationReplay"/>: migrations folded into the object definitions the migrated database holds
/// (DESIGN §2). Replayed CREATE TABLE text is parsed back with ScriptDom and inspected as a tree.
/// </summary>
public sealed class MigrationReplayTests
{
    private const string CreateWidget = """
        CREATE TABLE app.Widget
        (
            WidgetId int           NOT NULL,
            Size     int           NOT NULL CONSTRAINT DF_app_Widget_Size DEFAULT (1),
            Name     nvarchar(100) COLLATE Latin1_General_BIN2 NULL,
            OwnerId  int           NULL,
            CONSTRAINT PK_app_Widget PRIMARY KEY CLUSTERED (WidgetId),
            CONSTRAINT CK_app_Widget_Size CHECK (Size > 0)
        );
        GO
        """;

    private static ParsedScript Parse(string name, string text)
    {
        var findings = new List<Finding>();
        var parsed = SqlText.Parse(new SqlScriptFile("migrations/" + name, "<irrelevant>", text), findings);
        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
        return parsed;
    }

    private static MigrationReplay Replay(params (string Name, string Text)[] migrations) =>
        MigrationReplay.Run(migrations.Select(m => Parse(m.Name, m.Text)).ToList());

    private static MigrationReplay ReplayWidget(string change) =>
        Replay(("0001_create_app_Widget.sql", CreateWidget), ("0002_change_app_Widget.sql", change));

    private static TSqlStatement Statement(ModelScript script)
    {
        var parsed = SqlText.Parse(new SqlScriptFile(script.File, "<irrelevant>", script.Text));
        var statement = Assert.Single(Assert.IsType<TSqlScript>(parsed.Fragment).Batches.SelectMany(b => b.Statements));
        return statement;
    }

    private static TableDefinition Table(MigrationReplay replay, string name)
    {
        var tables = replay.Scripts.Select(Statement).OfType<CreateTableStatement>()
            .Where(t => SqlText.Display(t.SchemaObjectName) == name).ToList();
        return Assert.Single(tables).Definition;
    }

    private static ColumnDefinition Column(TableDefinition table, string name) =>
        Assert.Single(table.ColumnDefinitions, c => c.ColumnIdentifier.Value == name);

    private static bool? Nullable(ColumnDefinition column) =>
        column.Constraints.OfType<NullableConstraintDefinition>().SingleOrDefault()?.Nullable;

    private static string TypeName(ColumnDefinition column) => SqlText.TextOf(column.DataType).ToLowerInvariant().Replace(" ", string.Empty, StringComparison.Ordinal);

    private static void AssertNoFindings(MigrationReplay replay) =>
        Assert.True(replay.Findings.Count == 0, string.Join(Environment.NewLine, replay.Findings));

    // ---------------------------------------------------------------- columns folded into CREATE TABLE

    [Fact]
    public void Alter_table_add_column_is_folded_into_the_create_table_at_its_original_line()
    {
        var replay = ReplayWidget("""
            /* header */
            ALTER TABLE app.Widget ADD Colour varchar(10) NULL, Weight decimal(9, 2) NULL;
            GO
            """);

        AssertNoFindings(replay);
        var script = Assert.Single(replay.Scripts);
        Assert.Equal("migrations/0001_create_app_Widget.sql", script.File);
        Assert.Equal(1, script.Line);
        var table = Table(replay, "app.Widget");
        Assert.Equal(["WidgetId", "Size", "Name", "OwnerId", "Colour", "Weight"], table.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value).ToArray());
        Assert.Equal("varchar(10)", TypeName(Column(table, "Colour")));
        Assert.True(Nullable(Column(table, "Weight")));
    }

    [Fact]
    public void Alter_column_changes_the_type_and_nullability_and_keeps_the_default()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget ALTER COLUMN Size bigint NULL;
            GO
            ALTER TABLE app.Widget ALTER COLUMN OwnerId int NOT NULL;
            GO
            """);

        AssertNoFindings(replay);
        var table = Table(replay, "app.Widget");
        var size = Column(table, "Size");
        Assert.Equal("bigint", TypeName(size));
        Assert.True(Nullable(size));
        Assert.Equal("DF_app_Widget_Size", size.DefaultConstraint?.ConstraintIdentifier?.Value);
        Assert.False(Nullable(Column(table, "OwnerId")));
    }

    [Fact]
    public void Alter_column_without_collate_drops_the_collation_as_SQL_Server_does()
    {
        // SQL Server: ALTER COLUMN without COLLATE gives the column the database default collation.
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget ALTER COLUMN Name nvarchar(200) NULL;
            GO
            """);

        AssertNoFindings(replay);
        var name = Column(Table(replay, "app.Widget"), "Name");
        Assert.Equal("nvarchar(200)", TypeName(name));
        Assert.Null(name.Collation);
    }

    [Fact]
    public void Drop_column_removes_the_column()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget DROP COLUMN OwnerId, Name;
            GO
            """);

        AssertNoFindings(replay);
        Assert.Equal(["WidgetId", "Size"], Table(replay, "app.Widget").ColumnDefinitions.Select(c => c.ColumnIdentifier.Value).ToArray());
    }

    [Fact]
    public void A_name_without_a_keyword_in_a_drop_list_continues_the_previous_kind_as_in_SQL_Server()
    {
        // DROP CK_x (no keyword first: a constraint), COLUMN a, b (both columns), CONSTRAINT c, d (both constraints).
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget WITH NOCHECK ADD CONSTRAINT CK_app_Widget_OwnerId CHECK (OwnerId > 0);
            GO
            ALTER TABLE app.Widget DROP CK_app_Widget_Size, COLUMN OwnerId, Name, CONSTRAINT DF_app_Widget_Size, CK_app_Widget_OwnerId;
            GO
            """);

        AssertNoFindings(replay);
        var table = Table(replay, "app.Widget");
        Assert.Equal(["WidgetId", "Size"], table.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value).ToArray());
        Assert.Equal(["PK_app_Widget"], table.TableConstraints.Select(c => c.ConstraintIdentifier.Value).ToArray());
        Assert.Null(Column(table, "Size").DefaultConstraint);
        Assert.Single(replay.Scripts);
    }

    [Fact]
    public void Column_changes_on_a_missing_table_or_column_are_reported_with_file_and_line()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Gadget ADD Colour varchar(10) NULL;
            GO
            ALTER TABLE app.Widget ALTER COLUMN Missing int NULL;
            GO
            ALTER TABLE app.Widget DROP COLUMN Gone;
            GO
            ALTER TABLE app.Widget ADD Size int NULL;
            GO
            """);

        Assert.Equal([1, 3, 5, 7], replay.Findings.Select(f => f.Line).ToArray());
        Assert.All(replay.Findings, f => Assert.Equal(("replay", "migrations/0002_change_app_Widget.sql"), (f.Rule, f.File)));
        Assert.Contains("app.Gadget", replay.Findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("Missing", replay.Findings[1].Message, StringComparison.Ordinal);
        Assert.Contains("Gone", replay.Findings[2].Message, StringComparison.Ordinal);
        Assert.Contains("already exists", replay.Findings[3].Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- constraints

    [Fact]
    public void Add_constraint_with_nocheck_is_passed_through_at_its_own_file_and_line()
    {
        var replay = ReplayWidget("""
            SET XACT_ABORT ON;
            GO
            ALTER TABLE app.Widget WITH NOCHECK
                ADD CONSTRAINT FK_app_Widget_OwnerId_app_User FOREIGN KEY (OwnerId) REFERENCES app.[User] (UserId);
            GO
            """);

        AssertNoFindings(replay);
        Assert.Equal(2, replay.Scripts.Count);
        var passed = replay.Scripts[1];
        Assert.Equal(("migrations/0002_change_app_Widget.sql", 3), (passed.File, passed.Line));
        var alter = Assert.IsType<AlterTableAddTableElementStatement>(Statement(passed));
        Assert.Equal(ConstraintEnforcement.NoCheck, alter.ExistingRowsCheckEnforcement);
        Assert.Equal("FK_app_Widget_OwnerId_app_User", Assert.Single(alter.Definition.TableConstraints).ConstraintIdentifier.Value);
        Assert.Empty(alter.Definition.ColumnDefinitions);
    }

    [Fact]
    public void Add_column_with_a_constraint_folds_the_column_and_passes_the_constraint_through()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget WITH NOCHECK ADD Colour varchar(10) NULL, CONSTRAINT CK_app_Widget_Colour CHECK (Colour IN ('red', 'blue'));
            GO
            """);

        AssertNoFindings(replay);
        Assert.Contains("Colour", Table(replay, "app.Widget").ColumnDefinitions.Select(c => c.ColumnIdentifier.Value));
        var alter = Assert.IsType<AlterTableAddTableElementStatement>(Statement(replay.Scripts[1]));
        Assert.Empty(alter.Definition.ColumnDefinitions);
        Assert.Equal("CK_app_Widget_Colour", Assert.Single(alter.Definition.TableConstraints).ConstraintIdentifier.Value);
    }

    [Fact]
    public void Drop_constraint_removes_it_from_the_table_from_the_column_default_or_from_a_passed_through_add()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget WITH NOCHECK ADD CONSTRAINT CK_app_Widget_OwnerId CHECK (OwnerId > 0);
            GO
            ALTER TABLE app.Widget DROP CONSTRAINT CK_app_Widget_Size;
            GO
            ALTER TABLE app.Widget DROP CONSTRAINT DF_app_Widget_Size;
            GO
            ALTER TABLE app.Widget DROP CONSTRAINT CK_app_Widget_OwnerId;
            GO
            """);

        AssertNoFindings(replay);
        var script = Assert.Single(replay.Scripts);
        var table = Table(replay, "app.Widget");
        Assert.Equal(["PK_app_Widget"], table.TableConstraints.Select(c => c.ConstraintIdentifier.Value).ToArray());
        Assert.Null(Column(table, "Size").DefaultConstraint);
        Assert.DoesNotContain("CK_app_Widget", script.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Dropping_a_constraint_no_migration_adds_is_reported()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget DROP CONSTRAINT CK_app_Widget_Nothing;
            GO
            """);

        var finding = Assert.Single(replay.Findings);
        Assert.Equal(("replay", "migrations/0002_change_app_Widget.sql", 1), (finding.Rule, finding.File, finding.Line));
        Assert.Contains("CK_app_Widget_Nothing", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disabling_and_enabling_a_constraint_changes_nothing_in_the_model()
    {
        var replay = ReplayWidget("""
            ALTER TABLE app.Widget NOCHECK CONSTRAINT CK_app_Widget_Size;
            GO
            ALTER TABLE app.Widget CHECK CONSTRAINT CK_app_Widget_Size;
            GO
            """);

        AssertNoFindings(replay);
        var script = Assert.Single(replay.Scripts);
        var asWritten = CreateWidget[..CreateWidget.IndexOf("GO", StringComparison.Ordinal)].TrimEnd().TrimEnd(';');
        Assert.Equal(asWritten, script.Text.TrimEnd(';')); // not regenerated: the text as written
    }

    // ---------------------------------------------------------------- indexes and tables

    [Fact]
    public void Create_index_is_kept_as_written_and_drop_index_removes_it()
    {
        var replay = ReplayWidget("""
            CREATE NONCLUSTERED INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId);
            GO
            CREATE NONCLUSTERED INDEX IX_app_Widget_Name ON app.Widget (Name) WHERE Name IS NOT NULL;
            GO
            DROP INDEX IX_app_Widget_OwnerId ON app.Widget;
            GO
            """);

        AssertNoFindings(replay);
        Assert.Equal(2, replay.Scripts.Count);
        var index = replay.Scripts[1];
        Assert.Equal(("migrations/0002_change_app_Widget.sql", 3), (index.File, index.Line));
        Assert.Equal("CREATE NONCLUSTERED INDEX IX_app_Widget_Name ON app.Widget (Name) WHERE Name IS NOT NULL", index.Text.TrimEnd(';'));
    }

    [Fact]
    public void Drop_index_removes_an_index_declared_inline_in_create_table()
    {
        var replay = Replay(
            ("0001_create_app_Gadget.sql", """
                CREATE TABLE app.Gadget
                (
                    GadgetId int NOT NULL,
                    Size     int NULL,
                    CONSTRAINT PK_app_Gadget PRIMARY KEY CLUSTERED (GadgetId),
                    INDEX IX_app_Gadget_Size NONCLUSTERED (Size)
                );
                GO
                """),
            ("0002_drop_IX_app_Gadget_Size.sql", """
                DROP INDEX IX_app_Gadget_Size ON app.Gadget;
                GO
                """));

        AssertNoFindings(replay);
        Assert.Empty(Table(replay, "app.Gadget").Indexes);
    }

    [Fact]
    public void Create_index_with_drop_existing_replaces_the_earlier_index()
    {
        var replay = ReplayWidget("""
            CREATE NONCLUSTERED INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId);
            GO
            CREATE NONCLUSTERED INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId) INCLUDE (Size) WITH (DROP_EXISTING = ON);
            GO
            """);

        AssertNoFindings(replay);
        var index = Assert.IsType<CreateIndexStatement>(Statement(Assert.Single(replay.Scripts, s => s.Text.Contains("INDEX", StringComparison.Ordinal))));
        Assert.Equal("Size", Assert.Single(index.IncludeColumns).MultiPartIdentifier.Identifiers[0].Value);
    }

    [Fact]
    public void Dropping_an_index_no_migration_creates_is_reported()
    {
        var replay = ReplayWidget("""
            DROP INDEX IX_app_Widget_Nothing ON app.Widget;
            GO
            """);

        var finding = Assert.Single(replay.Findings);
        Assert.Equal(("replay", 1), (finding.Rule, finding.Line));
        Assert.Contains("IX_app_Widget_Nothing", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Drop_table_removes_the_table_its_indexes_and_its_passed_through_constraints()
    {
        var replay = ReplayWidget("""
            CREATE INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId);
            GO
            ALTER TABLE app.Widget WITH NOCHECK ADD CONSTRAINT CK_app_Widget_OwnerId CHECK (OwnerId > 0);
            GO
            DROP TABLE app.Widget;
            GO
            """);

        AssertNoFindings(replay);
        Assert.Empty(replay.Scripts);
    }

    [Fact]
    public void Creating_an_object_twice_is_reported_at_the_second_create()
    {
        var replay = ReplayWidget(CreateWidget);

        var finding = Assert.Single(replay.Findings);
        Assert.Equal(("replay", "migrations/0002_change_app_Widget.sql", 1), (finding.Rule, finding.File, finding.Line));
        Assert.Contains("[app].[widget]", finding.Message, StringComparison.Ordinal);
    }

    // ---------------------------------------------------------------- ignored statements and control flow

    [Fact]
    public void Dml_set_print_declare_and_transactions_are_ignored()
    {
        var replay = ReplayWidget("""
            SET XACT_ABORT ON;
            SET LOCK_TIMEOUT 1000;
            GO
            DECLARE @Count int = 0;
            BEGIN TRANSACTION;
            INSERT INTO app.Widget (WidgetId, Size) VALUES (1, 2);
            UPDATE app.Widget SET Size = 3 WHERE WidgetId = 1;
            DELETE FROM app.Widget WHERE WidgetId = 2;
            SELECT @Count = COUNT(*) FROM app.Widget;
            PRINT N'widgets: ' + CAST(@Count AS nvarchar(10));
            RAISERROR(N'progress', 10, 1) WITH NOWAIT;
            COMMIT;
            GO
            """);

        AssertNoFindings(replay);
        Assert.Single(replay.Scripts);
    }

    [Fact]
    public void If_else_that_creates_the_same_index_in_both_branches_replays_the_first_branch()
    {
        var replay = ReplayWidget("""
            IF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)
            BEGIN
                CREATE NONCLUSTERED INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId) WITH (ONLINE = ON);
            END
            ELSE
            BEGIN
                PRINT N'offline';
                CREATE NONCLUSTERED INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId);
            END
            GO
            """);

        AssertNoFindings(replay);
        var index = Assert.IsType<CreateIndexStatement>(Statement(replay.Scripts[1]));
        Assert.Equal(3, replay.Scripts[1].Line);
        Assert.Contains(index.IndexOptions, o => o is OnlineIndexOption);
    }

    [Fact]
    public void If_without_else_or_with_different_branches_around_ddl_is_reported()
    {
        var replay = ReplayWidget("""
            IF 1 = 1
                CREATE INDEX IX_app_Widget_OwnerId ON app.Widget (OwnerId);
            GO
            IF 1 = 1
                CREATE INDEX IX_app_Widget_Name ON app.Widget (Name);
            ELSE
                CREATE INDEX IX_app_Widget_Size ON app.Widget (Size);
            GO
            """);

        Assert.Equal([1, 4], replay.Findings.Select(f => f.Line).ToArray());
        Assert.All(replay.Findings, f => Assert.Equal("replay", f.Rule));
        Assert.Contains("IF without ELSE", replay.Findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("different objects", replay.Findings[1].Message, StringComparison.Ordinal);
        Assert.Single(replay.Scripts);
    }

    // ---------------------------------------------------------------- unsupported statements

    [Theory]
    [InlineData("EXEC sp_rename @objname = N'app.Widget.Name', @newname = N'Title', @objtype = 'COLUMN';", "EXECUTE")]
    [InlineData("CREATE TRIGGER app.TR_app_Widget ON app.Widget AFTER INSERT AS SET NOCOUNT ON;", "CREATE TRIGGER")]
    [InlineData("ALTER TABLE app.Widget SWITCH TO app.WidgetArchive;", "ALTER TABLE SWITCH")]
    [InlineData("CREATE OR ALTER VIEW app.WidgetView AS SELECT WidgetId FROM app.Widget;", "CREATE OR ALTER VIEW")]
    [InlineData("RAISERROR(N'stop', 16, 1);", "RAISE ERROR")]
    [InlineData("ALTER TABLE app.Widget ALTER COLUMN Size ADD SPARSE;", "ALTER COLUMN")]
    [InlineData("SELECT WidgetId, Size INTO app.WidgetCopy FROM app.Widget;", "SELECT … INTO")]
    public void An_unsupported_statement_is_reported_as_replay_with_its_file_and_line(string statement, string kind)
    {
        var replay = ReplayWidget($"/*\n  header\n*/\nSET XACT_ABORT ON;\nGO\n{statement}\nGO\n");

        var finding = Assert.Single(replay.Findings);
        Assert.Equal(("replay", "migrations/0002_change_app_Widget.sql", 6), (finding.Rule, finding.File, finding.Line));
        Assert.Contains("unsupported DDL in a migration", finding.Message, StringComparison.Ordinal);
        Assert.Contains(kind, finding.Message, StringComparison.Ordinal);
        Assert.Single(replay.Scripts);
    }

    // ---------------------------------------------------------------- the repository

    [Fact]
    public void The_repository_migrations_replay_without_a_finding_into_the_final_invitation_table()
    {
        var findings = new List<Finding>();
        var migrations = Repo.Layout.Migrations().Select(f => SqlText.Parse(f, findings)).ToList();
        Assert.Empty(findings);

        var replay = MigrationReplay.Run(migrations);

        Assert.True(replay.Findings.Count == 0, string.Join(Environment.NewLine, replay.Findings));
        var invitation = Table(replay, "app.Invitation");
        Assert.True(Nullable(Column(invitation, "ChannelId")));                     // 0033
        Assert.Equal("int", TypeName(Column(invitation, "OrganizationId")));         // 0031
        Assert.DoesNotContain(invitation.TableConstraints, c => c.ConstraintIdentifier?.Value == "CK_app_Invitation_ShareMode"); // 0039
        var passed = replay.Scripts.Select(Statement).OfType<AlterTableAddTableElementStatement>()
            .Where(a => a.SchemaObjectName.BaseIdentifier.Value == "Invitation")
            .SelectMany(a => a.Definition.TableConstraints).Select(c => c.ConstraintIdentifier.Value).ToList();
        Assert.Equal(
            ["FK_app_Invitation_OrganizationId_app_Organization", "CK_app_Invitation_ExactlyOneTarget", "CK_app_Invitation_ShareMode_ForTarget"],
            passed);
        var channelIndexes = replay.Scripts.Select(Statement).OfType<CreateIndexStatement>().Count(i => i.Name.Value == "IX_app_Invitation_ChannelId");
        Assert.Equal(1, channelIndexes);                                                // 0032 dropped, 0034 re-created
    }
}
