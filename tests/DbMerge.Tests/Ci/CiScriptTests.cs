using System.Diagnostics;
using Xunit;

namespace DbMerge.Tests.Ci;

/// <summary>
/// The two helpers of .ci/run, run for real with bash on planted input: .ci/summarize (counts the xunit reports, prints
/// each skip reason once with its count, ends with "N passed, N failed, N skipped", fails on failures and — when the
/// hosted workflow asks — on skips) and .ci/hide-skip-details (keeps the per-test skip lines out of the console).
/// </summary>
public sealed class CiScriptTests
{
    private static readonly string CiFolder = Path.Combine(Repo.Layout.Root, ".ci");

    private const string NoServer = "No SQL Server: not configured.";

    /// <summary>An xunit v3 report of one assembly: <paramref name="passed"/> passing tests, skips with reasons, failures.</summary>
    private static string Report(string assembly, int passed, string[] skipReasons, int failed = 0)
    {
        var tests = string.Concat(Enumerable.Range(0, passed).Select(i => $"<test id=\"p{i}\" name=\"{assembly}.Pass{i}\" result=\"Pass\" time=\"0\" />"))
                    + string.Concat(skipReasons.Select((r, i) => $"<test id=\"s{i}\" name=\"{assembly}.Skip{i}\" result=\"Skip\" time=\"0\" source-line=\"1\"><reason>{r}</reason></test>"))
                    + string.Concat(Enumerable.Range(0, failed).Select(i => $"<test id=\"f{i}\" name=\"{assembly}.Fail{i}\" result=\"Fail\" time=\"0\"><failure><message>boom</message></failure></test>"));
        var total = passed + skipReasons.Length + failed;
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <assemblies><assembly name="{assembly}.dll" test-framework="xUnit.net v3" errors="0" failed="{failed}" not-run="0" passed="{passed}" skipped="{skipReasons.Length}" time="0.1" total="{total}"><collection name="c" total="{total}">{tests}</collection></assembly></assemblies>
            """;
    }

    private static string ResultsWith(params string[] reports)
    {
        var folder = ScratchDirectory.Create("dbmerge-ci-results-");
        for (var i = 0; i < reports.Length; i++)
        {
            File.WriteAllText(Path.Combine(folder, $"report{i}.xunit.xml"), reports[i]);
        }

        return folder;
    }

    private static (int ExitCode, string Stdout, string Stderr) Bash(string script, string[] arguments, string? stdin = null, bool requireServer = false)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(CiFolder, script));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("DBMERGE_CI_REQUIRE_SQLSERVER");
        if (requireServer)
        {
            start.Environment["DBMERGE_CI_REQUIRE_SQLSERVER"] = "1";
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.Write(stdin ?? string.Empty);
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(60_000), $"{script} did not finish within 60 s");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n')[^1].Trim();

    [Fact]
    public void Skipped_tests_are_counted_as_skipped_each_reason_is_printed_once_with_its_count_and_the_run_passes()
    {
        var results = ResultsWith(Report("Offline", 3, []), Report("Integration", 0, [NoServer, NoServer, "Other reason."]));

        var (exit, stdout, stderr) = Bash("summarize", [results, "0"]);

        Assert.Equal("3 passed, 0 failed, 3 skipped", LastLine(stdout));
        Assert.Equal(0, exit);
        Assert.Single(stderr.Split('\n'), l => l.Contains(NoServer, StringComparison.Ordinal));
        Assert.Contains($"ci: 2 test(s) skipped because: {NoServer}", stderr, StringComparison.Ordinal);
        Assert.Contains("ci: 1 test(s) skipped because: Other reason.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_required_server_a_skipped_test_fails_the_run_and_the_counts_stay_honest()
    {
        var results = ResultsWith(Report("Offline", 3, []), Report("Integration", 5, [NoServer]));

        var (exit, stdout, stderr) = Bash("summarize", [results, "0"], requireServer: true);

        Assert.Equal("8 passed, 0 failed, 1 skipped", LastLine(stdout));
        Assert.NotEqual(0, exit);
        Assert.Contains("DBMERGE_CI_REQUIRE_SQLSERVER=1", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void With_a_required_server_and_nothing_skipped_the_run_passes()
    {
        var results = ResultsWith(Report("Offline", 3, []), Report("Integration", 5, []));

        var (exit, stdout, _) = Bash("summarize", [results, "0"], requireServer: true);

        Assert.Equal("8 passed, 0 failed, 0 skipped", LastLine(stdout));
        Assert.Equal(0, exit);
    }

    [Theory]
    [InlineData(1, 0, 1, "a failed test")]
    [InlineData(0, 1, 1, "dotnet test failing without a failed test")]
    public void A_failed_test_or_a_failing_dotnet_test_fails_the_run(int failedTests, int dotnetStatus, int expectedFailed, string why)
    {
        var results = ResultsWith(Report("Offline", 2, [], failedTests), Report("Integration", 1, []));

        var (exit, stdout, _) = Bash("summarize", [results, dotnetStatus.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.True(exit != 0, why);
        Assert.Equal($"3 passed, {expectedFailed} failed, 0 skipped", LastLine(stdout));
    }

    [Fact]
    public void A_missing_assembly_report_fails_the_run()
    {
        var results = ResultsWith(Report("Offline", 2, []));

        var (exit, stdout, stderr) = Bash("summarize", [results, "0"]);

        Assert.NotEqual(0, exit);
        Assert.Equal("2 passed, 1 failed, 0 skipped", LastLine(stdout));
        Assert.Contains("expected reports from 2 test assemblies, found 1", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void The_console_filter_drops_each_skipped_test_and_its_detail_lines_and_keeps_everything_else()
    {
        const string console = """
            Running tests from /x/DbMerge.IntegrationTests.dll (net10.0|x64)
            skipped DbMerge.IntegrationTests.A.First
              No SQL Server: not configured.
              from /x/DbMerge.IntegrationTests.dll (net10.0|x64)
            skipped DbMerge.IntegrationTests.A.Second
              No SQL Server: not configured.
              from /x/DbMerge.IntegrationTests.dll (net10.0|x64)
            failed DbMerge.Tests.B.Broken
              Assert.Equal() Failure
            /x/DbMerge.IntegrationTests.dll (net10.0|x64) passed (405ms)
              total: 2

            """;

        var (exit, stdout, _) = Bash("hide-skip-details", [], console);

        Assert.Equal(0, exit);
        Assert.DoesNotContain("skipped DbMerge", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("No SQL Server", stdout, StringComparison.Ordinal);
        Assert.Contains("failed DbMerge.Tests.B.Broken\n  Assert.Equal() Failure", stdout, StringComparison.Ordinal);
        Assert.Contains("Running tests from", stdout, StringComparison.Ordinal);
        Assert.Contains("  total: 2", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Ci_run_uses_both_helpers()
    {
        var run = File.ReadAllText(Path.Combine(CiFolder, "run"));

        Assert.Contains(".ci/hide-skip-details", run, StringComparison.Ordinal);
        Assert.Contains("/summarize\" \"$results\" \"$status\"", run, StringComparison.Ordinal);
    }
}
