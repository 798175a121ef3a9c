using System.CommandLine;
using System.Globalization;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge collections claim-session|legacy|claim-legacy|claims|undo-claim</c>: the api.Collection_* procedures
/// from the console (issue 13). A user is named by id or by e-mail; an e-mail names its one active account (legacy
/// accounts share it by definition), anything else is a usage error listing the matches.
/// </summary>
internal static class CollectionsVerbs
{
    public static Command Build(CliContext context)
    {
        var collections = new Command("collections",
            "User collections: claim a session's anonymous collections, list and claim a legacy account's collections, see and undo claims.");
        collections.Subcommands.Add(BuildClaimSession(context));
        collections.Subcommands.Add(BuildLegacy(context));
        collections.Subcommands.Add(BuildClaimLegacy(context));
        collections.Subcommands.Add(BuildClaims(context));
        collections.Subcommands.Add(BuildUndoClaim(context));
        return collections;
    }

    private static Option<string> UserOption(string description, bool required = true) => new("--user")
    {
        Description = description + " A user id, or an e-mail (its one active account).",
        Required = required,
    };

    private static Command BuildClaimSession(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var session = new Option<string>("--session")
        {
            Description = "The anonymous session id whose collections the user claims (1-64 printable ASCII characters, no spaces).",
            Required = true,
        };
        var user = UserOption("The (active) user who logs in and claims them.");
        var command = new Command("claim-session",
            "At login: every collection of the anonymous session becomes the user's, in one transaction (api.Collection_ClaimSession). " +
            "A name the user already has is kept twice: the claimed one becomes 'Name (2)', 'Name (3)', ... Claiming again claims nothing (exit 0). " +
            "Example: dbmerge collections claim-session --session k3j4h5g6 --user ada@example.org")
        {
            connection, json, verbose, session, user,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var claimer = await ResolveAsync(client, "--user", parse.GetValue(user)!, ct).ConfigureAwait(false);
            var result = await client.ClaimSessionCollectionsAsync(parse.GetValue(session)!, claimer.UserId, RequestedBy("claim-session"), cancellationToken: ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    result.ClaimId, User = claimer, result.ClaimedCount, result.ClaimedByUserId, result.ClaimedByAnotherUser, result.Collections,
                });
            }
            else if (result.ClaimedCount == 0)
            {
                context.Out.WriteLine(result.ClaimedByUserId switch
                {
                    null => $"Nothing to claim: the session has no collections (user {claimer.UserId} <{claimer.Email}>).",
                    var by when by == claimer.UserId => $"Nothing to claim: user {claimer.UserId} <{claimer.Email}> already claimed this session's collections.",
                    var by => $"Nothing to claim: the session's collections were claimed by user {by}, not by user {claimer.UserId} <{claimer.Email}>.",
                });
            }
            else
            {
                context.Out.WriteLine($"Claim {result.ClaimId}: {result.ClaimedCount} collection(s) of the session now belong to user {claimer.UserId} <{claimer.Email}>" +
                                      $" ({result.RenamedCollections.Count} renamed):");
                WriteClaimed(context.Out, result.Collections);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildLegacy(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var user = UserOption("The (active) user whose legacy accounts' collections are listed.");
        var command = new Command("legacy",
            "The collections of the user's legacy accounts - other accounts with the same e-mail (case-insensitive), inactive and never merged " +
            "(api.Collection_ListLegacy). Nothing listed: nothing to migrate. " +
            "Example: dbmerge collections legacy --user ada@example.org")
        {
            connection, json, user,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            var owner = await ResolveAsync(client, "--user", parse.GetValue(user)!, ct).ConfigureAwait(false);
            var rows = await client.ListLegacyCollectionsAsync(owner.UserId, cancellationToken: ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { User = owner, Collections = rows });
            }
            else if (rows.Count == 0)
            {
                context.Out.WriteLine($"No legacy collections for user {owner.UserId} <{owner.Email}>: nothing to migrate.");
            }
            else
            {
                context.Out.WriteLine($"{rows.Count} collection(s) in {rows.Select(r => r.LegacyUserId).Distinct().Count()} legacy account(s) of user {owner.UserId} <{owner.Email}>:");
                context.Out.WriteLine($"  {"legacy account",14} {"collection",10}  name");
                foreach (var row in rows)
                {
                    context.Out.WriteLine($"  {row.LegacyUserId,14} {row.CollectionId,10}  {row.Name}");
                }

                context.Out.WriteLine($"Claim them: dbmerge collections claim-legacy --user {owner.UserId} [--from ACCOUNT] [--dry-run]");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildClaimLegacy(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var user = UserOption("The (active) user who claims the collections.");
        var from = new Option<int?>("--from")
        {
            Description = "Only this legacy account (its user id; default: every legacy account of the user's e-mail). " +
                          "An account that is not a legacy account of the user is refused (51553, 51554).",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Do the whole claim and roll it back; print what it would do." };
        var command = new Command("claim-legacy",
            "Move the collections of the user's legacy accounts to the user, in one transaction, recorded for undo-claim (api.Collection_ClaimLegacy). " +
            "A name the user already has is kept twice: the claimed one becomes 'Name (2)', ... Claiming again claims nothing (exit 0). " +
            "Example: dbmerge collections claim-legacy --user ada@example.org --from 17 --dry-run")
        {
            connection, json, verbose, user, from, dryRun,
        };
        from.Validators.Add(result =>
        {
            if (Number(result.Tokens) is <= 0)
            {
                result.AddError("--from takes a user id (a positive number).");
            }
        });
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var claimer = await ResolveAsync(client, "--user", parse.GetValue(user)!, ct).ConfigureAwait(false);
            var isDryRun = parse.GetValue(dryRun);
            var result = await client.ClaimLegacyCollectionsAsync(claimer.UserId, parse.GetValue(from), isDryRun, RequestedBy("claim-legacy"), cancellationToken: ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { result.ClaimId, result.DryRun, User = claimer, result.ClaimedCount, result.Collections });
            }
            else if (result.ClaimedCount == 0)
            {
                context.Out.WriteLine($"Nothing to claim: no collection in {(parse.GetValue(from) is { } account ? $"legacy account {account}" : "the legacy accounts")} " +
                                      $"of user {claimer.UserId} <{claimer.Email}>.");
            }
            else
            {
                context.Out.WriteLine(isDryRun
                    ? $"DRY RUN (rolled back): {result.ClaimedCount} collection(s) would move to user {claimer.UserId} <{claimer.Email}> ({result.RenamedCollections.Count} renamed):"
                    : $"Claim {result.ClaimId}: {result.ClaimedCount} collection(s) now belong to user {claimer.UserId} <{claimer.Email}> ({result.RenamedCollections.Count} renamed):");
                WriteClaimed(context.Out, result.Collections);
                if (!isDryRun)
                {
                    context.Out.WriteLine($"Undo: dbmerge collections undo-claim {result.ClaimId}");
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildClaims(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var user = UserOption("Only claims made by this user or taking collections from this account.", required: false);
        var claim = new Option<long?>("--claim") { Description = "Only this claim (its id)." };
        var top = new Option<int>("--top")
        {
            Description = "At most this many rows (claimed collections), 1..100000.",
            DefaultValueFactory = _ => 1000,
        };
        var command = new Command("claims",
            "The history of collection claims, one line per claimed collection, newest claim first: who claimed what from whom, when, " +
            "under which name, and whether it was undone (api.CollectionClaim_List). " +
            "Example: dbmerge collections claims --user ada@example.org --top 50")
        {
            connection, json, user, claim, top,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(user) is not null && result.GetValue(claim) is not null)
            {
                result.AddError("Give at most one of --user and --claim.");
            }

        });
        top.Validators.Add(result =>
        {
            if (Number(result.Tokens) is < 1 or > 100000)
            {
                result.AddError("--top must be 1..100000.");
            }
        });
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), verbose: false);
            int? userId = parse.GetValue(user) is { } named ? (await ResolveAsync(client, "--user", named, ct).ConfigureAwait(false)).UserId : null;
            var rows = await client.ListCollectionClaimsAsync(userId, parse.GetValue(claim), parse.GetValue(top), cancellationToken: ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { Claims = rows });
            }
            else if (rows.Count == 0)
            {
                context.Out.WriteLine("No collection claims.");
            }
            else
            {
                context.Out.WriteLine($"  {"claim",8} {"kind",-7} {"claimed at (UTC)",-23} {"by",-20} {"to user",8} {"from",8} {"collection",10}  name");
                foreach (var row in rows)
                {
                    var name = row.Renamed ? $"{row.NewName} (was '{row.OldName}')" : row.NewName;
                    var undone = row.UndoneAt is { } at ? $"  [undone {at.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} by {row.UndoneBy}]" : string.Empty;
                    context.Out.WriteLine(
                        $"  {row.ClaimId,8} {row.Kind,-7} {row.ClaimedAt.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture),-23} {Shorten(row.RequestedBy, 20),-20} " +
                        $"{row.UserId,8} {(row.FromUserId?.ToString(CultureInfo.InvariantCulture) ?? "session"),8} {row.CollectionId,10}  {name}{undone}");
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildUndoClaim(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var yes = CommonOptions.Yes();
        var claimId = new Argument<long>("CLAIM_ID") { Description = "The legacy claim to undo (from claim-legacy or 'dbmerge collections claims')." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check and restore, then roll back; print what it would do." };
        var command = new Command("undo-claim",
            "Operator (DbMergeOperator): give every collection of a legacy claim back to its legacy account with its old name, all or nothing " +
            "(api.Collection_UndoClaim). Refused, changing nothing, when a collection changed since the claim (51559). Without --yes: on a " +
            "terminal the dry run is shown and confirmation asked; otherwise only a dry run is done. " +
            "Example: dbmerge collections undo-claim 42 --yes")
        {
            claimId, connection, json, verbose, yes, dryRun,
        };
        claimId.Validators.Add(result =>
        {
            if (Number(result.Tokens) is <= 0)
            {
                result.AddError("CLAIM_ID must be a positive claim id.");
            }
        });
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection), parse.GetValue(verbose));
            var id = parse.GetValue(claimId);
            var mode = UsersVerbs.DecideMode(parse.GetValue(dryRun), parse.GetValue(yes), context.IsInteractive);
            if (mode == UsersVerbs.MergeMode.DryRunBecauseNotInteractive)
            {
                context.Error.WriteLine("dbmerge: not interactive and no --yes: doing a dry run only (nothing will change). Pass --yes to undo the claim.");
            }

            if (mode == UsersVerbs.MergeMode.AskAfterDryRun)
            {
                var preview = await client.UndoCollectionClaimAsync(id, dryRun: true, RequestedBy("undo-claim"), cancellationToken: ct).ConfigureAwait(false);
                WriteUndone(context.Error, preview);
                if (preview.AlreadyUndone)
                {
                    return ExitCodes.Success;
                }

                if (!context.Confirm($"Undo claim {id} as shown?"))
                {
                    context.Error.WriteLine("dbmerge: not confirmed; nothing was changed.");
                    return ExitCodes.NotConfirmed;
                }
            }

            var isDryRun = mode is UsersVerbs.MergeMode.DryRun or UsersVerbs.MergeMode.DryRunBecauseNotInteractive;
            var undone = await client.UndoCollectionClaimAsync(id, isDryRun, RequestedBy("undo-claim"), cancellationToken: ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(undone);
            }
            else
            {
                WriteUndone(context.Out, undone);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static void WriteClaimed(TextWriter writer, IEnumerable<ClaimedCollection> collections)
    {
        foreach (var c in collections)
        {
            var from = c.FromUserId is { } account ? $" (from legacy account {account})" : string.Empty;
            writer.WriteLine(c.Renamed
                ? $"  {c.CollectionId,10}  {c.Name}  (renamed: the user already had '{c.OriginalName}'){from}"
                : $"  {c.CollectionId,10}  {c.Name}{from}");
        }
    }

    private static void WriteUndone(TextWriter writer, CollectionClaimUndone undone) =>
        writer.WriteLine(undone switch
        {
            { AlreadyUndone: true } => $"Claim {undone.ClaimId} was already undone ({undone.UndoneAt?.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC by {undone.UndoneBy}); nothing changed.",
            { DryRun: true } => $"DRY RUN (rolled back): undoing claim {undone.ClaimId} would give {undone.RestoredCount} collection(s) of user {undone.UserId} back to their legacy accounts, with their old names.",
            _ => $"Claim {undone.ClaimId} undone: {undone.RestoredCount} collection(s) of user {undone.UserId} are back in their legacy accounts, with their old names.",
        });

    /// <summary>
    /// The number a validator checks, read from the tokens: null when the value does not parse, which the parser then
    /// reports itself ("Cannot parse argument …") - a validator must not convert (that throws on a non-number).
    /// </summary>
    private static long? Number(IReadOnlyList<System.CommandLine.Parsing.Token> tokens) =>
        tokens.Count == 1 && long.TryParse(tokens[0].Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : null;

    private static string Shorten(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";

    /// <summary>Who asked, for the claim history: the OS user and the verb (the login is recorded when this is null).</summary>
    private static string RequestedBy(string verb) => Shorten($"dbmerge collections {verb} ({Environment.UserName})", 128);

    internal static async Task<UserAccount> ResolveAsync(DbMergeClient client, string option, string idOrEmail, CancellationToken cancellationToken)
    {
        try
        {
            return await client.ResolveActiveUserAsync(idOrEmail, cancellationToken).ConfigureAwait(false);
        }
        catch (UserResolutionException ex)
        {
            throw new CliException(ExitCodes.Usage, $"{option}: {ex.Message}");
        }
    }

    private static DbMergeClient NewClient(CliContext context, string? connectionOption, bool verbose) =>
        new(new DbMergeClientOptions
        {
            ConnectionString = CommonOptions.ResolveConnection(context, connectionOption),
            InfoMessage = verbose ? m => context.Error.WriteLine($"[server] {m}") : null,
        });
}
