using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge bench merge --rows N</c>: on a scratch database, synthetic source/target users whose references
/// total about N rows spread over every policy table (10% collisions with the target), timing the dry run and the
/// merge; then the same at 2N, so the ratio shows the cost grows with the rows touched. Never run by the tests.
/// The synthetic data and the scratch database's CREATE/DROP are the only SQL here: benchmark fixtures.
/// </summary>
internal static class BenchMergeVerb
{
    public static Command Build(CliContext context)
    {
        var rows = new Option<int>("--rows") { Description = "Rows referencing the source user (the second size is twice this).", DefaultValueFactory = _ => 100_000 };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("merge", "Benchmark api.User_Merge: dry run and merge at N and 2N referencing rows, rows per second, growth ratio.")
        {
            rows, connection, json,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var n = parse.GetValue(rows);
            if (n is < 100 or > 5_000_000)
            {
                throw new CliException(ExitCodes.Usage, "--rows must be 100..5000000.");
            }

            var server = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var database = "DbMergeBench_" + Guid.NewGuid().ToString("N")[..10];
            var master = new SqlConnectionStringBuilder(server) { InitialCatalog = "master" }.ConnectionString;
            var bench = new SqlConnectionStringBuilder(server) { InitialCatalog = database }.ConnectionString;
            await ExecuteAsync(master, $"CREATE DATABASE [{database}];", null, cancellationToken);
            context.Error.WriteLine($"Scratch database {database} on {CommonOptions.DescribeTarget(server)}.");
            try
            {
                await new Migrator(new MigratorOptions { Layout = RepositoryLayout.Discover() }).MigrateAsync(bench, cancellationToken);
                var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = bench, LongCommandTimeout = TimeSpan.FromHours(1) });
                var results = new List<BenchResult>();
                var run = 0;
                foreach (var size in new[] { n, 2 * n })
                {
                    run++;
                    context.Error.WriteLine($"Seeding {size:N0} rows (run {run})…");
                    var (source, target) = await SeedAsync(bench, size, run, cancellationToken);
                    var clock = Stopwatch.StartNew();
                    var dry = await client.MergeUsersAsync(source, target, "bench (dry run)", null, true, cancellationToken, TimeSpan.FromMinutes(1));
                    var dryTime = clock.Elapsed;
                    clock.Restart();
                    var merged = await client.MergeUsersAsync(source, target, "bench", null, false, cancellationToken, TimeSpan.FromMinutes(1));
                    var mergeTime = clock.Elapsed;
                    var touched = merged.RowsChanged;
                    results.Add(new BenchResult(size, touched, dryTime.TotalSeconds, mergeTime.TotalSeconds, touched / Math.Max(mergeTime.TotalSeconds, 0.001), dry.RowsChanged == touched));
                    context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {size:N0} rows: {touched:N0} changed; dry run {dryTime.TotalSeconds:F2} s, merge {mergeTime.TotalSeconds:F2} s, {touched / Math.Max(mergeTime.TotalSeconds, 0.001):N0} rows/s"));
                }

                var ratio = results[1].MergeSeconds / Math.Max(results[0].MergeSeconds, 0.001);
                if (parse.GetValue(json))
                {
                    context.WriteJson(new { Results = results, GrowthRatio = ratio });
                }
                else
                {
                    context.Out.WriteLine($"{"rows",10} {"changed",10} {"dry run s",10} {"merge s",10} {"rows/s",12}");
                    foreach (var r in results)
                    {
                        context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Rows,10} {r.RowsChanged,10} {r.DryRunSeconds,10:F2} {r.MergeSeconds,10:F2} {r.RowsPerSecond,12:F0}"));
                    }

                    context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"merge time ratio 2N/N = {ratio:F2} (about 2 means the cost grows with the rows touched; the second run's tables are already larger)."));
                }

                return ExitCodes.Success;
            }
            finally
            {
                SqlConnection.ClearAllPools();
                await ExecuteAsync(master, $"IF DB_ID(N'{database}') IS NOT NULL BEGIN ALTER DATABASE [{database}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [{database}]; END;", null, CancellationToken.None);
            }
        });

        return command;
    }

    internal sealed record BenchResult(int Rows, int RowsChanged, double DryRunSeconds, double MergeSeconds, double RowsPerSecond, bool DryRunMatched);

    private static async Task ExecuteAsync(string connectionString, string sql, Action<SqlParameterCollection>? parameters, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(sql, connection) { CommandTimeout = 3600 };
        parameters?.Invoke(command.Parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<(int Source, int Target)> SeedAsync(string connectionString, int rows, int run, CancellationToken cancellationToken)
    {
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new SqlCommand(SeedSql, connection) { CommandTimeout = 3600 };
        command.Parameters.AddWithValue("@Rows", rows);
        command.Parameters.AddWithValue("@Run", run);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt32(0), reader.GetInt32(1));
    }

    /// <summary>
    /// About @Rows rows referencing the source: documents created 20%, accesses 20%, link traces 15%, favorites 10%,
    /// comments 15% (threads 1.5%), reactions 5%, collections 5%, enrollments 4% (one submission each),
    /// organization and channel memberships 2% each, invitations sent 1%; the target collides on 10% of
    /// accesses, traces, favorites, reactions, memberships and enrollments.
    /// </summary>
    private const string SeedSql = """
        SET NOCOUNT, XACT_ABORT ON;
        DECLARE @S int, @T int, @Prefix char(1) = CHAR(ASCII('A') + @Run);
        INSERT INTO app.[User] (Email) VALUES (CONCAT(N'bench-target-', @Run, N'@example.org')); SET @T = SCOPE_IDENTITY();
        INSERT INTO app.[User] (Email) VALUES (CONCAT(N'bench-source-', @Run, N'@example.org')); SET @S = SCOPE_IDENTITY();
        CREATE TABLE #N (i int NOT NULL PRIMARY KEY);
        INSERT INTO #N (i) SELECT TOP (@Rows) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) FROM sys.all_columns AS a CROSS JOIN sys.all_columns AS b CROSS JOIN sys.all_columns AS c;
        DECLARE @Docs int = @Rows / 5;
        INSERT INTO app.Document (Path, Title, CreatorUserId) SELECT @Prefix + RIGHT(CONCAT('000000', i), 6), N'bench', @S FROM #N WHERE i <= @Docs;
        CREATE TABLE #D (i int NOT NULL PRIMARY KEY, DocumentId int NOT NULL);
        INSERT INTO #D (i, DocumentId) SELECT ROW_NUMBER() OVER (ORDER BY DocumentId), DocumentId FROM app.Document WHERE Path LIKE @Prefix + '%';
        INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT DocumentId, @S, IIF(i % 2 = 0, 'editor', 'reader') FROM #D;
        INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) SELECT DocumentId, @T, 'commenter' FROM #D WHERE i % 10 = 0;
        INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT DocumentId, @S FROM #D WHERE i <= @Rows * 15 / 100;
        INSERT INTO app.LinkTrace (DocumentId, UserId) SELECT DocumentId, @T FROM #D WHERE i <= @Rows * 15 / 100 AND i % 10 = 0;
        INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT DocumentId, @S FROM #D WHERE i <= @Rows / 10;
        INSERT INTO app.DocumentFavorite (DocumentId, UserId) SELECT DocumentId, @T FROM #D WHERE i <= @Rows / 10 AND i % 10 = 0;
        INSERT INTO app.Thread (DocumentId, CreatorUserId) SELECT DocumentId, @S FROM #D WHERE i <= IIF(@Rows * 15 / 1000 < 1, 1, @Rows * 15 / 1000);
        CREATE TABLE #Th (i int NOT NULL PRIMARY KEY, ThreadId int NOT NULL);
        INSERT INTO #Th (i, ThreadId) SELECT ROW_NUMBER() OVER (ORDER BY ThreadId), ThreadId FROM app.Thread WHERE CreatorUserId = @S;
        DECLARE @Threads int = (SELECT COUNT(*) FROM #Th);
        INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) SELECT th.ThreadId, @S, N'bench comment' FROM #N AS n JOIN #Th AS th ON th.i = 1 + n.i % @Threads WHERE n.i <= @Rows * 15 / 100;
        INSERT INTO app.Reaction (CommentId, Emoji) SELECT TOP (@Rows / 20) c.CommentId, N'+1' FROM app.Comment AS c WHERE c.AuthorUserId = @S ORDER BY c.CommentId;
        INSERT INTO app.ReactionUser (ReactionId, UserId) SELECT r.ReactionId, @S FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S;
        INSERT INTO app.ReactionUser (ReactionId, UserId) SELECT r.ReactionId, @T FROM app.Reaction AS r JOIN app.Comment AS c ON c.CommentId = r.CommentId WHERE c.AuthorUserId = @S AND r.ReactionId % 10 = 0;
        INSERT INTO app.Collection (Name, OwnerUserId) SELECT N'bench', @S FROM #N WHERE i <= @Rows / 20;
        INSERT INTO app.Course (Name) SELECT CONCAT(N'bench ', @Run, N'-', i) FROM #N WHERE i <= @Rows / 25;
        INSERT INTO app.Enrollment (CourseId, UserId) SELECT CourseId, @S FROM app.Course WHERE Name LIKE CONCAT(N'bench ', @Run, N'-%');
        INSERT INTO app.Enrollment (CourseId, UserId) SELECT CourseId, @T FROM app.Course WHERE Name LIKE CONCAT(N'bench ', @Run, N'-%') AND CourseId % 10 = 0;
        INSERT INTO app.Submission (EnrollmentId, Content) SELECT EnrollmentId, N'bench' FROM app.Enrollment WHERE UserId = @S;
        INSERT INTO app.Organization (Name) SELECT N'bench' FROM #N WHERE i <= @Rows / 50;
        INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) SELECT TOP (@Rows / 50) OrganizationId, @S, 'editor' FROM app.Organization ORDER BY OrganizationId DESC;
        INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) SELECT OrganizationId, @T, 'admin' FROM app.OrganizationMember WHERE UserId = @S AND OrganizationId % 10 = 0;
        INSERT INTO app.Channel (Name) SELECT N'bench' FROM #N WHERE i <= @Rows / 50;
        INSERT INTO app.ChannelMember (ChannelId, UserId, Role) SELECT TOP (@Rows / 50) ChannelId, @S, 'viewer' FROM app.Channel ORDER BY ChannelId DESC;
        INSERT INTO app.ChannelMember (ChannelId, UserId, Role) SELECT ChannelId, @T, 'editor' FROM app.ChannelMember WHERE UserId = @S AND ChannelId % 10 = 0;
        INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId) SELECT TOP (@Rows / 100) ChannelId, N'guest@example.org', 'view', @S FROM app.ChannelMember WHERE UserId = @S;
        SELECT @S AS SourceUserId, @T AS TargetUserId;
        """;
}
