using System.CommandLine;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge invitations create|accept|decline|revoke</c>: the api.Invitation_* procedures from the console.</summary>
internal static class InvitationsVerbs
{
    public static Command Build(CliContext context)
    {
        var invitations = new Command("invitations",
            "Invitations by e-mail to a channel or an organization: create, accept, decline, revoke.");
        invitations.Subcommands.Add(BuildCreate(context));
        invitations.Subcommands.Add(BuildAccept(context));
        invitations.Subcommands.Add(BuildRespond(context, "decline", "The invited user declines a pending invitation.", "--user",
            "The declining user (must be the invited e-mail's active user).", (client, id, user, ct) => client.DeclineInvitationAsync(id, user, cancellationToken: ct)));
        invitations.Subcommands.Add(BuildRespond(context, "revoke", "Withdraw a pending invitation (its sender, an organization admin or a channel editor of its target).",
            "--actor", "The revoking user.", (client, id, user, ct) => client.RevokeInvitationAsync(id, user, cancellationToken: ct)));
        return invitations;
    }

    private static Command BuildCreate(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var channel = new Option<int?>("--channel") { Description = "Invite to this channel (exactly one of --channel / --organization)." };
        var organization = new Option<int?>("--organization") { Description = "Invite to this organization (exactly one of --channel / --organization)." };
        var email = new Option<string>("--email") { Description = "The invited e-mail address.", Required = true };
        var shareMode = new Option<string>("--share-mode")
        {
            Description = "view | edit | admin (admin for organizations only).",
            Required = true,
        };
        shareMode.AcceptOnlyFromAmong([.. InvitationShareModes.All]);
        var sender = new Option<int>("--sender") { Description = "The inviting (active) user's id.", Required = true };
        var create = new Command("create", "Invite an e-mail address to a channel or an organization (refused when one is already pending).")
        {
            connection, json, channel, organization, email, shareMode, sender,
        };
        create.Validators.Add(result =>
        {
            var hasChannel = result.GetValue(channel) is not null;
            var hasOrganization = result.GetValue(organization) is not null;
            if (hasChannel == hasOrganization)
            {
                result.AddError("Give exactly one of --channel and --organization.");
            }
            else if (hasChannel && string.Equals(result.GetValue(shareMode), InvitationShareModes.Admin, StringComparison.Ordinal))
            {
                result.AddError("--share-mode admin applies to organizations only; use view or edit for a channel.");
            }
        });
        Verb.SetAction(create, context, async (parse, ct) =>
        {
            var target = parse.GetValue(channel) is { } c ? InvitationTarget.Channel(c) : InvitationTarget.Organization(parse.GetValue(organization)!.Value);
            var client = NewClient(context, parse.GetValue(connection));
            var created = await client.CreateInvitationAsync(target, parse.GetValue(email)!, parse.GetValue(shareMode)!, parse.GetValue(sender), cancellationToken: ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(created);
            }
            else
            {
                context.Out.WriteLine($"Invitation {created.InvitationId}: {created.Email} to {created.TargetKind} {created.TargetId} ({created.ShareMode}), {created.Status}.");
            }

            return ExitCodes.Success;
        });
        return create;
    }

    private static Command BuildAccept(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var invitation = new Option<int>("--invitation") { Description = "The invitation id.", Required = true };
        var user = new Option<int>("--user") { Description = "The accepting user (the invited e-mail's active user).", Required = true };
        var accept = new Command("accept",
            "The invited user accepts: membership with the share mode's role (never downgrading a higher role). Accepting again is a no-op.")
        {
            connection, json, invitation, user,
        };
        Verb.SetAction(accept, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection));
            var accepted = await client.AcceptInvitationAsync(parse.GetValue(invitation), parse.GetValue(user), cancellationToken: ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(accepted);
            }
            else
            {
                var what = accepted.AlreadyAccepted ? "already accepted; nothing changed"
                    : accepted.MembershipCreated ? "membership created"
                    : accepted.RoleUpgraded ? "role upgraded"
                    : "existing role kept (equal or higher)";
                context.Out.WriteLine(
                    $"Invitation {accepted.InvitationId}: user {accepted.UserId} is {accepted.Role ?? "(no membership)"} of {accepted.TargetKind} {accepted.TargetId} ({what}).");
            }

            return ExitCodes.Success;
        });
        return accept;
    }

    private static Command BuildRespond(
        CliContext context,
        string name,
        string description,
        string userOptionName,
        string userDescription,
        Func<DbMergeClient, int, int, CancellationToken, Task<InvitationResponded>> call)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var invitation = new Option<int>("--invitation") { Description = "The invitation id.", Required = true };
        var user = new Option<int>(userOptionName) { Description = userDescription, Required = true };
        var command = new Command(name, description) { connection, json, invitation, user };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = NewClient(context, parse.GetValue(connection));
            var responded = await call(client, parse.GetValue(invitation), parse.GetValue(user), ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(responded);
            }
            else
            {
                context.Out.WriteLine(responded.Changed
                    ? $"Invitation {responded.InvitationId} is {responded.Status}."
                    : $"Invitation {responded.InvitationId} was already {responded.Status}; nothing changed.");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static DbMergeClient NewClient(CliContext context, string? connectionOption) =>
        CommonOptions.Client(context, CommonOptions.ResolveConnection(context, connectionOption));
}
