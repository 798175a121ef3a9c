using DbMerge.Schema;
using DbMerge.Tests.Constraints;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Documents;

/// <summary>
/// The migrations of issue 10 (0050–0054) deploy without blocking a busy table: XACT_ABORT and a positive
/// LOCK_TIMEOUT in the first batch, every index built ONLINE where the edition allows (the offline branch warns), no
/// constraint validating existing rows; each has a header. A planted violation of each property is caught.
/// </summary>
public sealed class DocumentMigrationTests
{
    private const string IndexMigration = "0050_create_IX_app_DocumentAccess_DocumentId.sql";

    private static IReadOnlyList<SqlScriptFile> IssueTenMigrations() =>
        Repo.Layout.Migrations()
            .Where(m => string.CompareOrdinal(m.Name, "0050") >= 0 && string.CompareOrdinal(m.Name, "0055") < 0)
            .ToList();

    private static SqlScriptFile Migration(string name) => IssueTenMigrations().Single(m => m.Name == name);

    [Fact]
    public void The_issue_ten_migrations_are_the_access_index_and_the_move_history()
    {
        Assert.Equal(
            [IndexMigration, "0051_create_dbmerge_DocumentMove.sql"],
            IssueTenMigrations().Select(m => m.Name));
    }

    [Fact]
    public void Every_issue_ten_migration_sets_xact_abort_and_a_lock_timeout_builds_online_and_validates_no_existing_row()
    {
        var findings = IssueTenMigrations().SelectMany(MigrationSafety.Check).ToList();
        Assert.True(findings.Count == 0, string.Join(Environment.NewLine, findings));
    }

    [Fact]
    public void Every_issue_ten_migration_has_a_header_naming_why_and_the_locks_it_takes()
    {
        foreach (var migration in IssueTenMigrations())
        {
            Assert.StartsWith("/*", migration.Text, StringComparison.Ordinal);
            Assert.Contains("Why:", migration.Text, StringComparison.Ordinal);
            Assert.Contains("Locks:", migration.Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_access_index_is_unfiltered_and_leads_with_DocumentId_in_both_branches_of_the_edition_check()
    {
        var fragment = MigrationSafety.Parse(Migration(IndexMigration).Text, out var errors);
        Assert.Empty(errors);
        var collector = new IndexCollector();
        fragment.Accept(collector);

        Assert.Equal(2, collector.Found.Count); // ONLINE branch and offline branch
        Assert.All(collector.Found, index =>
        {
            Assert.Equal("IX_app_DocumentAccess_DocumentId", index.Name.Value);
            Assert.Equal("DocumentAccess", index.OnName.BaseIdentifier.Value);
            Assert.Null(index.FilterPredicate);
            Assert.Equal("DocumentId", index.Columns[0].Column.MultiPartIdentifier.Identifiers[^1].Value);
        });
    }

    [Fact]
    public void The_migration_header_lists_every_foreign_key_column_it_reviewed()
    {
        var text = Migration(IndexMigration).Text;
        foreach (var foreignKey in ForeignKeyIndexTests.AppForeignKeys())
        {
            Assert.Contains($"app.{foreignKey.Table}.", text, StringComparison.Ordinal);
            Assert.Contains(foreignKey.Columns[0], text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("SET LOCK_TIMEOUT 1000;\n", "", "LOCK_TIMEOUT")]
    [InlineData("SET LOCK_TIMEOUT 1000;", "SET LOCK_TIMEOUT -1;", "positive")]
    [InlineData("SET XACT_ABORT ON;\n", "", "XACT_ABORT")]
    [InlineData(" WITH (ONLINE = ON);", ";", "without ONLINE = ON")]
    [InlineData("IN (3, 5, 8)", "IN (3, 5)", "EngineEdition")]
    [InlineData("    PRINT N'warning: this edition has no online index operations; building IX_app_DocumentAccess_DocumentId offline (writers to app.DocumentAccess wait for the build).';\n", "", "PRINT a warning")]
    public void A_planted_blocking_variant_of_the_access_index_migration_is_reported(string original, string planted, string expected)
    {
        var text = Migration(IndexMigration).Text;
        Assert.Contains(original, text, StringComparison.Ordinal);
        var file = new SqlScriptFile("migrations/0099_planted.sql", "/dev/null", text.Replace(original, planted, StringComparison.Ordinal));

        var findings = MigrationSafety.Check(file);

        Assert.Contains(findings, f => f.Contains(expected, StringComparison.Ordinal));
    }

    private sealed class IndexCollector : TSqlFragmentVisitor
    {
        public List<CreateIndexStatement> Found { get; } = [];

        public override void Visit(CreateIndexStatement node)
        {
            Found.Add(node);
            base.Visit(node);
        }
    }
}
