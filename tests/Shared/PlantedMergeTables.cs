using DbMerge.Schema;

namespace DbMerge.Testing;

/// <summary>
/// One planted table per merge policy kind, each with the indexes its handler seeks on, and their dbmerge.MergePolicy
/// rows (ApplyOrder 1161..1166): the offline generator tests generate and validate the merge for them, the integration
/// tests deploy that generated merge into a database of their own and run it. Shared by both test projects (linked
/// source), so both exercise exactly the same tables.
/// </summary>
public static class PlantedMergeTables
{
    /// <summary>The planted migration's file name (the next free number of issue 9's range).</summary>
    public const string MigrationName = "0049_create_planted_policy_tables.sql";

    /// <summary>The planted migration's body (batches separated by GO).</summary>
    public const string Sql = """
        CREATE TABLE app.PlantedBookmark
        (
            PlantedBookmarkId int IDENTITY(1, 1) NOT NULL,
            OwnerUserId       int NULL,
            CONSTRAINT PK_app_PlantedBookmark PRIMARY KEY CLUSTERED (PlantedBookmarkId),
            CONSTRAINT FK_app_PlantedBookmark_OwnerUserId_app_User FOREIGN KEY (OwnerUserId) REFERENCES app.[User] (UserId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedBookmark_OwnerUserId ON app.PlantedBookmark (OwnerUserId);
        GO
        CREATE TABLE app.PlantedTeamRole
        (
            Role     varchar(20) NOT NULL,
            RoleRank tinyint     NOT NULL,
            CONSTRAINT PK_app_PlantedTeamRole PRIMARY KEY CLUSTERED (Role),
            CONSTRAINT UQ_app_PlantedTeamRole_RoleRank UNIQUE (RoleRank)
        );
        GO
        INSERT INTO app.PlantedTeamRole (Role, RoleRank) VALUES ('member', 1), ('lead', 2);
        GO
        CREATE TABLE app.PlantedTeamMember
        (
            PlantedTeamMemberId int IDENTITY(1, 1) NOT NULL,
            TeamId              int NOT NULL,
            UserId              int NOT NULL,
            Role                varchar(20) NOT NULL,
            UpdatedAt           datetime2(3) NOT NULL CONSTRAINT DF_app_PlantedTeamMember_UpdatedAt DEFAULT (SYSUTCDATETIME()),
            CONSTRAINT PK_app_PlantedTeamMember PRIMARY KEY CLUSTERED (PlantedTeamMemberId),
            CONSTRAINT FK_app_PlantedTeamMember_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
            CONSTRAINT FK_app_PlantedTeamMember_Role_app_PlantedTeamRole FOREIGN KEY (Role) REFERENCES app.PlantedTeamRole (Role),
            CONSTRAINT UQ_app_PlantedTeamMember_TeamId_UserId UNIQUE (TeamId, UserId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedTeamMember_UserId ON app.PlantedTeamMember (UserId) INCLUDE (TeamId, Role);
        GO
        CREATE TABLE app.PlantedStar
        (
            PlantedStarId int IDENTITY(1, 1) NOT NULL,
            ItemId        int NOT NULL,
            UserId        int NOT NULL,
            CONSTRAINT PK_app_PlantedStar PRIMARY KEY CLUSTERED (PlantedStarId),
            CONSTRAINT FK_app_PlantedStar_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
            CONSTRAINT UQ_app_PlantedStar_ItemId_UserId UNIQUE (ItemId, UserId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedStar_UserId ON app.PlantedStar (UserId) INCLUDE (ItemId);
        GO
        CREATE TABLE app.PlantedClubMember
        (
            PlantedClubMemberId int IDENTITY(1, 1) NOT NULL,
            ClubId              int NOT NULL,
            UserId              int NOT NULL,
            CONSTRAINT PK_app_PlantedClubMember PRIMARY KEY CLUSTERED (PlantedClubMemberId),
            CONSTRAINT FK_app_PlantedClubMember_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
            CONSTRAINT UQ_app_PlantedClubMember_ClubId_UserId UNIQUE (ClubId, UserId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedClubMember_UserId ON app.PlantedClubMember (UserId) INCLUDE (ClubId);
        GO
        CREATE TABLE app.PlantedClubNote
        (
            PlantedClubNoteId   int IDENTITY(1, 1) NOT NULL,
            PlantedClubMemberId int NOT NULL,
            Body                nvarchar(max) NOT NULL,
            CONSTRAINT PK_app_PlantedClubNote PRIMARY KEY CLUSTERED (PlantedClubNoteId),
            CONSTRAINT FK_app_PlantedClubNote_PlantedClubMemberId FOREIGN KEY (PlantedClubMemberId) REFERENCES app.PlantedClubMember (PlantedClubMemberId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedClubNote_PlantedClubMemberId ON app.PlantedClubNote (PlantedClubMemberId);
        GO
        CREATE TABLE app.PlantedClubCard
        (
            PlantedClubCardId   int IDENTITY(1, 1) NOT NULL,
            PlantedClubMemberId int NOT NULL,
            CardNumber          varchar(20) NOT NULL,
            CONSTRAINT PK_app_PlantedClubCard PRIMARY KEY CLUSTERED (PlantedClubCardId),
            CONSTRAINT FK_app_PlantedClubCard_PlantedClubMemberId FOREIGN KEY (PlantedClubMemberId) REFERENCES app.PlantedClubMember (PlantedClubMemberId),
            CONSTRAINT UQ_app_PlantedClubCard_PlantedClubMemberId UNIQUE (PlantedClubMemberId)
        );
        GO
        CREATE TABLE app.PlantedVoucherTier
        (
            Tier     varchar(10) NOT NULL,
            TierRank tinyint     NOT NULL,
            CONSTRAINT PK_app_PlantedVoucherTier PRIMARY KEY CLUSTERED (Tier),
            CONSTRAINT UQ_app_PlantedVoucherTier_TierRank UNIQUE (TierRank)
        );
        GO
        INSERT INTO app.PlantedVoucherTier (Tier, TierRank) VALUES ('bronze', 1), ('gold', 2);
        GO
        CREATE TABLE app.PlantedVoucher
        (
            PlantedVoucherId int IDENTITY(1, 1) NOT NULL,
            Email            nvarchar(254) COLLATE Latin1_General_100_CI_AS NOT NULL,
            Status           varchar(10) NOT NULL,
            Tier             varchar(10) NOT NULL,
            CampaignId       int NULL,
            CONSTRAINT PK_app_PlantedVoucher PRIMARY KEY CLUSTERED (PlantedVoucherId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedVoucher_Email_Status_CampaignId ON app.PlantedVoucher (Email, Status, CampaignId);
        GO
        CREATE TABLE app.PlantedLegalHold
        (
            PlantedLegalHoldId int IDENTITY(1, 1) NOT NULL,
            UserId             int NOT NULL,
            CONSTRAINT PK_app_PlantedLegalHold PRIMARY KEY CLUSTERED (PlantedLegalHoldId),
            CONSTRAINT FK_app_PlantedLegalHold_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId)
        );
        GO
        CREATE NONCLUSTERED INDEX IX_app_PlantedLegalHold_UserId ON app.PlantedLegalHold (UserId);
        GO
        INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, ApplyOrder, Description, RowFilter)
        VALUES (N'app', N'PlantedBookmark', N'OwnerUserId', 'move', NULL, NULL, 1161, N'planted: move', NULL),
               (N'app', N'PlantedTeamMember', N'UserId', 'keep-higher-role', N'TeamId', N'app.PlantedTeamRole', 1162, N'planted: keep-higher-role', NULL),
               (N'app', N'PlantedStar', N'UserId', 'dedupe', N'ItemId', NULL, 1163, N'planted: dedupe', NULL),
               (N'app', N'PlantedClubMember', N'UserId', 'merge-children', N'ClubId', NULL, 1164, N'planted: merge-children', NULL),
               (N'app', N'PlantedVoucher', N'Email', 'readdress', N'CampaignId', N'app.PlantedVoucherTier', 1165, N'planted: readdress', N'Status = ''active'''),
               (N'app', N'PlantedLegalHold', N'UserId', 'refuse', NULL, NULL, 1166, N'planted: refuse', NULL);
        GO
        """;

    /// <summary>
    /// Appended to <see cref="Sql"/> by the tests of a merge-children child that is unique per parent AND another column
    /// (at most one badge of each kind per club membership): its collision checks seek the source's child on the parent
    /// key only (review 9: naming the kind for both children's seeks was error 8622 at run time).
    /// </summary>
    public const string ChildUniquePerKindSql = """
        CREATE TABLE app.PlantedClubBadge
        (
            PlantedClubBadgeId  int IDENTITY(1, 1) NOT NULL,
            PlantedClubMemberId int NOT NULL,
            Kind                varchar(20) NOT NULL,
            CONSTRAINT PK_app_PlantedClubBadge PRIMARY KEY CLUSTERED (PlantedClubBadgeId),
            CONSTRAINT FK_app_PlantedClubBadge_PlantedClubMemberId FOREIGN KEY (PlantedClubMemberId) REFERENCES app.PlantedClubMember (PlantedClubMemberId),
            CONSTRAINT UQ_app_PlantedClubBadge_PlantedClubMemberId_Kind UNIQUE (PlantedClubMemberId, Kind)
        );
        GO
        """;

    /// <summary>
    /// Copies migrations/, database/, the scenario procedures, README.md and DbMerge.sln of <paramref name="layout"/> to
    /// a scratch folder (deleted when the test ends) and returns its layout: plant in the copy, never in the repository.
    /// </summary>
    public static RepositoryLayout CopyRepository(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var target = ScratchDirectory.Create("dbmerge-scratch-");
        foreach (var folder in new[] { "migrations", "database", ScenarioScripts.Folder })
        {
            var source = Path.Combine(layout.Root, folder);
            foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
            {
                var destination = Path.Combine(target, folder, Path.GetRelativePath(source, file));
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                File.Copy(file, destination);
            }
        }

        foreach (var file in new[] { "README.md", "DbMerge.sln" })
        {
            var source = Path.Combine(layout.Root, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(target, file));
            }
        }

        return new RepositoryLayout(target);
    }

    /// <summary>Writes a migration named <paramref name="name"/> with <paramref name="body"/> (and a header) into the copy.</summary>
    public static void Plant(RepositoryLayout scratch, string name, string body)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        var text = $"""
            /*
              {Path.GetFileNameWithoutExtension(name)}
              Why:   planted by a test of the merge generator.
              Locks: creates new tables.
            */
            {body}
            """;
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, name), text.ReplaceLineEndings("\n"));
    }
}
