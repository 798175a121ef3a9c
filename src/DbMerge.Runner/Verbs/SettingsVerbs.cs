using System.CommandLine;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge settings list|set</c>: the values DbMerge's procedures read at run time (dbmerge.Setting).</summary>
internal static class SettingsVerbs
{
    public static Command Build(CliContext context)
    {
        var settings = new Command("settings",
            "Settings stored in the database (token expiry, confirmation link, claim timeout, outbox retry delay): list them or change one.");
        settings.Subcommands.Add(BuildList(context));
        settings.Subcommands.Add(BuildSet(context));
        return settings;
    }

    private static Command BuildList(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("list", "List every setting with its value, meaning and last change.") { connection, json };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = ReconciliationsVerbs.NewClient(context, parse.GetValue(connection), verbose: false);
            var settings = await client.ListSettingsAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { settings });
                return ExitCodes.Success;
            }

            var table = new TextTable("name", "value", "changed", "meaning");
            foreach (var s in settings)
            {
                table.Add(s.Name, s.Value, $"{ReconciliationsVerbs.Utc(s.UpdatedAt)} by {s.UpdatedBy}", s.Description);
            }

            table.WriteTo(context.Out);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildSet(CliContext context)
    {
        var name = new Argument<string>("name") { Description = "The setting: " + string.Join(", ", DbMergeSettingNames.All) + "." };
        name.AcceptOnlyFromAmong([.. DbMergeSettingNames.All]);
        var value = new Argument<string>("value") { Description = "The new value (validated per setting; see dbmerge settings list)." };
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var command = new Command("set",
            "Change one setting (operator-only, api.Setting_Set): reconciliation.token_expiry_days 1..365, reconciliation.confirm_url_template an http(s) URL with {token}, " +
            "reconciliation.claim_timeout_minutes 1..1440, outbox.retry_delay_seconds 1..86400. A value that is not allowed is refused (51542, exit 4).")
        {
            name, value, connection, json,
        };
        Verb.SetAction(command, context, async (parse, ct) =>
        {
            var client = ReconciliationsVerbs.NewClient(context, parse.GetValue(connection), verbose: false);
            var changed = await client.SetSettingAsync(parse.GetValue(name)!, parse.GetValue(value)!, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(changed);
            }
            else
            {
                context.Out.WriteLine($"{changed.Name} = {changed.Value} (was {changed.PreviousValue}).");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
