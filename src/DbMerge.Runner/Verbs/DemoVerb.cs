using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Outbox;
using DbMerge.Runner.Reconciliation;
using DbMerge.Scenarios;
using DbMerge.Schema;
using Testcontainers.MsSql;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge demo</c>: the main job end to end on a throw-away database — create, migrate, seed two accounts
/// of one person (scenario.DemoMerge), dry run, merge, verify, then Ada's login: the session claim of her anonymous
/// collections (and a repeated login claiming nothing); then the reconciliation path (scenario.DemoReconciliation):
/// import a two-row CSV, drain the confirmation events as a mailer would, confirm both sides of each request with the
/// drained tokens, process, verify, drain the done events; and finally undo Ada's merge (api.User_Unmerge), verify that
/// every row it journaled is back and show both accounts restored; drop. The scratch database's lifecycle and the seeds are
/// DbMerge.Scenarios': this verb holds no SQL.
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
            "else on SQL Server started in Docker (Testcontainers). Creates, migrates, seeds, dry-runs, merges, verifies, " +
            "claims the anonymous session's collections at login (twice: the repeat claims nothing); then imports a two-row " +
            "reconciliation CSV, drains the confirmation e-mails, confirms both sides with their tokens (never printed), processes and verifies; " +
            "finally undoes the first merge and shows both accounts restored; drops.")
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
        }, BenchMoveVerb.ScratchDatabaseStops);

        return command;
    }

    private static async Task<int> RunAsync(CliContext context, string server, bool json, bool keep, CancellationToken cancellationToken)
    {
        await using var scratch = await ScratchDatabase.CreateAsync(new ScratchDatabaseOptions
        {
            ServerConnectionString = server,
            Layout = CliRepository.Resolve(context, null),
            Prefix = "DbMergeDemo",
            Keep = keep,
            Log = context.Error.WriteLine,
            Trace = context.Verbose ? context.Error.WriteLine : null,
        }, cancellationToken);

        var seed = await scratch.RunScenarioAsync(Scenario, cancellationToken);
        var sourceId = seed.Get<int>("SourceUserId");
        var targetId = seed.Get<int>("TargetUserId");
        var client = CommonOptions.Client(context, scratch.ConnectionString);
        var source = await client.ResolveUserAsync(sourceId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        var target = await client.ResolveUserAsync(targetId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        context.Error.WriteLine($"Seeded two accounts of one person: {DbMergeClient.Describe(source)} and {DbMergeClient.Describe(target)}, " +
                                "with overlapping document accesses, favorites, link traces, comments and reactions, invitations, memberships and enrollments.");

        const string reason = "dbmerge demo: two accounts of Ada Lovelace";
        var dry = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: true, cancellationToken);
        var merged = await client.MergeUsersAsync(sourceId, targetId, reason, null, dryRun: false, cancellationToken);
        var verification = await client.VerifyMergeAsync(merged.MergeRunId, cancellationToken);
        var sameAsDryRun = dry.Tables.SequenceEqual(merged.Tables);

        // Ada logs in with her current account: the anonymous collections of her browser session become hers. Her old
        // account's "Reading list" came with the merge, so the session's "Reading list" is kept as "Reading list (2)".
        // A repeated login claims nothing.
        var sessionId = seed.Get<string>("SessionId");
        var login = await client.ClaimSessionCollectionsAsync(sessionId, targetId, "dbmerge demo: login", cancellationToken: cancellationToken);
        var repeated = await client.ClaimSessionCollectionsAsync(sessionId, targetId, "dbmerge demo: login again", cancellationToken: cancellationToken);
        var claimAsExpected = login.ClaimedCount == 2 && login.RenamedCollections.Count == 1 && repeated.ClaimedCount == 0
                              && repeated.ClaimedByUserId == targetId;

        // The reconciliation path of seeds/000, on two more people with two accounts each.
        var reconciliation = await RunReconciliationAsync(context, scratch, client, cancellationToken);

        // Undo: the merge of Ada's accounts was a mistake after all. Every row it journaled goes back to its image before
        // the merge (verified independently, row by row), and both accounts are as they were.
        context.Error.WriteLine($"Undoing merge run {merged.MergeRunId}…");
        var unmerge = await client.UnmergeAsync(merged.MergeRunId, "dbmerge demo: the merge is undone", null, dryRun: false, cancellationToken);
        var unmergeVerification = await client.VerifyUnmergeAsync(unmerge.UnmergeRunId, cancellationToken);
        var sourceAfterUndo = await client.ResolveUserAsync(sourceId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        var targetAfterUndo = await client.ResolveUserAsync(targetId.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        var accountsRestored = sourceAfterUndo == source && targetAfterUndo == target;

        if (json)
        {
            context.WriteJson(new
            {
                Database = scratch.Name, Source = source, Target = target, DryRun = dry, Merge = merged, SameAsDryRun = sameAsDryRun, Verification = verification,
                SessionClaim = login, RepeatedSessionClaim = repeated, SessionClaimAsExpected = claimAsExpected,
                Reconciliation = reconciliation,
                Unmerge = unmerge, UnmergeVerification = unmergeVerification, SourceAfterUndo = sourceAfterUndo, TargetAfterUndo = targetAfterUndo,
                AccountsRestored = accountsRestored,
            });
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

            context.Out.WriteLine();
            context.Out.WriteLine($"Login: user {target.UserId} <{target.Email}> claims the anonymous collections of her browser session (claim {login.ClaimId}):");
            foreach (var c in login.Collections)
            {
                context.Out.WriteLine(c.Renamed
                    ? $"  {c.CollectionId,6}  {c.Name}  (renamed: she already had '{c.OriginalName}', from her old account)"
                    : $"  {c.CollectionId,6}  {c.Name}");
            }

            context.Out.WriteLine(repeated.ClaimedCount == 0
                ? $"A repeated login claims nothing (the session's collections are user {repeated.ClaimedByUserId}'s)."
                : $"WARNING: a repeated login claimed {repeated.ClaimedCount} more collection(s).");
            if (!claimAsExpected)
            {
                context.Out.WriteLine("WARNING: the session claim did not claim the two seeded collections with one rename.");
            }

            context.Out.WriteLine();
            WriteReconciliation(context.Out, reconciliation);
            context.Out.WriteLine();
            MergesUndoVerb.WriteSummary(context.Out, unmerge, (await client.GetMergeRunAsync(merged.MergeRunId, cancellationToken)).Run);
            context.Out.WriteLine(unmergeVerification.Verified
                ? $"verified: all {unmergeVerification.RowsCompared} row(s) the merge journaled are back to their images before it (every stored column compared)."
                : "NOT verified:");
            foreach (var problem in unmergeVerification.Problems)
            {
                context.Out.WriteLine($"  - {problem}");
            }

            context.Out.WriteLine($"  before the merge: {DbMergeClient.Describe(source)}; {DbMergeClient.Describe(target)}");
            context.Out.WriteLine($"  after the undo:   {DbMergeClient.Describe(sourceAfterUndo)}; {DbMergeClient.Describe(targetAfterUndo)}");
            context.Out.WriteLine(accountsRestored ? "Both accounts are restored exactly as they were before the merge." : "WARNING: an account differs from before the merge.");
            context.Out.WriteLine(keep
                ? $"History: dbmerge merges show {merged.MergeRunId} (undone by {unmerge.UnmergeRunId}) --connection … and dbmerge collections claims --user {target.UserId} --connection … (database {scratch.Name}, kept)."
                : $"Merge run {merged.MergeRunId}, undone by run {unmerge.UnmergeRunId}, in scratch database {scratch.Name} (dropped; --keep keeps it).");
        }

        return verification.Verified && sameAsDryRun && claimAsExpected && reconciliation.Verified && unmergeVerification.Verified && accountsRestored
            ? ExitCodes.Success
            : ExitCodes.Findings;
    }

    /// <summary>What the reconciliation part of the demo did and whether every step checked out.</summary>
    internal sealed record DemoReconciliation(
        string File,
        int Created,
        int ConfirmationsDrained,
        int SidesConfirmed,
        int Done,
        int Failed,
        IReadOnlyList<DemoReconciledRequest> Requests,
        int DoneEventsDrained,
        bool TokensErased,
        IReadOnlyList<string> Problems)
    {
        public bool Verified => Problems.Count == 0;
    }

    internal sealed record DemoReconciledRequest(int RequestId, string InactiveEmail, string ActiveEmail, string Outcome, long? MergeRunId, int RowsChanged, bool Verified);

    /// <summary>
    /// The reconciliation path of seeds/000: import a two-row CSV (scenario.DemoReconciliation's people), drain the
    /// confirmation events into a stand-in mailer (in memory: the tokens are never printed), confirm both sides of each
    /// request with the drained tokens, process the ready requests, verify each merge, drain the done events.
    /// </summary>
    internal static async Task<DemoReconciliation> RunReconciliationAsync(CliContext context, ScratchDatabase scratch, DbMergeClient client,
        CancellationToken cancellationToken)
    {
        var seed = await scratch.RunScenarioAsync(ReconciliationScenario, cancellationToken);
        var csv = new StringBuilder("id,active_email,inactive_email\n")
            .Append(CultureInfo.InvariantCulture, $"DEMO-1,{seed.Get<string>("GraceEmail")},{seed.Get<string>("GraceOldEmail")}\n")
            .Append(CultureInfo.InvariantCulture, $"DEMO-2,{seed.Get<string>("AlanEmail")},{seed.Get<string>("AlanOldEmail")}\n")
            .ToString();
        var file = ReconciliationCsv.Parse("demo-reconciliation.csv", Encoding.UTF8.GetBytes(csv));
        var problems = new List<string>();
        const string who = "dbmerge demo";

        context.Error.WriteLine($"Reconciliation: importing {file.FileName} ({file.RowCount} rows)…");
        var import = await new ReconciliationImporter(client).ImportAsync(file, false, ReconciliationImporter.DefaultBatchSize, who, null, cancellationToken);
        var created = import.Count(ReconciliationOutcomes.Created);
        if (created != 2)
        {
            problems.Add($"the import created {created} request(s), not 2: {string.Join("; ", import.Pairs.Select(p => $"line {p.Row.LineNumber}: {p.Outcome} {p.Reason}"))}");
        }

        // The stand-in mailer: the drained lines stay in memory; only their tokens are used, to confirm.
        var mailer = new StringWriter();
        var confirmations = await new OutboxDrainer(client).DrainAsync(mailer, null, "reconciliation.confirm", OutboxDrainer.DefaultBatchSize, who, null, cancellationToken);
        var confirmed = 0;
        foreach (var line in mailer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using var e = JsonDocument.Parse(line);
            var token = e.RootElement.GetProperty("payload").GetProperty("secret").GetProperty("token").GetString()!;
            await client.ConfirmReconciliationAsync(token, cancellationToken);
            confirmed++;
        }

        if (confirmations.Written != 4 || confirmed != 4)
        {
            problems.Add($"{confirmations.Written} confirmation event(s) drained and {confirmed} side(s) confirmed, not 4 and 4");
        }

        var processed = await new ReconciliationProcessor(client).RunAsync(
            new ReconciliationProcessor.Options(null, false, false, DbMergeClient.DefaultMergeLockTimeout, who), null, cancellationToken);
        var requests = new List<DemoReconciledRequest>();
        foreach (var r in processed.Requests)
        {
            var verified = r.Result is { } result && (await client.VerifyMergeAsync(result.MergeRunId, cancellationToken)).Verified;
            requests.Add(new DemoReconciledRequest(r.RequestId, r.InactiveEmail, r.ActiveEmail,
                r.Succeeded ? ReconciliationStatuses.Done : $"error {r.ErrorNumber}: {r.ErrorMessage}", r.Result?.MergeRunId, r.Result?.RowsChanged ?? 0, verified));
            if (!verified)
            {
                problems.Add($"request {r.RequestId} was not merged and verified ({r.ErrorNumber} {r.ErrorMessage})");
            }
        }

        if (processed.Done != 2)
        {
            problems.Add($"{processed.Done} request(s) done, not 2");
        }

        var done = await new OutboxDrainer(client).DrainAsync(TextWriter.Null, null, "reconciliation.done", OutboxDrainer.DefaultBatchSize, who, null, cancellationToken);
        if (done.Written != 4)
        {
            problems.Add($"{done.Written} reconciliation.done event(s), not 4");
        }

        var tokensErased = (await client.ListOutboxAsync(false, null, null, 100, cancellationToken)).All(e => !e.HasSecret);
        if (!tokensErased)
        {
            problems.Add("a dispatched confirmation event still holds its token");
        }

        return new DemoReconciliation(file.FileName, created, confirmations.Written, confirmed, processed.Done, processed.Failed, requests, done.Written,
            tokensErased, problems);
    }

    internal static void WriteReconciliation(TextWriter output, DemoReconciliation r)
    {
        output.WriteLine($"Reconciliation: imported {r.File} (2 rows): {r.Created} request(s) created, each with a confirmation e-mail to both addresses.");
        output.WriteLine($"  {r.ConfirmationsDrained} confirmation e-mail(s) drained to the mailer; {r.SidesConfirmed} side(s) confirmed with their one-time tokens (not shown).");
        var table = new TextTable("request", "inactive → active", "outcome", "merge run", "rows changed", "verified");
        foreach (var q in r.Requests)
        {
            table.Add(q.RequestId, $"{q.InactiveEmail} → {q.ActiveEmail}", q.Outcome, q.MergeRunId, q.RowsChanged, q.Verified ? "yes" : "NO");
        }

        table.WriteTo(output);
        output.WriteLine($"  {r.DoneEventsDrained} reconciliation.done e-mail(s) drained; tokens erased from the dispatched events: {(r.TokensErased ? "yes" : "NO")}.");
        output.WriteLine(r.Verified ? "verified: every request was confirmed on both sides, merged once and verified." : "NOT verified:");
        foreach (var problem in r.Problems)
        {
            output.WriteLine($"  - {problem}");
        }
    }

    /// <summary>The seed procedure (src/DbMerge.Scenarios/Sql/scenario.DemoMerge.sql).</summary>
    internal const string Scenario = "DemoMerge";

    /// <summary>The reconciliation seed (src/DbMerge.Scenarios/Sql/scenario.DemoReconciliation.sql).</summary>
    internal const string ReconciliationScenario = "DemoReconciliation";
}
