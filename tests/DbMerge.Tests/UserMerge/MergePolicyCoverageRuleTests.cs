using DbMerge.Schema;
using DbMerge.Schema.Rules;
using Xunit;

namespace DbMerge.Tests.UserMerge;

public sealed class MergePolicyCoverageRuleTests
{
    [Fact]
    public void Every_foreign_key_to_app_User_in_the_repository_has_a_merge_policy()
    {
        var context = OfflineModel.Build(Repo.Layout);

        var foreignKeys = MergePolicyCoverageRule.ForeignKeysToUser(context.Model);
        var findings = new MergePolicyCoverageRule().Check(context).ToList();

        // The 15 foreign keys of migrations 0002-0008 (DESIGN §5): a model that lost them would pass vacuously.
        Assert.Equal(15, foreignKeys.Sum(fk => fk.Columns.Count));
        Assert.Empty(findings);
    }

    [Fact]
    public void The_policy_seed_rows_are_read_from_the_migrations_insert_statements()
    {
        var context = OfflineModel.Build(Repo.Layout);

        var rows = MergePolicyCoverageRule.PolicyRows(context.Scripts);

        Assert.Contains(new MergePolicyCoverageRule.PolicyKey("app", "DocumentAccess", "UserId"), rows);
        Assert.Contains(new MergePolicyCoverageRule.PolicyKey("app", "User", "MergedIntoUserId"), rows);
        Assert.Contains(new MergePolicyCoverageRule.PolicyKey("app", "Invitation", "Email"), rows);
        Assert.Equal(17, rows.Count);
    }

    [Fact]
    public void A_planted_foreign_key_to_app_User_without_a_policy_is_reported_at_its_migration_line()
    {
        var scratch = Repo.ScratchCopy();
        const string planted = "0019_create_app_Bookmark.sql";
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, planted),
            """
            /*
              0019_create_app_Bookmark
              Why:   planted by a test: a new table referencing app.User without a merge policy.
              Locks: creates a new table.
            */
            CREATE TABLE app.Bookmark
            (
                BookmarkId int IDENTITY(1, 1) NOT NULL,
                OwnerUserId int NOT NULL,
                CONSTRAINT PK_app_Bookmark PRIMARY KEY CLUSTERED (BookmarkId),
                CONSTRAINT FK_app_Bookmark_OwnerUserId_app_User FOREIGN KEY (OwnerUserId) REFERENCES app.[User] (UserId)
            );
            GO
            """);
        var context = OfflineModel.Build(scratch);

        var findings = new MergePolicyCoverageRule().Check(context).ToList();

        var finding = Assert.Single(findings);
        Assert.Equal("DBM040", finding.Rule);
        Assert.Equal("migrations/" + planted, finding.File);
        Assert.Equal(11, finding.Line);
        Assert.Contains("app.Bookmark.OwnerUserId", finding.Message);
        Assert.Equal(FindingSeverity.Error, finding.Severity);
    }

    [Fact]
    public void A_planted_foreign_key_is_accepted_once_a_later_migration_inserts_its_policy()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "0018_create_app_Playlist.sql"),
            """
            CREATE TABLE app.Playlist
            (
                PlaylistId int IDENTITY(1, 1) NOT NULL,
                CuratorUserId int NULL,
                CONSTRAINT PK_app_Playlist PRIMARY KEY CLUSTERED (PlaylistId),
                CONSTRAINT FK_app_Playlist_CuratorUserId_app_User FOREIGN KEY (CuratorUserId) REFERENCES app.[User] (UserId)
            );
            GO
            """);
        var context = OfflineModel.Build(scratch);
        Assert.Single(new MergePolicyCoverageRule().Check(context));

        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "0019_insert_dbmerge_MergePolicy_Playlist.sql"),
            """
            INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, ApplyOrder, Description)
            VALUES (N'app', N'Playlist', N'CuratorUserId', 'move', NULL, NULL, 165, N'Playlists curated by the source.');
            GO
            """);
        context = OfflineModel.Build(scratch);

        Assert.Empty(new MergePolicyCoverageRule().Check(context));
    }

    [Fact]
    public void The_coverage_rule_is_registered_with_offline_verification()
    {
        Assert.Contains(ModelRules.All, r => r is MergePolicyCoverageRule && r.Id == "DBM040");
    }
}
