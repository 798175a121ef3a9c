using System.CommandLine;
using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Scenarios;
using DbMerge.Schema;
using Testcontainers.MsSql;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge demo</c>: the main job end to end on a throw-away database — create, migrate, seed two accounts
/// of one person (scenario.DemoMerge), dry run, merge, verify, drop. The scratch database's lifecycle and the seed
/// are DbMerge.Scenarios': this verb holds no SQL.
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
        await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
        {
            ServerConnectionString = server,
            Layout = RepositoryLayout.Discover(),
            Prefix = "DbMergeDemo",
            Keep = keep,
            Log = context.Error.WriteLine,
        }, cancellationToken);

        var seed = await scratch.RunScenarioAsync(Scenario, cancellationToken);
        var sourceId = seed.Get<int>("SourceUserId");
        var targetId = seed.Get<int>("TargetUserId");
        var client = new DbMergeClient(new DbMergeClientOptions { ConnectionString = scratch.ConnectionString });
        var source = await client.ResolveUserAsync(sourceId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        var target = await client.ResolveUserAsync(targetId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        context.Error.WriteLine($"Seeded two accounts of one person: {DbMergeClient.Describe(source)} and {DbMergeClient.Describe(target)}, " +
                                "with overlapping document accesses, favorites, link traces, comments and reactions, invitations, memberships and enrollments.");

        const string reason = "dbmerge demo: two accounts of Ada Lovelace";
        var dry = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: true, cancellationToken);
        var merged = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: false, cancellationToken);
        var verification = await client.VerifyMergeAsync(merged.MergeRunId, cancellationToken);
        var sameAsDryRun = dry.Tables.SequenceEqual(merged.Tables);

        if (json)
        {
            context.WriteJson(new { Database = scratch.Name, Source = source, Target = target, DryRun = dry, Merge = merged, SameAsDryRun = sameAsDryRun, Verification = verification });
        }
        else
        {
            UsersVerbs.WriteSummary(context.Out, dry, source, target);
            context.Out.WriteLine();
            UsersVerbs.WriteSummary(context.Out, merged, source, target);
            context.Out.WriteLine(sameAsDryRun ? "The dry run reported exactly what the merge did." : "WARNING: the dry run differs from the merge.");
            context.Out.WriteLine(verification.Verified ? "verified: nothing references the source, it is inactive and merged into the target, the summary matches the journal." : "NOT verified:");
            foreach (var problem in verification.Problems)
            {
                context.Out.WriteLine($"  - {problem}");
            }

            context.Out.WriteLine(keep
                ? $"History: dbmerge merges show {merged.MergeRunId} --connection … (database {scratch.Name}, kept)."
                : $"Merge run {merged.MergeRunId} in scratch database {scratch.Name} (dropped; --keep keeps it).");
        }

        return verification.Verified && sameAsDryRun ? ExitCodes.Success : ExitCodes.Findings;
    }

    /// <summary>The seed procedure (src/DbMerge.Scenarios/Sql/scenario.DemoMerge.sql).</summary>
    internal const string Scenario = "DemoMerge";
}
