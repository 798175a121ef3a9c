using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests.Constraints;

public sealed class NonBlockingMigrationTests
{
    private static IReadOnlyList<SqlScriptFile> IssueFiveMigrations() =>
        Repo.Layout.Migrations()
            .Where(m => string.CompareOrdinal(m.Name, "0030") >= 0 && string.CompareOrdinal(m.Name, "0040") < 0)
            .ToList();

    [Fact]
    public void The_invitation_organization_change_is_split_into_ten_short_migrations()
    {
        var names = IssueFiveMigrations().Select(m => m.Name).ToList();
        Assert.Equal(
            [
                "0030_create_dbmerge_constraint_validation_tables.sql",
                "0031_add_app_Invitation_OrganizationId.sql",
                "0032_drop_IX_app_Invitation_ChannelId.sql",
                "0033_alter_app_Invitation_ChannelId_nullable.sql",
                "0034_create_IX_app_Invitation_ChannelId.sql",
                "0035_create_IX_app_Invitation_OrganizationId.sql",
                "0036_add_FK_app_Invitation_OrganizationId_app_Organization.sql",
                "0037_add_CK_app_Invitation_ExactlyOneTarget.sql",
                "0038_add_CK_app_Invitation_ShareMode_ForTarget.sql",
                "0039_drop_CK_app_Invitation_ShareMode.sql",
            ],
            names);
    }

    [Fact]
    public void Every_migration_of_issue_five_sets_xact_abort_and_a_lock_timeout_and_validates_no_existing_row()
    {
        var findings = IssueFiveMigrations().SelectMany(MigrationSafety.Check).ToList();
        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
    }

    [Fact]
    public void Every_migration_of_issue_five_has_a_header_naming_why_and_the_locks_it_takes()
    {
        foreach (var migration in IssueFiveMigrations())
        {
            Assert.StartsWith("/*", migration.Text, StringComparison.Ordinal);
            Assert.Contains("Why:", migration.Text, StringComparison.Ordinal);
            Assert.Contains("Locks:", migration.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void No_migration_of_issue_five_contains_a_statement_that_validates_existing_rows()
    {
        // Text-level belt and braces for the AST check: comments aside, no WITH CHECK and no CHECK CONSTRAINT.
        foreach (var migration in IssueFiveMigrations())
        {
            var code = StripComments(migration.Text);
            Assert.DoesNotMatch(@"(?i)\bWITH\s+CHECK\b", code);
            Assert.DoesNotMatch(@"(?i)\bCHECK\s+CONSTRAINT\b", code);
        }
    }

    [Theory]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation ADD CONSTRAINT CK_x CHECK (ShareMode <> 'x');\nGO\n", "without WITH NOCHECK")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation WITH CHECK ADD CONSTRAINT FK_x FOREIGN KEY (OrganizationId) REFERENCES app.Organization (OrganizationId);\nGO\n", "without WITH NOCHECK")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation WITH CHECK CHECK CONSTRAINT CK_x;\nGO\n", "dbmerge constraints trust")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation CHECK CONSTRAINT CK_x;\nGO\n", "dbmerge constraints trust")]
    [InlineData("SET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation ADD X int NULL;\nGO\n", "XACT_ABORT")]
    [InlineData("SET XACT_ABORT ON;\nGO\nALTER TABLE app.Invitation ADD X int NULL;\nGO\n", "LOCK_TIMEOUT")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT -1;\nGO\nALTER TABLE app.Invitation ADD X int NULL;\nGO\n", "positive")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nALTER TABLE app.Invitation ADD X int NOT NULL CONSTRAINT DF_x DEFAULT (0);\nGO\n", "nullable without a default")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nCREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email);\nGO\n", "without ONLINE = ON")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nIF 1 = 1\nBEGIN\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email) WITH (ONLINE = ON);\nEND\nELSE\nBEGIN\n    PRINT N'warning';\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email);\nEND\nGO\n", "EngineEdition")]
    [InlineData("SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nIF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)\nBEGIN\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email) WITH (ONLINE = ON);\nEND\nELSE\nBEGIN\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email);\nEND\nGO\n", "PRINT a warning")]
    public void A_planted_blocking_or_validating_migration_is_reported(string text, string expected)
    {
        var file = new SqlScriptFile("migrations/0099_planted.sql", "/dev/null", text);
        var findings = MigrationSafety.Check(file);
        Assert.Contains(findings, f => f.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_replay_friendly_online_index_shape_passes()
    {
        var text = "SET XACT_ABORT ON;\nSET LOCK_TIMEOUT 1000;\nGO\nIF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)\nBEGIN\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email) WITH (ONLINE = ON);\nEND\nELSE\nBEGIN\n    PRINT N'warning: offline';\n    CREATE NONCLUSTERED INDEX IX_x ON app.Invitation (Email);\nEND\nGO\n";
        Assert.Empty(MigrationSafety.Check(new SqlScriptFile("migrations/0099_ok.sql", "/dev/null", text)));
    }

    private static string StripComments(string text) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(text, @"/\*.*?\*/", string.Empty, System.Text.RegularExpressions.RegexOptions.Singleline),
            @"--[^\n]*", string.Empty);
}
