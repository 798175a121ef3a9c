using System.Text.Json;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Xunit;

namespace DbMerge.IntegrationTests.Reconciliation;

/// <summary>
/// The README workflow through the console, in-process: import → outbox drain (the mailer's lines) → confirm both
/// sides with the drained tokens → process → drain the done events. No verb but drain prints a token.
/// </summary>
public sealed class ReconciliationCliWorkflowTests(SqlServerFixture fixture, ITestOutputHelper output) : ReconciliationTestBase(fixture, output)
{
    private async Task<(int Exit, string Out, string Error)> RunAsync(string? input, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var reader = new StringReader(input ?? string.Empty);
        var context = new CliContext(stdout, stderr, isInteractive: false, reader.ReadLine,
            name => name == CommonOptions.ConnectionEnvironmentVariable ? ConnectionString : null);
        var exit = await DbMergeCli.InvokeAsync(args, context, Ct);
        Output.WriteLine($"$ dbmerge {string.Join(' ', args)} → {exit}");
        Output.WriteLine(stdout.ToString());
        Output.WriteLine(stderr.ToString());
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Import_drain_confirm_process_and_drain_again_merge_the_confirmed_pairs_and_print_no_token_elsewhere()
    {
        // Given the example's users and its CSV (Linus's pair will be refused: 51106)
        var w = await GivenTheWorldAsync();
        var csv = Path.Combine(ScratchDirectory.Create("dbmerge-workflow-"), "accounts.csv");
        await File.WriteAllTextAsync(csv, ExampleCsv, Ct);
        var rejected = Path.Combine(Path.GetDirectoryName(csv)!, "rejected.csv");

        // When it is imported
        var import = await RunAsync(null, "reconciliations", "import", csv, "--errors", rejected, "--json");
        Assert.Equal(ExitCodes.Success, import.Exit);
        using var imported = JsonDocument.Parse(import.Out);
        Assert.Equal(4, imported.RootElement.GetProperty("counts").GetProperty("created").GetInt32());
        Assert.Equal("id,active_email,inactive_email,reason,line", (await File.ReadAllLinesAsync(rejected, Ct))[0].TrimStart('\uFEFF'));

        // And the confirmation events are drained for the mailer
        var drain = await RunAsync(null, "outbox", "drain", "--type", "reconciliation.confirm");
        Assert.Equal(ExitCodes.Success, drain.Exit);
        var lines = drain.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        Assert.Equal(8, lines.Count);
        var tokens = lines.Select(l => l.GetProperty("payload").GetProperty("secret").GetProperty("token").GetString()!).ToList();

        // And every address confirms with its drained token (read from stdin)
        foreach (var token in tokens)
        {
            var confirm = await RunAsync(token + "\n", "reconciliations", "confirm", "-");
            Assert.Equal(ExitCodes.Success, confirm.Exit);
            Assert.DoesNotContain(token, confirm.Out + confirm.Error, StringComparison.OrdinalIgnoreCase);
        }

        // And the ready requests are processed
        var process = await RunAsync(null, "reconciliations", "process", "--json", "--verbose");
        using var processed = JsonDocument.Parse(process.Out);

        // Then three are done and Linus's failed (exit 1), and the merges happened
        Assert.Equal(ExitCodes.Findings, process.Exit);
        Assert.Equal((3, 1), (processed.RootElement.GetProperty("done").GetInt32(), processed.RootElement.GetProperty("failed").GetInt32()));
        Assert.Equal(w.Ada, await ScalarAsync<int>("SELECT MergedIntoUserId FROM app.[User] WHERE UserId = @u;", ("@u", w.AdaOld)));

        // And the done events go out, and nothing else ever printed a token
        var done = await RunAsync(null, "outbox", "drain");
        Assert.Equal(6, done.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var list = await RunAsync(null, "reconciliations", "list");
        var show = await RunAsync(null, "reconciliations", "show", lines[0].GetProperty("payload").GetProperty("requestId").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture));
        var outbox = await RunAsync(null, "outbox", "list", "--json");
        var status = await RunAsync(null, "settings", "list");
        foreach (var printed in new[] { import.Out, import.Error, drain.Error, process.Out, process.Error, done.Error, list.Out, show.Out, outbox.Out, status.Out })
        {
            foreach (var token in tokens)
            {
                Assert.DoesNotContain(token, printed, StringComparison.OrdinalIgnoreCase);
            }
        }

        Assert.Contains("reconciliation.confirm_url_template", status.Out, StringComparison.Ordinal);
        Assert.Contains("done", list.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Importing_the_same_file_again_through_the_console_says_so_and_changes_nothing()
    {
        await GivenTheWorldAsync();
        var csv = Path.Combine(ScratchDirectory.Create("dbmerge-workflow-"), "accounts.csv");
        await File.WriteAllTextAsync(csv, ExampleCsv, Ct);
        Assert.Equal(ExitCodes.Success, (await RunAsync(null, "reconciliations", "import", csv)).Exit);
        var before = await SnapshotAsync();

        var again = await RunAsync(null, "reconciliations", "import", csv);

        Assert.Equal(ExitCodes.Success, again.Exit);
        Assert.Contains("was already imported as import", again.Out, StringComparison.Ordinal);
        AssertSameSnapshot(before, await SnapshotAsync());
    }

    [Fact]
    public async Task A_wrong_token_through_the_console_exits_4_with_its_number()
    {
        await GivenTheWorldAsync();

        var result = await RunAsync(null, "reconciliations", "confirm", new string('0', 64));

        Assert.Equal(ExitCodes.Refused, result.Exit);
        Assert.Contains("error 51510", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('0', 64), result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_are_shown_by_status_and_changed_by_settings_set_and_a_bad_value_is_refused()
    {
        await UseOwnDatabaseAsync(); // changes a setting (reference data, kept across resets)
        var set = await RunAsync(null, "settings", "set", "reconciliation.token_expiry_days", "7");
        Assert.Equal(ExitCodes.Success, set.Exit);
        Assert.Contains("reconciliation.token_expiry_days = 7 (was 14)", set.Out, StringComparison.Ordinal);

        var bad = await RunAsync(null, "settings", "set", "reconciliation.confirm_url_template", "https://example.org/no-placeholder");
        Assert.Equal(ExitCodes.Refused, bad.Exit);
        Assert.Contains("error 51542", bad.Error, StringComparison.Ordinal);

        var status = await RunAsync(null, "status", "--json", "--repo", Fixture.Layout.Root);
        using var json = JsonDocument.Parse(status.Out);
        var settings = json.RootElement.GetProperty("settings").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("value").GetString());
        Assert.Equal("7", settings["reconciliation.token_expiry_days"]);
        Assert.Equal(4, settings.Count);
    }
}
