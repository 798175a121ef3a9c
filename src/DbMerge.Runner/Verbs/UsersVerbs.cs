using System.CommandLine;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge users …</c>: user account operations (merge).</summary>
internal static class UsersVerbs
{
    public static Command Build(CliContext context)
    {
        var users = new Command("users", "User accounts: merge a duplicate account into the surviving one; sweep late references of merged-away accounts.");
        users.Subcommands.Add(BuildMerge(context));
        users.Subcommands.Add(UsersSweepVerb.Build(context));
        return users;
    }

    private static Command BuildMerge(CliContext context)
    {
        var source = new Option<string>("--source")
        {
            Description = "The account to fold away: a user id or an e-mail (an e-mail matching several accounts is an error that lists them).",
            Required = true,
        };
        var target = new Option<string>("--target")
        {
            Description = "The surviving (active) account: a user id or an e-mail.",
            Required = true,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Do the whole merge and roll it back; print what it would do." };
        var reason = new Option<string?>("--reason") { Description = "Why the accounts are merged (kept in the merge history; at most 400 characters)." };
        var lockTimeout = LockTimeoutOption();
        var batchSize = BatchSizeOption();
        var maxDuration = MaxDurationOption();
        var connection = CommonOptions.Connection();
        var yes = CommonOptions.Yes();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();

        var command = new Command("merge",
            "Merge the source account into the target in one transaction (api.User_Merge): every reference follows its policy " +
            "in dbmerge.MergePolicy, the source ends inactive and merged into the target. Without --yes: on a terminal the dry " +
            "run is shown and confirmation asked; otherwise only a dry run is done. A committed merge is verified afterwards.")
        {
            source, target, dryRun, reason, lockTimeout, batchSize, maxDuration, connection, yes, json, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var isVerbose = parse.GetValue(verbose);
            var asJson = parse.GetValue(json);
            var client = new DbMergeClient(new DbMergeClientOptions
            {
                ConnectionString = connectionString,
                InfoMessage = isVerbose ? m => context.Error.WriteLine($"[server] {m}") : null,
            });

            var sourceUser = await Resolve(client, "--source", parse.GetValue(source)!, cancellationToken);
            var targetUser = await Resolve(client, "--target", parse.GetValue(target)!, cancellationToken);
            var reasonText = string.IsNullOrWhiteSpace(parse.GetValue(reason))
                ? $"dbmerge users merge --source {sourceUser.UserId} --target {targetUser.UserId}"
                : parse.GetValue(reason)!.Trim();
            var timeout = TimeSpan.FromMilliseconds(parse.GetValue(lockTimeout));
            var rows = parse.GetValue(batchSize);
            var budget = TimeSpan.FromMilliseconds(parse.GetValue(maxDuration));

            var mode = DecideMode(parse.GetValue(dryRun), parse.GetValue(yes), context.IsInteractive);
            if (mode == MergeMode.DryRunBecauseNotInteractive)
            {
                context.Error.WriteLine("dbmerge: not interactive and no --yes: doing a dry run only (nothing will change). Pass --yes to merge.");
            }

            context.Error.WriteLine($"Merging {DbMergeClient.Describe(sourceUser)} into {DbMergeClient.Describe(targetUser)} on {CommonOptions.DescribeTarget(connectionString)}.");

            if (mode == MergeMode.AskAfterDryRun)
            {
                var preview = await client.MergeUsersAsync(sourceUser.UserId, targetUser.UserId, reasonText, null, true, cancellationToken, timeout, rows, budget);
                WriteSummary(context.Error, preview, sourceUser, targetUser);
                if (!context.Confirm($"Merge user {sourceUser.UserId} into user {targetUser.UserId} as shown?"))
                {
                    context.Error.WriteLine("dbmerge: not confirmed; nothing was changed.");
                    return ExitCodes.NotConfirmed;
                }
            }

            var isDryRun = mode is MergeMode.DryRun or MergeMode.DryRunBecauseNotInteractive;
            var result = await client.MergeUsersAsync(sourceUser.UserId, targetUser.UserId, reasonText, null, isDryRun, cancellationToken, timeout, rows, budget);
            MergeVerification? verification = isDryRun ? null : await client.VerifyMergeAsync(result.MergeRunId, cancellationToken);

            if (asJson)
            {
                context.WriteJson(new
                {
                    result.MergeRunId,
                    result.DryRun,
                    Source = sourceUser,
                    Target = targetUser,
                    result.Tables,
                    result.RowsChanged,
                    Verified = verification?.Verified,
                    Problems = verification?.Problems,
                });
            }
            else
            {
                WriteSummary(context.Out, result, sourceUser, targetUser);
                if (verification is not null)
                {
                    context.Out.WriteLine(verification.Verified
                        ? "verified: no reference to the source is left, the source is inactive and merged into the target, the summary matches the journal."
                        : "NOT verified:");
                    foreach (var problem in verification.Problems)
                    {
                        context.Out.WriteLine($"  - {problem}");
                    }
                }
            }

            return verification is { Verified: false } ? ExitCodes.Findings : ExitCodes.Success;
        }, "A merge runs in one transaction: a merge that was running is rolled back (its run is recorded as failed) or had " +
           "already committed; 'dbmerge merges list --user …' shows which.");

        return command;
    }

    /// <summary><c>--lock-timeout-ms</c>: the longest wait of any one lock request (51108 beyond).</summary>
    internal static Option<int> LockTimeoutOption() => new("--lock-timeout-ms")
    {
        Description = "The longest wait of any one lock (another merge holding a user, an application transaction holding a row), in " +
                      "milliseconds, 1..600000; beyond it the run stops with error 51108 and changes nothing.",
        DefaultValueFactory = _ => (int)DbMergeClient.DefaultMergeLockTimeout.TotalMilliseconds,
    };

    /// <summary><c>--batch-size</c>: rows of one table per statement.</summary>
    internal static Option<int> BatchSizeOption() => new("--batch-size")
    {
        Description = "Rows of one table per statement, 1..1000 (every statement stays far below SQL Server's 5,000-lock escalation threshold).",
        DefaultValueFactory = _ => DbMergeClient.DefaultMergeBatchSize,
    };

    /// <summary><c>--max-duration-ms</c>: the run's time budget.</summary>
    internal static Option<int> MaxDurationOption() => new("--max-duration-ms")
    {
        Description = "The run's time budget in milliseconds, 1000..86400000; past it the run stops with error 51115 and changes nothing.",
        DefaultValueFactory = _ => (int)DbMergeClient.DefaultMergeMaxDuration.TotalMilliseconds,
    };

    internal enum MergeMode
    {
        Merge,
        DryRun,
        DryRunBecauseNotInteractive,
        AskAfterDryRun,
    }

    /// <summary>--dry-run wins; --yes merges; otherwise a terminal asks after a dry run and anything else only dry-runs.</summary>
    internal static MergeMode DecideMode(bool dryRun, bool yes, bool interactive) =>
        dryRun ? MergeMode.DryRun
        : yes ? MergeMode.Merge
        : interactive ? MergeMode.AskAfterDryRun
        : MergeMode.DryRunBecauseNotInteractive;

    internal static async Task<UserAccount> Resolve(DbMergeClient client, string option, string idOrEmail, CancellationToken cancellationToken)
    {
        try
        {
            return await client.ResolveUserAsync(idOrEmail, cancellationToken);
        }
        catch (UserResolutionException ex)
        {
            throw new CliException(ExitCodes.Usage, $"{option}: {ex.Message}");
        }
    }

    internal static void WriteSummary(TextWriter writer, UserMergeResult result, UserAccount source, UserAccount target)
    {
        writer.WriteLine($"Merge run {result.MergeRunId}{(result.DryRun ? " (DRY RUN, rolled back)" : string.Empty)}: " +
                         $"user {source.UserId} <{source.Email}> into user {target.UserId} <{target.Email}>");
        MergeTables.Write(writer, result.Tables);
        writer.WriteLine($"rows {(result.DryRun ? "that would change" : "changed")}: {result.RowsChanged}");
    }
}

/// <summary>Text table of a merge summary, shared by <c>users merge</c>, <c>merges show</c> and <c>demo</c>.</summary>
internal static class MergeTables
{
    public static void Write(TextWriter writer, IEnumerable<MergeTableSummary> tables)
    {
        writer.WriteLine($"  {"table",-26} {"column",-17} {"policy",-17} {"moved",8} {"merged",8} {"deleted",8} {"conflicts",9}");
        foreach (var t in tables)
        {
            writer.WriteLine($"  {t.SchemaName + "." + t.TableName,-26} {t.ColumnName,-17} {t.Policy,-17} {t.Moved,8} {t.Merged,8} {t.Deleted,8} {t.Conflicts,9}");
        }
    }
}
