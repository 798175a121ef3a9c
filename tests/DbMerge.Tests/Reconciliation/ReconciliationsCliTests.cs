using DbMerge.Runner.Cli;
using DbMerge.Tests.Runner;
using Xunit;

namespace DbMerge.Tests.Reconciliation;

/// <summary>
/// The reconciliations, outbox and settings verbs up to the point where they would connect: usage errors (exit 2),
/// file errors before any connection, no connection (exit 3), confirmation refused (exit 6), help, and no token echoed.
/// </summary>
public sealed class ReconciliationsCliTests
{
    private const string Token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    /// <summary>A connection string that parses; nothing here ever opens it.</summary>
    private static readonly Dictionary<string, string> UnusedServer = new()
    {
        ["DBMERGE_CONNECTION"] = "Server=tcp:127.0.0.1,1;Database=nowhere;User ID=x;Password=y;Connect Timeout=1",
    };

    private static string WriteCsv(string text)
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-csv-"), "accounts.csv");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Import_of_a_missing_file_is_a_usage_error()
    {
        var result = await CliHarness.RunAsync(["reconciliations", "import", "/nonexistent/accounts.csv"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("no such file", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_of_a_file_whose_header_misses_a_column_is_a_usage_error_before_any_connection()
    {
        var path = WriteCsv("id,active_email\nA-1,ada@example.org\n");

        var result = await CliHarness.RunAsync(["reconciliations", "import", path]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("lacks the column(s) inactive_email", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("DBMERGE_CONNECTION", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_of_a_readable_file_without_a_connection_exits_with_the_connection_code()
    {
        var path = WriteCsv("id,active_email,inactive_email\nA-1,ada@example.org,ada.lovelace@old.example\n");

        var result = await CliHarness.RunAsync(["reconciliations", "import", path, "--dry-run"]);

        Assert.Equal(ExitCodes.ConnectionFailed, result.ExitCode);
        Assert.Contains("DBMERGE_CONNECTION", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("501")]
    public async Task Import_batch_size_outside_1_to_500_is_a_usage_error(string size)
    {
        var path = WriteCsv("id,active_email,inactive_email\n");

        var result = await CliHarness.RunAsync(["reconciliations", "import", path, "--batch-size", size]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--batch-size must be between 1 and 500", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reconciliations", "process", "--max", "0")]
    [InlineData("reconciliations", "process", "--lock-timeout-ms", "-1")]
    [InlineData("reconciliations", "list", "--status", "finished")]
    [InlineData("reconciliations", "list", "--top", "1001")]
    [InlineData("reconciliations", "show", "seventeen")]
    [InlineData("reconciliations", "cancel")]
    [InlineData("outbox", "drain", "--batch-size", "1001")]
    [InlineData("outbox", "drain", "--max", "0")]
    [InlineData("outbox", "list", "--type", "reconciliation.confirm")]
    [InlineData("settings", "set", "reconciliation.token_expiry", "14")]
    public async Task Malformed_command_lines_are_usage_errors(params string[] args)
    {
        var result = await CliHarness.RunAsync(args, UnusedServer);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
    }

    [Theory]
    [InlineData("reconciliations", "process")]
    [InlineData("reconciliations", "list")]
    [InlineData("reconciliations", "show", "17")]
    [InlineData("reconciliations", "confirm", Token)]
    [InlineData("outbox", "drain")]
    [InlineData("outbox", "list", "--pending")]
    [InlineData("settings", "list")]
    [InlineData("settings", "set", "reconciliation.token_expiry_days", "7")]
    public async Task Verbs_that_need_the_database_exit_with_the_connection_code_without_one(params string[] args)
    {
        var result = await CliHarness.RunAsync(args);

        Assert.Equal(ExitCodes.ConnectionFailed, result.ExitCode);
        Assert.DoesNotContain(Token, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_without_a_terminal_and_without_yes_is_not_confirmed_and_connects_to_nothing()
    {
        var result = await CliHarness.RunAsync(["reconciliations", "cancel", "17"], UnusedServer, interactive: false);

        Assert.Equal(ExitCodes.NotConfirmed, result.ExitCode);
        Assert.Contains("pass --yes", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancel_answered_no_on_a_terminal_is_not_confirmed()
    {
        var result = await CliHarness.RunAsync(["reconciliations", "cancel", "17"], UnusedServer, interactive: true, input: "n\n");

        Assert.Equal(ExitCodes.NotConfirmed, result.ExitCode);
        Assert.Contains("not confirmed; nothing was changed", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reconciliations", Token)]
    [InlineData("reconciliations", "process", Token)]
    public async Task A_token_typed_into_the_wrong_place_is_never_echoed(params string[] args)
    {
        var result = await CliHarness.RunAsync(args, UnusedServer);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.DoesNotContain(Token, result.Error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Token, result.Out, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(SecretMask.Mask, result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reconciliations", "import", "confirm", "process", "list", "show", "cancel")]
    [InlineData("outbox", "drain", "list")]
    [InlineData("settings", "list", "set")]
    public async Task Help_lists_every_sub_verb(string verb, params string[] subs)
    {
        var result = await CliHarness.RunAsync([verb, "--help"]);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        foreach (var sub in subs)
        {
            Assert.Contains(sub, result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Import_help_explains_the_format_the_outcomes_and_the_exit_codes()
    {
        var result = await CliHarness.RunAsync(["reconciliations", "import", "--help"]);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        foreach (var text in new[] { "id,active_email,inactive_email", "created, duplicate, conflict or error", "--errors", "--dry-run", "SHA-256", "Exit 0" })
        {
            Assert.Contains(text, result.Out, StringComparison.Ordinal);
        }
    }
}

/// <summary>The text the verbs print for a report (the server part is the integration tests').</summary>
public sealed class ReconciliationOutputTests
{
    private static readonly DbMerge.Runner.Reconciliation.ReconciliationCsvFile File =
        DbMerge.Runner.Reconciliation.ReconciliationCsv.Parse("accounts.csv", System.Text.Encoding.UTF8.GetBytes(
            "id,active_email,inactive_email\nA-1,ada@example.org,ada.lovelace@old.example\nA-2,grace@example.org,g.hopper@old.example|bad\n"));

    [Fact]
    public void The_import_summary_counts_every_outcome_and_lists_the_rejected_rows()
    {
        var pairs = File.Pairs.Select(p => new DbMerge.Runner.Reconciliation.ImportedPair(p,
            p.ClientOutcome ?? (p.LineNumber == 2 ? DbMerge.Client.ReconciliationOutcomes.Created : DbMerge.Client.ReconciliationOutcomes.Conflict),
            p.ClientReason ?? (p.LineNumber == 2 ? null : "id A-2 was imported with active_email x@example.org (request 9, import 1, line 2)"),
            p.LineNumber == 2 ? 17 : 9, false)).ToList();
        var import = new DbMerge.Client.ReconciliationImport(3, "accounts.csv", File.Sha256, "ops", new DateTime(2025, 6, 1), new DateTime(2025, 6, 1),
            2, 3, 1, 0, 1, 1, true);
        var report = new DbMerge.Runner.Reconciliation.ReconciliationImportReport(File, import, false, false, false, pairs);
        var output = new StringWriter();

        DbMerge.Runner.Verbs.ReconciliationsVerbs.WriteImport(output, report);

        var text = output.ToString();
        Assert.Contains($"Import 3 of accounts.csv (sha256 {Convert.ToHexStringLower(File.Sha256)}): 2 row(s), 3 pair(s), completed.", text, StringComparison.Ordinal);
        Assert.Matches(@"created\s+1\n", text.Replace("\r", string.Empty, StringComparison.Ordinal));
        Assert.Matches(@"conflict\s+1\n", text.Replace("\r", string.Empty, StringComparison.Ordinal));
        Assert.Matches(@"error\s+1\n", text.Replace("\r", string.Empty, StringComparison.Ordinal));
        Assert.Contains("inactive_email is not a valid e-mail address", text, StringComparison.Ordinal);
        Assert.Contains("id A-2 was imported with active_email", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_process_summary_has_a_table_of_outcomes_and_one_row_per_request()
    {
        var done = new DbMerge.Client.ReconciliationProcessed(17, 42, false, "done",
            [new DbMerge.Client.MergeTableSummary("app", "DocumentAccess", "UserId", "keep-higher-role", 1, 0, 1, 1)]);
        var report = new DbMerge.Runner.Reconciliation.ReconciliationProcessReport(false, false, 1, 0,
        [
            new DbMerge.Runner.Reconciliation.ProcessedRequest(17, "A-1", "ada@example.org", "ada.lovelace@old.example", false, done, null, null),
            new DbMerge.Runner.Reconciliation.ProcessedRequest(18, "A-3", "linus@example.org", "linus@old.example", false, null, 51106, "refused: both qualified"),
        ]);
        var output = new StringWriter();

        DbMerge.Runner.Verbs.ReconciliationsVerbs.WriteProcess(output, report);

        var text = output.ToString();
        Assert.Contains("Sweeps: 1 request(s) expired", text, StringComparison.Ordinal);
        Assert.Contains("ada.lovelace@old.example → ada@example.org", text, StringComparison.Ordinal);
        Assert.Contains("run 42, 2 row(s) changed", text, StringComparison.Ordinal);
        Assert.Contains("51106: refused: both qualified", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_demo_reconciliation_summary_says_whether_it_verified()
    {
        var verified = new DbMerge.Runner.Verbs.DemoVerb.DemoReconciliation("demo-reconciliation.csv", 2, 4, 4, 2, 0,
            [new DbMerge.Runner.Verbs.DemoVerb.DemoReconciledRequest(1, "g.hopper@old.example", "grace@example.org", "done", 3, 5, true)], 4, true, []);
        var failed = verified with { Problems = ["1 request(s) done, not 2"] };
        var ok = new StringWriter();
        var bad = new StringWriter();

        DbMerge.Runner.Verbs.DemoVerb.WriteReconciliation(ok, verified);
        DbMerge.Runner.Verbs.DemoVerb.WriteReconciliation(bad, failed);

        Assert.Contains("verified: every request was confirmed on both sides, merged once and verified.", ok.ToString(), StringComparison.Ordinal);
        Assert.Contains("NOT verified:", bad.ToString(), StringComparison.Ordinal);
        Assert.Contains("1 request(s) done, not 2", bad.ToString(), StringComparison.Ordinal);
    }
}
