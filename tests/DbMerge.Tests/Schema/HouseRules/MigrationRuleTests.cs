using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Xunit;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>
/// The migration house rules DBM020–DBM026: each proven by a planted violation (rule id, line, the named object)
/// and a clean counterpart, and all of them silent on the repository's own migrations and database/ scripts.
/// </summary>
public sealed class MigrationRuleTests
{
    /// <summary>A header that satisfies DBM024; statements after it start on line 5.</summary>
    private const string Header = """
        /*
          Why:   planted by a test.
          Locks: Sch-M on the table for the catalog change only.
        */

        """;

    /// <summary>0098 creates app.Widget: the "earlier migration" of the DBM020 and DBM026 tests.</summary>
    private static readonly ParsedScript CreateWidget = Parse("migrations/0098_create_app_Widget.sql", Header + """
        CREATE TABLE app.Widget
        (
            WidgetId int NOT NULL,
            Size     int NULL,
            OwnerId  int NULL,
            CONSTRAINT PK_app_Widget PRIMARY KEY CLUSTERED (WidgetId)
        );
        GO
        """);

    private static ParsedScript Parse(string path, string text) => SqlText.Parse(new SqlScriptFile(path, "<irrelevant>", text));

    private static List<Finding> Run(IHouseRule rule, params ParsedScript[] scripts) =>
        rule.Check(new HouseRuleContext(Repo.Layout, scripts)).ToList();

    private static ParsedScript Migration(string body, string name = "0099_add_x.sql") => Parse("migrations/" + name, Header + body);

    // ---------------------------------------------------------------- the rule set and the repository

    [Fact]
    public void The_migration_rule_set_holds_DBM020_to_DBM026_once_each()
    {
        Assert.Equal(
            ["DBM020", "DBM021", "DBM022", "DBM023", "DBM024", "DBM025", "DBM026"],
            MigrationRules.All.Select(r => r.Id).Order(StringComparer.Ordinal).ToArray());
        Assert.All(MigrationRules.All, r => Assert.Contains(r, HouseRuleSet.All));
        Assert.All(MigrationRules.All, r => Assert.False(string.IsNullOrWhiteSpace(r.Description)));
    }

    [Fact]
    public void No_migration_rule_reports_anything_on_the_repository()
    {
        var scripts = Repo.Layout.AllScripts().Select(f => SqlText.Parse(f)).ToList();
        Assert.Contains(scripts, s => s.File.Name == "0036_add_FK_app_Invitation_OrganizationId_app_Organization.sql");
        Assert.All(scripts, s => Assert.NotNull(s.Fragment));

        var findings = MigrationRules.All.SelectMany(r => r.Check(new HouseRuleContext(Repo.Layout, scripts))).ToList();

        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
    }

    // ---------------------------------------------------------------- DBM020 WITH NOCHECK on existing tables

    [Fact]
    public void A_check_constraint_added_to_a_table_of_an_earlier_migration_without_NOCHECK_is_reported_at_its_line()
    {
        var migration = Migration("""
            SET XACT_ABORT ON;
            GO
            ALTER TABLE app.Widget
                ADD CONSTRAINT CK_app_Widget_Size CHECK (Size > 0);
            GO
            """);

        var finding = Assert.Single(Run(new ConstraintWithNoCheckRule(), CreateWidget, migration));

        Assert.Equal("DBM020", finding.Rule);
        Assert.Equal("migrations/0099_add_x.sql", finding.File);
        Assert.Equal(7, finding.Line);
        Assert.Contains("app.Widget", finding.Message, StringComparison.Ordinal);
        Assert.Contains("CK_app_Widget_Size", finding.Message, StringComparison.Ordinal);
        Assert.Contains("created by migrations/0098_create_app_Widget.sql", finding.Message, StringComparison.Ordinal);
        Assert.Contains("WITH NOCHECK", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_foreign_key_added_WITH_CHECK_to_an_existing_table_is_reported()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget WITH CHECK
                ADD CONSTRAINT FK_app_Widget_OwnerId_app_User FOREIGN KEY (OwnerId) REFERENCES app.[User] (UserId);
            GO
            """);

        var finding = Assert.Single(Run(new ConstraintWithNoCheckRule(), CreateWidget, migration));

        Assert.Equal(5, finding.Line);
        Assert.Contains("FOREIGN KEY constraint FK_app_Widget_OwnerId_app_User", finding.Message, StringComparison.Ordinal);
        Assert.Contains("WITH CHECK", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_constraint_on_a_column_added_to_an_existing_table_without_NOCHECK_is_reported()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget ADD Colour varchar(10) NULL CONSTRAINT CK_app_Widget_Colour CHECK (Colour IN ('red', 'blue'));
            GO
            """);

        var finding = Assert.Single(Run(new ConstraintWithNoCheckRule(), CreateWidget, migration));

        Assert.Equal(5, finding.Line);
        Assert.Contains("CK_app_Widget_Colour", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constraints_added_to_an_existing_table_WITH_NOCHECK_are_accepted()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget WITH NOCHECK
                ADD CONSTRAINT CK_app_Widget_Size CHECK (Size > 0),
                    CONSTRAINT FK_app_Widget_OwnerId_app_User FOREIGN KEY (OwnerId) REFERENCES app.[User] (UserId);
            GO
            ALTER TABLE app.Widget ADD CONSTRAINT DF_app_Widget_Size DEFAULT (1) FOR Size;
            GO
            """);

        Assert.Empty(Run(new ConstraintWithNoCheckRule(), CreateWidget, migration));
    }

    [Fact]
    public void Constraints_added_to_a_table_created_earlier_in_the_same_file_may_be_checked()
    {
        var migration = Migration("""
            CREATE TABLE app.Gadget (GadgetId int NOT NULL, WidgetId int NOT NULL, CONSTRAINT PK_app_Gadget PRIMARY KEY (GadgetId));
            GO
            ALTER TABLE app.Gadget ADD CONSTRAINT FK_app_Gadget_WidgetId_app_Widget FOREIGN KEY (WidgetId) REFERENCES app.Widget (WidgetId);
            GO
            ALTER TABLE app.Gadget WITH CHECK ADD CONSTRAINT CK_app_Gadget_WidgetId CHECK (WidgetId > 0);
            GO
            """, "0099_create_app_Gadget.sql");

        Assert.Empty(Run(new ConstraintWithNoCheckRule(), CreateWidget, migration));
    }

    // ---------------------------------------------------------------- DBM021 no constraint trust in a migration

    [Fact]
    public void With_check_check_constraint_in_a_migration_is_reported_with_the_constraint_and_its_line()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget WITH NOCHECK ADD CONSTRAINT CK_app_Widget_Size CHECK (Size > 0);
            GO
            ALTER TABLE app.Widget WITH CHECK CHECK CONSTRAINT CK_app_Widget_Size;
            GO
            """);

        var finding = Assert.Single(Run(new NoConstraintTrustInMigrationRule(), CreateWidget, migration));

        Assert.Equal("DBM021", finding.Rule);
        Assert.Equal(7, finding.Line);
        Assert.Contains("app.Widget", finding.Message, StringComparison.Ordinal);
        Assert.Contains("CK_app_Widget_Size", finding.Message, StringComparison.Ordinal);
        Assert.Contains("dbmerge constraints trust", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void With_check_check_constraint_all_in_a_migration_is_reported()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget
                WITH CHECK CHECK CONSTRAINT ALL;
            GO
            """);

        var finding = Assert.Single(Run(new NoConstraintTrustInMigrationRule(), CreateWidget, migration));

        Assert.Equal(5, finding.Line);
        Assert.Contains("CHECK CONSTRAINT ALL", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enabling_or_disabling_a_constraint_without_validation_and_dynamic_trust_in_database_are_not_reported()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget NOCHECK CONSTRAINT CK_app_Widget_Size;
            GO
            ALTER TABLE app.Widget CHECK CONSTRAINT CK_app_Widget_Size;
            GO
            ALTER TABLE app.Widget WITH NOCHECK CHECK CONSTRAINT ALL;
            GO
            """);
        var procedure = Parse("database/dbmerge/Procedures/dbmerge.Widget_Trust.sql", """
            CREATE OR ALTER PROCEDURE dbmerge.Widget_Trust
            AS
            BEGIN
                ALTER TABLE app.Widget WITH CHECK CHECK CONSTRAINT CK_app_Widget_Size;
            END
            GO
            """);

        Assert.Empty(Run(new NoConstraintTrustInMigrationRule(), CreateWidget, migration, procedure));
    }

    // ---------------------------------------------------------------- DBM022 GO alone on its line

    [Theory]
    [InlineData("GO 2", "repeats the batch")]
    [InlineData("GO;", "semicolon")]
    [InlineData("GO -- end of the first batch", "comment after GO")]
    [InlineData("go /* end */", "comment after GO")]
    [InlineData("SELECT 1 GO", "before GO")]
    [InlineData("SELECT Size AS go FROM app.Widget;", "before GO")]
    [InlineData("/* done */ GO", "before GO")]
    public void Go_that_is_not_alone_on_its_line_is_reported_at_that_line(string line, string expected)
    {
        var migration = Migration($"SELECT 0;\n{line}\nSELECT 3;\nGO\n");

        var finding = Assert.Single(Run(new GoAloneOnItsLineRule(), migration));

        Assert.Equal("DBM022", finding.Rule);
        Assert.Equal(6, finding.Line);
        Assert.Contains(expected, finding.Message, StringComparison.Ordinal);
        Assert.Contains(line.Trim(), finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_holding_only_GO_inside_a_block_comment_or_a_string_is_reported()
    {
        var procedure = Parse("database/api/Procedures/api.Widget_Get.sql", """
            CREATE OR ALTER PROCEDURE api.Widget_Get
            AS
            BEGIN
                /* an old note:
                GO
                */
                PRINT N'first line
            go
            last line';
            END
            GO
            """);

        var findings = Run(new GoAloneOnItsLineRule(), procedure);

        Assert.Equal([5, 8], findings.Select(f => f.Line).ToArray());
        Assert.All(findings, f => Assert.Equal("database/api/Procedures/api.Widget_Get.sql", f.File));
        Assert.Contains("/* */ comment", findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("string literal", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Go_alone_on_its_line_and_the_word_go_in_comments_strings_and_names_are_accepted()
    {
        var migration = Migration("""
            -- we go on: GO 2 here is prose
            SELECT N'go ahead; GO 2' AS [go 2], Size AS Cargo, 1 AS Gone FROM app.Widget AS go_on;
              go
            /* Let's go:
               GO;
            */
            SELECT 2;
            GO
            """);

        Assert.Empty(Run(new GoAloneOnItsLineRule(), migration));
    }

    // ---------------------------------------------------------------- DBM023 no script variables

    [Fact]
    public void DbUp_and_sqlcmd_variable_tokens_are_reported_in_code_and_in_strings()
    {
        var migration = Migration("""
            INSERT INTO app.Widget (WidgetId, Size) VALUES ($Size$, 1);
            GO
            PRINT N'deploying to $(Server)';
            GO
            """);

        var findings = Run(new NoScriptVariablesRule(), migration);

        Assert.Equal(2, findings.Count);
        Assert.All(findings, f => Assert.Equal("DBM023", f.Rule));
        Assert.Equal(5, findings[0].Line);
        Assert.Contains("$Size$", findings[0].Message, StringComparison.Ordinal);
        Assert.Equal(7, findings[1].Line);
        Assert.Contains("$(Server)", findings[1].Message, StringComparison.Ordinal);
        Assert.Contains("string literal", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Variable_tokens_in_a_database_script_are_reported()
    {
        var view = Parse("database/api/Views/api.Widget_List.sql", """
            CREATE OR ALTER VIEW api.Widget_List
            AS
            SELECT WidgetId FROM [$schema$].Widget;
            GO
            """);

        var finding = Assert.Single(Run(new NoScriptVariablesRule(), view));

        Assert.Equal(3, finding.Line);
        Assert.Contains("$schema$", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Variable_tokens_in_comments_and_other_dollar_signs_are_accepted()
    {
        var procedure = Parse("database/api/Procedures/api.Widget_Sync.sql", """
            /* Run with sqlcmd -v Server=$(Server); DbUp would write $name$ */
            CREATE OR ALTER PROCEDURE api.Widget_Sync
            AS
            BEGIN
                -- $(Comment) and $Comment$ are fine here
                DECLARE @Changes TABLE (Action nvarchar(10) NOT NULL);
                UPDATE app.Widget SET Size = 1 OUTPUT N'$' INTO @Changes (Action) WHERE WidgetId = 1;
                SELECT Action, $1.50 AS Price, N'US$ 5' AS Label FROM @Changes;
            END
            GO
            """);

        Assert.Empty(Run(new NoScriptVariablesRule(), procedure));
    }

    // ---------------------------------------------------------------- DBM024 name, number, header

    [Theory]
    [InlineData("0099-add-app-Widget-Size.sql")]
    [InlineData("99_add_app_Widget_Size.sql")]
    [InlineData("0099_Add_app_Widget_Size.sql")]
    [InlineData("0099_add.sql")]
    [InlineData("0099_add app Widget.sql")]
    [InlineData("0099__add_app_Widget.sql")]
    public void A_migration_whose_name_is_not_NNNN_verb_object_is_reported(string name)
    {
        var migration = Migration("SELECT 1;\nGO\n", name);

        var finding = Assert.Single(Run(new MigrationNameAndHeaderRule(), migration));

        Assert.Equal("DBM024", finding.Rule);
        Assert.Equal(1, finding.Line);
        Assert.Equal("migrations/" + name, finding.File);
        Assert.Contains(name, finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_migrations_with_the_same_number_are_reported_on_the_second()
    {
        var first = Migration("SELECT 1;\nGO\n", "0099_add_app_Widget_Colour.sql");
        var second = Migration("SELECT 1;\nGO\n", "0099_add_app_Widget_Size.sql");

        var finding = Assert.Single(Run(new MigrationNameAndHeaderRule(), second, first));

        Assert.Equal("migrations/0099_add_app_Widget_Size.sql", finding.File);
        Assert.Equal(1, finding.Line);
        Assert.Contains("0099 is already used by migrations/0099_add_app_Widget_Colour.sql", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_migration_that_does_not_open_with_a_header_comment_is_reported()
    {
        var migration = Parse("migrations/0099_add_app_Widget_Size.sql", """
            ALTER TABLE app.Widget ADD Size int NULL;
            GO
            /* Why: a header after the first statement does not count. Locks: none. */
            """);

        var finding = Assert.Single(Run(new MigrationNameAndHeaderRule(), migration));

        Assert.Equal(1, finding.Line);
        Assert.Contains("does not open with a header comment", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_that_does_not_name_the_locks_is_reported()
    {
        var migration = Parse("migrations/0099_add_app_Widget_Size.sql", """
            -- 0099_add_app_Widget_Size
            -- Why: widgets have a size.
            ALTER TABLE app.Widget ADD Size int NULL;
            GO
            """);

        var finding = Assert.Single(Run(new MigrationNameAndHeaderRule(), migration));

        Assert.Contains("which locks it takes", finding.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("why the change", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Well_named_migrations_with_a_header_are_accepted_and_database_scripts_are_not_checked()
    {
        var migration = Migration("ALTER TABLE app.Widget ADD Size int NULL;\nGO\n", "0099_add_app_Widget_Size.sql");
        var lineCommentHeader = Parse("migrations/0100_drop_IX_app_Widget_Size.sql",
            "-- Why: unused.\n-- Locks: Sch-M for the catalog change.\nDROP INDEX IX_app_Widget_Size ON app.Widget;\nGO\n");
        var procedure = Parse("database/api/Procedures/api.Widget_Get.sql", "CREATE OR ALTER PROCEDURE api.Widget_Get AS SELECT 1;\nGO\n");

        Assert.Empty(Run(new MigrationNameAndHeaderRule(), migration, lineCommentHeader, procedure));
    }

    // ---------------------------------------------------------------- DBM025 transitions only

    [Fact]
    public void A_procedure_view_and_grant_in_a_migration_are_reported_at_their_lines()
    {
        var migration = Migration("""
            CREATE PROCEDURE api.Widget_Get
            AS
            SELECT WidgetId FROM app.Widget;
            GO
            CREATE OR ALTER VIEW api.Widget_List AS SELECT WidgetId FROM app.Widget;
            GO
            GRANT EXECUTE ON SCHEMA::api TO DbMergeApp;
            GO
            """);

        var findings = Run(new MigrationsHoldTransitionsOnlyRule(), migration);

        Assert.Equal([5, 9, 11], findings.Select(f => f.Line).ToArray());
        Assert.All(findings, f => Assert.Equal("DBM025", f.Rule));
        Assert.Contains("api.Widget_Get", findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("database/<schema>/Procedures/", findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("api.Widget_List", findings[1].Message, StringComparison.Ordinal);
        Assert.Contains("database/permissions/", findings[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_function_and_a_trigger_in_a_migration_are_reported()
    {
        var migration = Migration("""
            CREATE FUNCTION dbmerge.Widget_Size (@WidgetId int) RETURNS int AS BEGIN RETURN 1; END
            GO
            CREATE TRIGGER app.TR_app_Widget ON app.Widget AFTER INSERT AS SELECT 1;
            GO
            """);

        var findings = Run(new MigrationsHoldTransitionsOnlyRule(), migration);

        Assert.Equal([5, 7], findings.Select(f => f.Line).ToArray());
        Assert.Contains("dbmerge.Widget_Size", findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("app.TR_app_Widget", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Table_and_index_ddl_in_a_database_script_is_reported_at_its_line()
    {
        var script = Parse("database/dbmerge/Procedures/dbmerge.Widget_Setup.sql", """
            CREATE OR ALTER PROCEDURE dbmerge.Widget_Setup
            AS
            BEGIN
                CREATE TABLE dbmerge.WidgetLog (WidgetLogId int NOT NULL);
                ALTER TABLE app.Widget ADD Colour varchar(10) NULL;
                CREATE INDEX IX_app_Widget_Size ON app.Widget (Size);
            END
            GO
            """);

        var findings = Run(new MigrationsHoldTransitionsOnlyRule(), script);

        Assert.Equal([4, 5, 6], findings.Select(f => f.Line).ToArray());
        Assert.Contains("dbmerge.WidgetLog", findings[0].Message, StringComparison.Ordinal);
        Assert.StartsWith("ALTER TABLE on app.Widget in database/", findings[1].Message, StringComparison.Ordinal);
        Assert.Contains("migrations/", findings[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Temporary_tables_in_procedures_and_tables_in_migrations_are_accepted()
    {
        var procedure = Parse("database/dbmerge/Procedures/dbmerge.Widget_Batch.sql", """
            CREATE OR ALTER PROCEDURE dbmerge.Widget_Batch
            AS
            BEGIN
                CREATE TABLE #Batch (WidgetId int NOT NULL PRIMARY KEY);
                CREATE INDEX IX_Batch ON #Batch (WidgetId);
                ALTER TABLE #Batch ADD Size int NULL;
                DROP TABLE #Batch;
            END
            GO
            """);
        var migration = Migration("""
            CREATE TABLE app.Gadget (GadgetId int NOT NULL);
            GO
            CREATE INDEX IX_app_Gadget_GadgetId ON app.Gadget (GadgetId);
            GO
            """, "0099_create_app_Gadget.sql");

        Assert.Empty(Run(new MigrationsHoldTransitionsOnlyRule(), procedure, migration));
    }

    // ---------------------------------------------------------------- DBM026 no backfill with a schema change

    [Fact]
    public void An_update_of_an_existing_table_next_to_a_schema_change_is_reported_at_the_update()
    {
        var migration = Migration("""
            ALTER TABLE app.Widget ADD Colour varchar(10) NULL;
            GO
            UPDATE app.Widget
            SET Colour = 'red'
            WHERE Colour IS NULL;
            GO
            """);

        var finding = Assert.Single(Run(new NoBackfillWithSchemaChangeRule(), CreateWidget, migration));

        Assert.Equal("DBM026", finding.Rule);
        Assert.Equal(7, finding.Line);
        Assert.Contains("UPDATE of the existing table app.Widget", finding.Message, StringComparison.Ordinal);
        Assert.Contains("(line 5: ALTER TABLE app.Widget ADD Colour varchar(10) NULL;)", finding.Message, StringComparison.Ordinal);
        Assert.Contains("runner verb", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_delete_through_an_alias_and_an_insert_select_from_another_table_are_reported()
    {
        var migration = Migration("""
            CREATE TABLE app.Gadget (GadgetId int NOT NULL);
            GO
            DELETE w FROM app.Widget AS w WHERE w.Size IS NULL;
            GO
            INSERT INTO app.Widget (WidgetId) SELECT GadgetId FROM app.Gadget AS g JOIN app.Document AS d ON d.DocumentId = g.GadgetId;
            GO
            """, "0099_create_app_Gadget.sql");

        var findings = Run(new NoBackfillWithSchemaChangeRule(), CreateWidget, migration);

        Assert.Equal([7, 9], findings.Select(f => f.Line).ToArray());
        Assert.Contains("DELETE of the existing table app.Widget", findings[0].Message, StringComparison.Ordinal);
        Assert.Contains("INSERT … SELECT from app.Document of the existing table app.Widget", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Seeding_a_new_table_inserting_reference_rows_and_data_only_migrations_are_accepted()
    {
        var seeded = Migration("""
            CREATE TABLE app.WidgetKind (Kind varchar(10) NOT NULL, KindRank tinyint NOT NULL);
            GO
            INSERT INTO app.WidgetKind (Kind, KindRank) VALUES ('small', 1), ('large', 2);
            UPDATE app.WidgetKind SET KindRank = 3 WHERE Kind = 'large';
            INSERT INTO app.WidgetKind (Kind, KindRank) SELECT v.Kind, v.KindRank FROM (VALUES ('huge', 4)) AS v (Kind, KindRank)
            WHERE NOT EXISTS (SELECT 1 FROM app.WidgetKind AS k WHERE k.Kind = v.Kind);
            GO
            INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, ApplyOrder, Description)
            VALUES (N'app', N'Widget', N'OwnerId', 'move', 180, N'Widgets owned by the source.');
            GO
            """, "0099_create_app_WidgetKind.sql");
        var dataOnly = Migration("""
            UPDATE app.Widget SET Size = 1 WHERE Size IS NULL;
            GO
            """, "0100_update_app_Widget_Size.sql");
        var temporary = Migration("""
            ALTER TABLE app.Widget ADD Colour varchar(10) NULL;
            GO
            DECLARE @Changed TABLE (WidgetId int NOT NULL);
            CREATE TABLE #Work (WidgetId int NOT NULL);
            INSERT INTO #Work (WidgetId) SELECT WidgetId FROM app.Widget;
            UPDATE @Changed SET WidgetId = 1;
            DELETE FROM #Work;
            GO
            """, "0101_add_app_Widget_Colour.sql");

        Assert.Empty(Run(new NoBackfillWithSchemaChangeRule(), CreateWidget, seeded, dataOnly, temporary));
    }
}
