using System.CommandLine;
using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Testcontainers.MsSql;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge demo</c>: the main job end to end on a throw-away database — create, migrate, seed two accounts
/// of one person, dry run, merge, verify, drop. The seeding and the scratch database's CREATE/DROP are the
/// only SQL a verb holds: they are demo fixtures, not operations.
/// </summary>
internal static class DemoVerb
{
    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var keep = new Option<bool>("--keep") { Description = "Keep the scratch database afterwards (its name is printed)." };
        var command = new Command("demo",
            "Show a user merge end to end on a scratch database: on the server from --connection / DBMERGE_CONNECTION, " +
            "else on SQL Server started in Docker (Testcontainers). Creates, migrates, seeds, dry-runs, merges, verifies, drops.")
        {
            connection, json, keep,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var given = parse.GetValue(connection);
            if (string.IsNullOrWhiteSpace(given))
            {
                given = context.Environment(CommonOptions.ConnectionEnvironmentVariable);
            }

            MsSqlContainer? container = null;
            try
            {
                string server;
                if (!string.IsNullOrWhiteSpace(given))
                {
                    server = CommonOptions.ResolveConnection(context, given);
                }
                else
                {
                    context.Error.WriteLine($"No --connection or {CommonOptions.ConnectionEnvironmentVariable}: starting {SqlServerImage.Pinned} in Docker…");
                    try
                    {
                        container = new MsSqlBuilder(SqlServerImage.Pinned).Build();
                        await container.StartAsync(cancellationToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        throw new CliException(ExitCodes.ConnectionFailed,
                            "demo needs SQL Server: pass --connection \"Server=…;User ID=…;Password=…;TrustServerCertificate=true\" " +
                            $"(or set {CommonOptions.ConnectionEnvironmentVariable}) for a server where it may create a scratch database, or start Docker " +
                            $"so it can run {SqlServerImage.Pinned} ({ex.GetType().Name}).");
                    }

                    server = container.GetConnectionString();
                }

                return await RunAsync(context, server, parse.GetValue(json), parse.GetValue(keep), cancellationToken);
            }
            finally
            {
                if (container is not null)
                {
                    await container.DisposeAsync();
                }
            }
        });

        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string server, bool json, bool keep, CancellationToken cancellationToken)
    {
        var database = "DbMergeDemo_" + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..6];
        var master = new SqlConnectionStringBuilder(server) { InitialCatalog = "master" }.ConnectionString;
        var demo = new SqlConnectionStringBuilder(server) { InitialCatalog = database }.ConnectionString;

        await ExecuteAsync(master, $"CREATE DATABASE {Quote(database)};", cancellationToken);
        context.Error.WriteLine($"Created scratch database {database} on {CommonOptions.DescribeTarget(server)}.");
        try
        {
            var migration = await new Migrator(new MigratorOptions { Layout = RepositoryLayout.Discover(), Log = m => context.Error.WriteLine($"  {m}") })
                .MigrateAsync(demo, cancellationToken);
            context.Error.WriteLine($"Migrated: {migration.AppliedMigrations.Count} migration(s), {migration.DatabaseObjectsRun.Count} database object(s).");

            var (sourceId, targetId) = await SeedAsync(demo, cancellationToken);
            var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = demo });
            var source = await client.ResolveUserAsync(sourceId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
            var target = await client.ResolveUserAsync(targetId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
            context.Out.WriteLine($"Seeded two accounts of one person: {DbMergeClient.Describe(source)} and {DbMergeClient.Describe(target)}, " +
                                  "with overlapping document accesses, favorites, link traces, comments and reactions, invitations, memberships and enrollments.");

            const string reason = "dbmerge demo: two accounts of Ada Lovelace";
            var dry = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: true, cancellationToken);
            var merged = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: false, cancellationToken);
            var verification = await client.VerifyMergeAsync(merged.MergeRunId, cancellationToken);
            var sameAsDryRun = dry.Tables.SequenceEqual(merged.Tables);

            if (json)
            {
                context.WriteJson(new { Database = database, Source = source, Target = target, DryRun = dry, Merge = merged, SameAsDryRun = sameAsDryRun, Verification = verification });
            }
            else
            {
                context.Out.WriteLine();
                UsersVerbs.WriteSummary(context.Out, dry, source, target);
                context.Out.WriteLine();
                UsersVerbs.WriteSummary(context.Out, merged, source, target);
                context.Out.WriteLine(sameAsDryRun ? "The dry run reported exactly what the merge did." : "WARNING: the dry run differs from the merge.");
                context.Out.WriteLine(verification.Verified ? "verified: nothing references the source, it is inactive and merged into the target, the summary matches the journal." : "NOT verified:");
                foreach (var problem in verification.Problems)
                {
                    context.Out.WriteLine($"  - {problem}");
                }

                context.Out.WriteLine($"History: dbmerge merges show {merged.MergeRunId} --connection … (database {database}).");
            }

            return verification.Verified && sameAsDryRun ? ExitCodes.Success : ExitCodes.Findings;
        }
        finally
        {
            if (keep)
            {
                context.Error.WriteLine($"Kept scratch database {database}.");
            }
            else
            {
                SqlConnection.ClearAllPools();
                await ExecuteAsync(master,
                    $"IF DB_ID(N'{database}') IS NOT NULL BEGIN ALTER DATABASE {Quote(database)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE {Quote(database)}; END;",
                    CancellationToken.None);
                context.Error.WriteLine($"Dropped scratch database {database}.");
            }
        }
    }

    private static string Quote(string name) => "[" + name.Replace("]", "]]", StringComparison.Ordinal) + "]";

    private static async Task ExecuteAsync(string connectionString, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 300 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<(int Source, int Target)> SeedAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SeedSql, connection) { CommandTimeout = 120 };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    /// <summary>Two accounts of Ada (old: source, current: target), one of Charles, overlapping everywhere.</summary>
    internal const string SeedSql = """
        SET NOCOUNT, XACT_ABORT ON;
        DECLARE @Ids TABLE (Id int NOT NULL);
        DECLARE @T int, @S int, @C int, @D1 int, @D2 int, @D3 int, @Th int, @Cm int, @R int, @Ch int, @Org int, @Co1 int, @Co2 int, @E1 int;
        INSERT INTO app.[User] (Email, DisplayName) VALUES (N'ada@example.org', N'Ada Lovelace'); SET @T = SCOPE_IDENTITY();
        INSERT INTO app.[User] (Email, DisplayName) VALUES (N'ada.lovelace@old.example', N'Ada (old account)'); SET @S = SCOPE_IDENTITY();
        INSERT INTO app.[User] (Email, DisplayName) VALUES (N'charles@example.org', N'Charles Babbage'); SET @C = SCOPE_IDENTITY();
        INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000001', N'Notes on the engine', @S); SET @D1 = SCOPE_IDENTITY();
        INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000002', N'Difference engine', @C); SET @D2 = SCOPE_IDENTITY();
        INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000003', N'Letters', @T); SET @D3 = SCOPE_IDENTITY();
        INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) VALUES (@D1, @S, 'owner'), (@D2, @S, 'editor'), (@D2, @T, 'reader'), (@D3, @T, 'owner'), (@D3, @S, 'commenter');
        INSERT INTO app.DocumentAccess (DocumentId, Team, Role) VALUES (@D2, N'analytical-society', 'reader');
        INSERT INTO app.LinkTrace (DocumentId, UserId) VALUES (@D2, @S), (@D2, @T), (@D3, @S);
        INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@D2, @S), (@D2, @T), (@D1, @S);
        INSERT INTO app.Thread (DocumentId, CreatorUserId) VALUES (@D2, @S); SET @Th = SCOPE_IDENTITY();
        INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@Th, @S, N'The engine might compose music.'); SET @Cm = SCOPE_IDENTITY();
        INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@Th, @C, N'Indeed.');
        INSERT INTO app.Reaction (CommentId, Emoji) VALUES (@Cm, N'+1'); SET @R = SCOPE_IDENTITY();
        INSERT INTO app.ReactionUser (ReactionId, UserId) VALUES (@R, @S), (@R, @T), (@R, @C);
        INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId) VALUES (@D2, N'ada.lovelace@old.example', 'editor', @C), (@D2, N'ada@example.org', 'reader', @C), (@D3, N'charles@example.org', 'reader', @S);
        INSERT INTO app.Channel (Name) VALUES (N'engines'); SET @Ch = SCOPE_IDENTITY();
        INSERT INTO app.ChannelMember (ChannelId, UserId, Role) VALUES (@Ch, @S, 'editor'), (@Ch, @T, 'viewer');
        INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId) VALUES (@Ch, N'ada.lovelace@old.example', 'edit', @C), (@Ch, N'ada@example.org', 'view', @C);
        INSERT INTO app.Organization (Name) VALUES (N'Analytical Society'); SET @Org = SCOPE_IDENTITY();
        INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@Org, @S, 'admin'), (@Org, @T, 'viewer');
        INSERT INTO app.Collection (Name, OwnerUserId) VALUES (N'Reading list', @S);
        INSERT INTO app.Course (Name) VALUES (N'Mathematics I'); SET @Co1 = SCOPE_IDENTITY();
        INSERT INTO app.Course (Name) VALUES (N'Mathematics II'); SET @Co2 = SCOPE_IDENTITY();
        INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@Co1, @S); SET @E1 = SCOPE_IDENTITY();
        INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@Co1, @T), (@Co2, @S);
        INSERT INTO app.Submission (EnrollmentId, Content) VALUES (@E1, N'Note G'), (@E1, N'Bernoulli numbers');
        INSERT INTO app.FinalQualification (EnrollmentId, Grade) VALUES (@E1, N'A');
        SELECT @S AS SourceUserId, @T AS TargetUserId;
        """;
}
