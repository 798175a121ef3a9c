namespace DbMerge.Runner.Cli;

/// <summary>
/// One example per verb, shown at the end of its <c>--help</c> and equal to the first example of its README section
/// (an offline test keeps the two in step and parses each against the command tree). Add one line per new verb.
/// </summary>
public static class VerbExamples
{
    private const string Constraint = "app.CK_app_Invitation_ExactlyOneTarget";

    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["validate"] = "dbmerge validate",
        ["schema"] = "dbmerge schema --dacpac artifacts/DbMerge.dacpac",
        ["generate merge"] = "dbmerge generate merge --check",
        ["script"] = "dbmerge script --output deploy.sql",
        ["migrate"] = "dbmerge migrate --connection \"$DBMERGE_CONNECTION\" --object-lock-timeout 2000",
        ["status"] = "dbmerge status --strict",
        ["constraints list"] = "dbmerge constraints list",
        ["constraints validate"] = $"dbmerge constraints validate --constraint {Constraint} --max-seconds 600",
        ["constraints violations"] = $"dbmerge constraints violations --constraint {Constraint} --top 20",
        ["constraints trust"] = $"dbmerge constraints trust --constraint {Constraint} --lock-timeout 2000 --yes",
        ["users merge"] = "dbmerge users merge --source ada.lovelace@old.example --target ada@example.org --reason \"duplicate account\" --yes",
        ["users sweep"] = "dbmerge users sweep --max 500",
        ["merges list"] = "dbmerge merges list --user ada@example.org --top 10",
        ["merges show"] = "dbmerge merges show 42",
        ["merges undo"] = "dbmerge merges undo 42 --reason \"ticket 4711: not the same person\"",
        ["documents move"] = "dbmerge documents move --document 17 --target 4 --position last-child --actor 7",
        ["documents tree"] = "dbmerge documents tree 4",
        ["invitations create"] = "dbmerge invitations create --organization 3 --email grace@example.org --share-mode admin --sender 7",
        ["invitations accept"] = "dbmerge invitations accept --invitation 1001 --user 42",
        ["invitations decline"] = "dbmerge invitations decline --invitation 1001 --user 42",
        ["invitations revoke"] = "dbmerge invitations revoke --invitation 1001 --actor 7",
        ["collections claim-session"] = "dbmerge collections claim-session --session k3j4h5g6 --user ada@example.org",
        ["collections legacy"] = "dbmerge collections legacy --user ada@example.org",
        ["collections claim-legacy"] = "dbmerge collections claim-legacy --user ada@example.org --dry-run",
        ["collections claims"] = "dbmerge collections claims --user ada@example.org --top 50",
        ["collections undo-claim"] = "dbmerge collections undo-claim 42 --yes",
        ["reconciliations import"] = "dbmerge reconciliations import accounts.csv --errors rejected.csv",
        ["reconciliations confirm"] = "dbmerge reconciliations confirm - --json",
        ["reconciliations process"] = "dbmerge reconciliations process --max 500 --retry-errors",
        ["reconciliations list"] = "dbmerge reconciliations list --status error --top 50",
        ["reconciliations show"] = "dbmerge reconciliations show 17",
        ["reconciliations cancel"] = "dbmerge reconciliations cancel 17 --reason \"asked to stop\" --yes",
        ["outbox drain"] = "dbmerge outbox drain --type reconciliation.confirm --max 1000",
        ["outbox list"] = "dbmerge outbox list --pending --type reconciliation.confirm",
        ["settings list"] = "dbmerge settings list",
        ["settings set"] = "dbmerge settings set reconciliation.confirm_url_template \"https://accounts.example.org/reconcile?token={token}\"",
        ["demo"] = "dbmerge demo --connection \"$DBMERGE_CONNECTION\"",
        ["bench merge"] = "dbmerge bench merge --connection \"$DBMERGE_CONNECTION\"",
        ["bench move"] = "dbmerge bench move --connection \"$DBMERGE_CONNECTION\"",
    };

    /// <summary>The example of the verb at <paramref name="path"/> ("users merge"), or null.</summary>
    public static string? For(string path) => All.GetValueOrDefault(path);
}
