using System.CommandLine;
using System.Text.Json;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using DbMerge.Testing;
using Xunit;

namespace DbMerge.Tests.Runner;

/// <summary>
/// The console conventions every verb follows (README "Verbs"): help, -v/--json on every verb, results on stdout and
/// diagnostics on stderr, Ctrl+C is exit 6, a user error is one line with a documented exit code, defaults shown once.
/// Offline: the verbs that need a server are exercised only up to the connection.
/// </summary>
public sealed class ConsoleConventionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, string> NoConnection = [];

    private static List<(string Path, Command Command)> Verbs() =>
        DbMergeCli.Leaves(DbMergeCli.Build(new CliContext(TextWriter.Null, TextWriter.Null, false, environment: _ => null)))
            .Select(c => (DbMergeCli.Path(c), c))
            .ToList();

    // ---- help ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task No_arguments_prints_the_help_to_stderr_and_exits_2()
    {
        var result = await CliHarness.RunAsync([]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.Contains("Usage:", result.Error, StringComparison.Ordinal);
        Assert.Contains("Commands:", result.Error, StringComparison.Ordinal);
        Assert.Contains("validate", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Required command was not provided", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_verb_group_without_its_sub_verb_names_the_sub_verbs_and_prints_its_help_to_stderr_with_exit_2()
    {
        var result = await CliHarness.RunAsync(["constraints"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        Assert.Contains("dbmerge: 'constraints' needs one of: list, validate, violations, trust.", result.Error, StringComparison.Ordinal);
        Assert.Contains("Usage:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_goes_to_stdout_with_exit_0_and_ends_with_the_verbs_example()
    {
        var result = await CliHarness.RunAsync(["constraints", "validate", "--help"]);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Equal(string.Empty, result.Error);
        Assert.Contains("Example:\n  " + VerbExamples.For("constraints validate"), result.Out.ReplaceLineEndings("\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_verb_has_an_example_that_parses_and_is_the_first_example_of_its_README_section()
    {
        var readme = File.ReadAllText(Path.Combine(Repo.Layout.Root, "README.md"));
        var problems = new List<string>();
        var verbs = Verbs();
        Assert.Contains(verbs, v => v.Path == "users merge");
        foreach (var (path, _) in verbs)
        {
            if (VerbExamples.For(path) is not { } example)
            {
                problems.Add($"{path}: no example in VerbExamples");
                continue;
            }

            var parsed = ReadmeTests.BuildRoot().Parse(ReadmeTests.ShellWords(example).Skip(1).ToArray());
            if (parsed.Errors.Count > 0 || DbMergeCli.Path(parsed.CommandResult.Command) != path)
            {
                problems.Add($"{path}: '{example}' does not parse as this verb ({string.Join(" / ", parsed.Errors.Select(e => e.Message))})");
            }

            var section = ReadmeTests.VerbSection(readme, path);
            if (section is null || ReadmeTests.DbmergeExamples(section).FirstOrDefault() != example)
            {
                problems.Add($"{path}: README's first example is not '{example}'");
            }
        }

        Assert.True(problems.Count == 0, string.Join("; ", problems));
        Assert.Empty(VerbExamples.All.Keys.Except(verbs.Select(v => v.Path)));
    }

    [Fact]
    public void Every_option_of_every_verb_has_a_description_and_a_default_is_not_repeated_in_it()
    {
        var problems = new List<string>();
        foreach (var (path, command) in Verbs())
        {
            foreach (var option in command.Options)
            {
                if (string.IsNullOrWhiteSpace(option.Description))
                {
                    problems.Add($"{path} {option.Name}: no description");
                }
                else if (option.HasDefaultValue && option.Description.Contains("default", StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add($"{path} {option.Name}: help already shows [default: …]; the description repeats it: '{option.Description}'");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join("; ", problems));
    }

    [Fact]
    public async Task A_default_appears_once_in_a_verbs_help()
    {
        var result = await CliHarness.RunAsync(["constraints", "validate", "--help"]);

        var line = Assert.Single(result.Out.Split('\n'), l => l.TrimStart().StartsWith("--batch-size", StringComparison.Ordinal));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(line, "default", System.Text.RegularExpressions.RegexOptions.IgnoreCase));
        Assert.Contains("[default: 5000]", line, StringComparison.Ordinal);
    }

    // ---- -v and --json on every verb -----------------------------------------------------------------------

    [Fact]
    public void Every_verb_accepts_v_verbose_and_json()
    {
        var missing = new List<string>();
        foreach (var (path, command) in Verbs())
        {
            var root = ReadmeTests.BuildRoot();
            foreach (var flag in new[] { "-v", "--verbose", "--json" })
            {
                var parsed = root.Parse([.. ReadmeTests.ShellWords(VerbExamples.For(path) ?? "dbmerge " + path).Skip(1), flag]);
                if (parsed.Errors.Count > 0)
                {
                    missing.Add($"{path} {flag}: {string.Join(" / ", parsed.Errors.Select(e => e.Message))}");
                }
            }
        }

        Assert.True(missing.Count == 0, string.Join("; ", missing));
    }

    [Fact]
    public async Task Verbose_prints_the_verbs_wall_time_to_stderr_and_leaves_stdout_alone()
    {
        var quiet = await CliHarness.RunAsync(["validate", "--repo", Repo.Layout.Root]);
        var verbose = await CliHarness.RunAsync(["validate", "-v", "--repo", Repo.Layout.Root]);

        Assert.Equal(ExitCodes.Success, verbose.ExitCode);
        Assert.Equal(quiet.Out, verbose.Out);
        Assert.DoesNotContain("took", quiet.Error, StringComparison.Ordinal);
        Assert.Matches(@"dbmerge: validate took \d+\.\d{3} s \(exit 0\)\.", verbose.Error);
    }

    [Theory]
    [InlineData("validate")]
    [InlineData("script")]
    [InlineData("schema")]
    public async Task Json_writes_exactly_one_JSON_document_to_stdout(string verb)
    {
        var folder = ScratchDirectory.Create("dbmerge-json-");
        string[] args = verb switch
        {
            "validate" => ["validate", "--json", "--repo", Repo.Layout.Root],
            "script" => ["script", "--json", "--output", Path.Combine(folder, "deploy.sql"), "--repo", Repo.Layout.Root],
            _ => ["schema", "--json", "--script", Path.Combine(folder, "model.sql"), "--repo", Repo.Layout.Root],
        };

        var result = await CliHarness.RunAsync(args);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        using var document = JsonDocument.Parse(result.Out);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
    }

    // ---- stdout / stderr -----------------------------------------------------------------------------------

    [Theory]
    [InlineData("migrate")]
    [InlineData("status")]
    [InlineData("constraints list")]
    [InlineData("users merge --source 1 --target 2")]
    [InlineData("demo --keep --connection bogus=1")]
    public async Task A_verb_that_cannot_connect_writes_one_line_to_stderr_nothing_to_stdout_and_exits_3(string args)
    {
        var result = await CliHarness.RunAsync(args.Split(' '), NoConnection);

        Assert.Equal(ExitCodes.ConnectionFailed, result.ExitCode);
        Assert.Equal(string.Empty, result.Out);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("dbmerge: ", line, StringComparison.Ordinal);
    }

    // ---- user errors ---------------------------------------------------------------------------------------

    [Fact]
    public async Task A_schema_script_that_cannot_be_written_is_a_one_line_usage_error_not_an_unexpected_error()
    {
        // A path below a regular file can never be created (the portable form of "/proc/x.sql").
        var file = Path.Combine(ScratchDirectory.Create("dbmerge-unwritable-"), "a-file");
        await File.WriteAllTextAsync(file, "x", Ct);
        var target = Path.Combine(file, "x.sql");

        var result = await CliHarness.RunAsync(["schema", "--script", target, "--repo", Repo.Layout.Root]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("dbmerge: ", line, StringComparison.Ordinal);
        Assert.Contains("check the path and its permissions", line, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task A_deploy_script_that_cannot_be_written_is_a_one_line_usage_error()
    {
        var file = Path.Combine(ScratchDirectory.Create("dbmerge-unwritable-"), "a-file");
        await File.WriteAllTextAsync(file, "x", Ct);

        var result = await CliHarness.RunAsync(["script", "--output", Path.Combine(file, "sub", "deploy.sql"), "--repo", Repo.Layout.Root]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    // ---- Ctrl+C --------------------------------------------------------------------------------------------

    [Fact]
    public async Task Ctrl_C_during_a_verb_that_computes_without_awaiting_abandons_it_with_exit_6()
    {
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        var result = await CliHarness.RunAsync(["validate", "--repo", Repo.Layout.Root], cancellation: cancellation.Token,
            cancelGrace: TimeSpan.Zero);

        Assert.Equal(ExitCodes.NotConfirmed, result.ExitCode);
        Assert.Contains("dbmerge: cancelled (Ctrl+C): validate: it did not stop within 0 s and was abandoned.", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Out);
    }

    [Fact]
    public async Task Ctrl_C_during_a_verb_that_stops_by_itself_says_what_it_leaves_behind_with_exit_6()
    {
        var stderr = new StringWriter();
        var context = new CliContext(TextWriter.Null, stderr, false, environment: _ => null) { CancelGracePeriod = TimeSpan.FromSeconds(30) };
        using var cancellation = new CancellationTokenSource();
        var started = new TaskCompletionSource();

        var run = Verb.RunAsync(context, async () =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, cancellation.Token);
            return ExitCodes.Success;
        }, cancellation.Token, "constraints validate", "Run it again to resume.");
        await started.Task.WaitAsync(Ct);
        await cancellation.CancelAsync();
        var exit = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(ExitCodes.NotConfirmed, exit);
        Assert.Equal("dbmerge: cancelled (Ctrl+C): constraints validate: it stopped. Run it again to resume.", stderr.ToString().Trim());
    }

    [Fact]
    public async Task Any_failure_of_a_cancelled_verb_is_reported_as_the_cancellation()
    {
        var stderr = new StringWriter();
        var context = new CliContext(TextWriter.Null, stderr, false, environment: _ => null);
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        // e.g. SqlClient's "Operation cancelled by user" arrives as a SqlException, a deployment failure wraps it
        var exit = await Verb.RunAsync(context, () => throw new InvalidOperationException("Operation cancelled by user."), cancellation.Token, "migrate");

        Assert.Equal(ExitCodes.NotConfirmed, exit);
        Assert.StartsWith("dbmerge: cancelled (Ctrl+C): migrate", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_verb_wires_its_action_through_the_cancellable_runner()
    {
        // Given a token cancelled before the verb starts, every verb ends with exit 6 without starting (a verb whose
        // action bypassed Verb.SetAction would run: validate would exit 0, users merge 3).
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        var problems = new List<string>();
        foreach (var (path, _) in Verbs())
        {
            var args = ReadmeTests.ShellWords(VerbExamples.For(path)!).Skip(1).Select(a => a.Replace("$DBMERGE_CONNECTION", "Server=127.0.0.1,1;Connect Timeout=1", StringComparison.Ordinal)).ToArray();
            var result = await CliHarness.RunAsync(args, NoConnection, cancellation: cancellation.Token, cancelGrace: TimeSpan.Zero);
            if (result.ExitCode != ExitCodes.NotConfirmed || !result.Error.Contains($"cancelled (Ctrl+C): {path}: nothing was started", StringComparison.Ordinal))
            {
                problems.Add($"{path}: exit {result.ExitCode}: {result.Error.Trim()}");
            }
        }

        Assert.True(problems.Count == 0, string.Join("; ", problems));
    }
}
