using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using DbMerge.Client.Errors;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Xunit;

namespace DbMerge.Tests;

/// <summary>
/// Keeps README.md true: every verb (with its options), exit code, error number and rule id of the code is
/// documented there, every verb example in it parses against the real command tree, and its test command is
/// the one .ci/run runs. Each check is a pure function proven to fail on a planted omission.
/// </summary>
public sealed partial class ReadmeTests
{
    private static readonly string ReadmeText = File.ReadAllText(Path.Combine(Repo.Layout.Root, "README.md"));

    // ---- verbs -------------------------------------------------------------------------------------------

    [Fact]
    public void Every_verb_and_sub_verb_of_the_command_tree_has_a_README_heading_dbmerge_verb_sub()
    {
        var paths = CommandTree().Select(c => c.Path).ToList();
        Assert.Contains("users merge", paths);

        var missing = MissingVerbHeadings(ReadmeText, paths);

        Assert.True(missing.Count == 0,
            "README.md lacks a heading like '#### `dbmerge <verb> [<sub>]`' for: " + string.Join(", ", missing.Select(p => "dbmerge " + p)));
    }

    [Fact]
    public void Every_README_verb_heading_names_a_real_command()
    {
        var paths = CommandTree().Select(c => c.Path).ToHashSet(StringComparer.Ordinal);

        var unknown = VerbHeadings(ReadmeText).Where(h => !paths.Contains(h)).ToList();

        Assert.True(unknown.Count == 0, "README.md documents verbs the runner does not have: " + string.Join(", ", unknown.Select(p => "dbmerge " + p)));
    }

    [Fact]
    public void Every_option_and_argument_of_every_verb_is_named_in_its_README_section()
    {
        var missing = new List<string>();
        foreach (var (path, command) in CommandTree().Where(c => c.Command.Subcommands.Count == 0))
        {
            var section = VerbSection(ReadmeText, path);
            if (section is null)
            {
                missing.Add($"dbmerge {path}: no section");
                continue;
            }

            missing.AddRange(MissingOptionNames(section, command).Select(name => $"dbmerge {path}: {name}"));
        }

        Assert.True(missing.Count == 0, "README.md verb sections lack: " + string.Join("; ", missing));
    }

    [Fact]
    public void Every_dbmerge_example_in_the_README_parses_against_the_real_command_tree()
    {
        var examples = DbmergeExamples(ReadmeText);
        Assert.NotEmpty(examples);

        var broken = new List<string>();
        foreach (var example in examples)
        {
            var result = BuildRoot().Parse(ShellWords(example).Skip(1).ToArray());
            if (result.Errors.Count > 0 || result.CommandResult.Command is RootCommand)
            {
                broken.Add($"'{example}': {string.Join(" / ", result.Errors.Select(e => e.Message))}");
            }
        }

        Assert.True(broken.Count == 0, "README.md examples that do not parse: " + string.Join("; ", broken));
    }

    [Fact]
    public void The_README_says_which_verbs_work_offline()
    {
        var offline = Section(ReadmeText, "## Verbs");

        Assert.Contains("**Offline verbs**", offline);
        Assert.Contains("`dbmerge validate`", offline);
        Assert.Contains("`dbmerge schema`", offline);
        Assert.Contains("`dbmerge script` without `--connection`", offline);
    }

    // ---- exit codes ---------------------------------------------------------------------------------------

    [Fact]
    public void Every_exit_code_constant_has_a_row_in_the_exit_code_table()
    {
        var codes = ExitCodeConstants();
        Assert.Contains(("LockTimeout", 7), codes);

        var missing = MissingExitCodes(ReadmeText, codes);

        Assert.True(missing.Count == 0, "README.md '## Exit codes' table lacks rows '| N | `Name` |' for: " + string.Join(", ", missing));
    }

    [Fact]
    public void The_exit_code_table_lists_no_code_the_runner_does_not_define()
    {
        var defined = ExitCodeConstants().Select(c => c.Value).ToHashSet();

        var extra = ExitCodeRows(ReadmeText).Select(r => r.Value).Where(v => !defined.Contains(v)).ToList();

        Assert.True(extra.Count == 0, "README.md exit-code table lists undefined codes: " + string.Join(", ", extra));
    }

    // ---- error numbers ------------------------------------------------------------------------------------

    [Fact]
    public void Every_registered_error_has_a_README_row_with_its_number_name_and_kind()
    {
        Assert.NotEmpty(ErrorRegistry.All);

        var missing = MissingErrorRows(ReadmeText, ErrorRegistry.All);

        Assert.True(missing.Count == 0, "README.md lacks error rows '| number | Name | Kind |' for: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_51xxx_number_in_the_README_is_in_the_error_registry()
    {
        var registered = ErrorRegistry.All.Select(e => e.Number).ToHashSet();

        var unknown = UnregisteredNumbers(ReadmeText, registered);

        Assert.True(unknown.Count == 0, "README.md mentions error numbers the registry does not have: " + string.Join(", ", unknown));
    }

    [Fact]
    public void Every_engine_error_the_client_names_is_in_the_engine_error_table()
    {
        var numbers = typeof(SqlErrors).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.FieldType == typeof(int))
            .Select(f => (int)f.GetRawConstantValue()!)
            .ToList();
        Assert.Contains(1222, numbers);
        var table = Section(ReadmeText, "### Engine errors");

        var missing = numbers.Where(n => !ContainsNumber(table, n)).ToList();

        Assert.True(missing.Count == 0, "README.md '### Engine errors' lacks: " + string.Join(", ", missing));
    }

    // ---- rules --------------------------------------------------------------------------------------------

    [Fact]
    public void Every_house_rule_and_model_rule_id_has_a_row_in_the_README()
    {
        var ids = HouseRuleSet.All.Select(r => r.Id)
            .Concat(ScenarioRules.All.Select(r => r.Id))
            .Concat(ModelRules.All.Select(r => r.Id))
            .Append(ErrorNumberSync.RuleId)
            .Distinct(StringComparer.Ordinal)
            .ToList();

        var missing = ids.Where(id => !Regex.IsMatch(ReadmeText, $@"^\| {Regex.Escape(id)} \|", RegexOptions.Multiline)).ToList();

        Assert.True(missing.Count == 0, "README.md house rules table lacks rows for: " + string.Join(", ", missing));
    }

    // ---- scripts and procedures ---------------------------------------------------------------------------

    [Fact]
    public void Every_script_in_scripts_is_documented_in_the_README()
    {
        var scripts = Directory.EnumerateFiles(Path.Combine(Repo.Layout.Root, "scripts"), "*.sh")
            .Select(f => "scripts/" + Path.GetFileName(f))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.NotEmpty(scripts);

        var missing = scripts.Where(s => !ReadmeText.Contains($"`{s}", StringComparison.Ordinal)).ToList();

        Assert.True(missing.Count == 0, "README.md does not document: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_api_procedure_is_named_in_the_README()
    {
        var procedures = Repo.Layout.DatabaseObjects()
            .Select(f => Path.GetFileNameWithoutExtension(f.RelativePath))
            .Where(n => n.StartsWith("api.", StringComparison.Ordinal))
            .ToList();
        Assert.Contains("api.User_Merge", procedures);

        var missing = procedures.Where(p => !Regex.IsMatch(ReadmeText, $@"`{Regex.Escape(p)}`")).ToList();

        Assert.True(missing.Count == 0, "README.md does not name: " + string.Join(", ", missing));
    }

    [Fact]
    public void The_README_names_the_pinned_SQL_Server_image_and_the_connection_variable()
    {
        Assert.Contains($"`{DbMerge.Deployment.SqlServerImage.Pinned}`", ReadmeText, StringComparison.Ordinal);
        Assert.Contains($"`{CommonOptions.ConnectionEnvironmentVariable}`", Section(ReadmeText, "## Pointing it at a SQL Server"), StringComparison.Ordinal);
    }

    // ---- the two commands ---------------------------------------------------------------------------------

    [Fact]
    public void The_test_command_in_the_README_is_exactly_the_one_ci_runs()
    {
        var ci = File.ReadAllText(Path.Combine(Repo.Layout.Root, ".ci", "run"));

        var readmeCommand = TwoCommands(ReadmeText).Test;
        var ciCommand = CiTestCommand(ci);

        Assert.StartsWith("dotnet test", readmeCommand, StringComparison.Ordinal);
        Assert.Equal(readmeCommand, ciCommand);
    }

    [Fact]
    public void The_main_job_in_the_README_runs_the_demo_verb_of_the_installed_tool()
    {
        var words = ShellWords(TwoCommands(ReadmeText).MainJob);
        Assert.Equal(ToolCommandName(), words[0]);

        var result = BuildRoot().Parse(words.Skip(1).ToArray());

        Assert.Empty(result.Errors);
        Assert.Equal("demo", result.CommandResult.Command.Name);
    }

    [Fact]
    public void The_README_names_every_procedure_that_owns_its_transaction_with_the_number_it_refuses_with()
    {
        var start = ReadmeText.IndexOf("**Procedures that own their transaction**", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no paragraph '**Procedures that own their transaction**'");
        var paragraph = ReadmeText[start..ReadmeText.IndexOf("\n\n", start, StringComparison.Ordinal)];
        var guarded = DbMerge.Tests.Client.ClientReadmeTests.GuardedProcedures();
        Assert.Contains("api.Collection_UndoClaim", guarded.Keys);

        // `name` is followed, before the next name's group closes, by "(number)".
        Assert.All(guarded, g =>
        {
            var at = paragraph.IndexOf($"`{g.Key}`", StringComparison.Ordinal);
            Assert.True(at >= 0, $"{g.Key} is not named in the paragraph");
            var group = paragraph[at..paragraph.IndexOf(')', at)];
            Assert.EndsWith($"({g.Value}", group, StringComparison.Ordinal);
        });
    }

    [Fact]
    public void The_set_up_packs_and_installs_the_tool_the_runner_project_packs_as()
    {
        var runner = System.Xml.Linq.XDocument.Load(Path.Combine(Repo.Layout.Root, "src", "DbMerge.Runner", "DbMerge.Runner.csproj"));
        string? Property(string name) => runner.Descendants(name).Select(e => e.Value).FirstOrDefault();
        Assert.Equal("true", Property("PackAsTool"));
        var setUp = Section(ReadmeText, "## Set-up");
        var commands = Regex.Match(setUp, "```bash\n(.*?)```", RegexOptions.Singleline).Groups[1].Value.Split('\n')
            .Select(l => l.Trim()).Where(l => l.StartsWith("dotnet ", StringComparison.Ordinal)).ToList();

        var pack = Assert.Single(commands, c => c.StartsWith("dotnet pack", StringComparison.Ordinal));
        var install = ShellWords(Assert.Single(commands, c => c.StartsWith("dotnet tool ", StringComparison.Ordinal)));
        var output = ShellWords(pack)[ShellWords(pack).IndexOf("-o") + 1];
        Assert.Equal(output, install[install.IndexOf("--source") + 1]);
        Assert.DoesNotContain("--add-source", install);
        Assert.Contains(Property("PackageId"), install);
        Assert.Equal("dbmerge", Property("ToolCommandName"));
        Assert.Contains("--prerelease", install);
    }

    /// <summary>
    /// The tool is installed from the local pack only (<c>--source</c>): with <c>--add-source</c> the configured feeds are
    /// asked too, and a package named DbMerge.Tool there (a name this project does not own) with a higher version would
    /// be installed instead of what was just packed.
    /// </summary>
    [Fact]
    public void The_install_script_installs_the_tool_from_the_local_pack_only()
    {
        var script = File.ReadAllText(Path.Combine(Repo.Layout.Root, "scripts", "install-tool.sh"));
        var pack = ShellWords(Assert.Single(script.Split('\n'), l => l.TrimStart().StartsWith("dotnet pack", StringComparison.Ordinal)).Trim());
        var install = ShellWords(Assert.Single(script.Split('\n'), l => l.TrimStart().StartsWith("dotnet tool update", StringComparison.Ordinal)).Trim());

        Assert.Equal(pack[pack.IndexOf("-o") + 1], install[install.IndexOf("--source") + 1]);
        Assert.DoesNotContain("--add-source", install);
    }

    /// <summary>The command the tool installs (the runner project's ToolCommandName).</summary>
    private static string ToolCommandName() =>
        System.Xml.Linq.XDocument.Load(Path.Combine(Repo.Layout.Root, "src", "DbMerge.Runner", "DbMerge.Runner.csproj"))
            .Descendants("ToolCommandName").Single().Value;

    // ---- the checks fail when something is missing (planted omissions) -----------------------------------

    [Fact]
    public void A_missing_verb_heading_is_reported()
    {
        var planted = ReadmeText.Replace("##### `dbmerge merges show`", "##### merges show", StringComparison.Ordinal);

        Assert.Equal(new[] { "merges show" }, MissingVerbHeadings(planted, CommandTree().Select(c => c.Path)));
    }

    [Fact]
    public void An_option_missing_from_a_verb_section_is_reported()
    {
        var (_, command) = CommandTree().Single(c => c.Path == "constraints trust");
        var section = VerbSection(ReadmeText, "constraints trust")!;
        var planted = section.Replace("--lock-timeout", "--lock-wait", StringComparison.Ordinal);

        Assert.Empty(MissingOptionNames(section, command));
        Assert.Equal(new[] { "--lock-timeout" }, MissingOptionNames(planted, command));
    }

    [Fact]
    public void A_missing_exit_code_row_is_reported()
    {
        var planted = Regex.Replace(ReadmeText, @"^\| 7 \| `LockTimeout` \|.*\n", string.Empty, RegexOptions.Multiline);

        Assert.Equal(new[] { "LockTimeout = 7" }, MissingExitCodes(planted, ExitCodeConstants()));
    }

    [Fact]
    public void A_missing_error_row_and_an_unregistered_number_are_reported()
    {
        var registered = ErrorRegistry.All.Select(e => e.Number).ToHashSet();
        var withoutRow = Regex.Replace(ReadmeText, @"^\| 51108 \|.*\n", string.Empty, RegexOptions.Multiline);
        var withUnknown = ReadmeText + "\nThe procedure may also throw 51777.\n";

        Assert.Equal(new[] { 51108 }, MissingErrorRows(withoutRow, ErrorRegistry.All));
        Assert.Equal(new[] { 51777 }, UnregisteredNumbers(withUnknown, registered));
        Assert.Empty(UnregisteredNumbers("blocks 51000–51099 and 51500-51599", registered));
    }

    [Fact]
    public void A_ci_test_command_that_differs_from_the_README_is_noticed()
    {
        const string ci = "echo \"running: dotnet test --report-xunit-xml\"\n" +
                          "dotnet test --filter-class Foo --report-xunit-xml --results-directory \"$results\" 2>&1 | tee log\n";

        Assert.Equal("dotnet test --filter-class Foo", CiTestCommand(ci));
        Assert.Equal("dotnet test", CiTestCommand("  dotnet test --results-directory x --report-xunit-xml | tee y\n"));
        Assert.Equal("dotnet test", CiTestCommand("dotnet test --max-parallel-test-modules 1 --report-xunit-xml --results-directory x\n"));
    }

    // ---- helpers (pure, so the planted tests above exercise exactly what the real tests use) -------------

    internal static CliContext QuietContext() => new(TextWriter.Null, TextWriter.Null, false, environment: _ => null);

    internal static RootCommand BuildRoot() => DbMergeCli.Build(QuietContext());

    /// <summary>Every command below the root with its path ("users merge"), depth first in --help order.</summary>
    internal static List<(string Path, Command Command)> CommandTree()
    {
        var list = new List<(string, Command)>();
        void Walk(Command command, string prefix)
        {
            foreach (var sub in command.Subcommands)
            {
                var path = prefix.Length == 0 ? sub.Name : prefix + " " + sub.Name;
                list.Add((path, sub));
                Walk(sub, path);
            }
        }

        Walk(BuildRoot(), string.Empty);
        return list;
    }

    [GeneratedRegex(@"^#{2,6} `dbmerge ([a-z][a-z -]*?)`\s*$", RegexOptions.Multiline)]
    private static partial Regex VerbHeadingPattern();

    internal static List<string> VerbHeadings(string readme) =>
        VerbHeadingPattern().Matches(readme).Select(m => m.Groups[1].Value).ToList();

    internal static List<string> MissingVerbHeadings(string readme, IEnumerable<string> paths)
    {
        var headings = VerbHeadings(readme).ToHashSet(StringComparer.Ordinal);
        return paths.Where(p => !headings.Contains(p)).ToList();
    }

    /// <summary>The text under the heading of <paramref name="path"/> up to the next heading (outside code fences); null when there is no heading.</summary>
    internal static string? VerbSection(string readme, string path)
    {
        var lines = readme.Split('\n');
        var heading = Array.FindIndex(lines, l => VerbHeadingPattern().Match(l.TrimEnd('\r')) is { Success: true } m && m.Groups[1].Value == path);
        if (heading < 0)
        {
            return null;
        }

        var section = new StringBuilder();
        var inFence = false;
        for (var i = heading + 1; i < lines.Length; i++)
        {
            inFence ^= lines[i].StartsWith("```", StringComparison.Ordinal);
            if (!inFence && lines[i].StartsWith('#'))
            {
                break;
            }

            section.Append(lines[i]).Append('\n');
        }

        return section.ToString();
    }

    /// <summary>Option names (<c>--connection</c>) and arguments (<c>&lt;RUN_ID&gt;</c>) of a command that a section does not mention.</summary>
    internal static List<string> MissingOptionNames(string section, Command command)
    {
        var names = command.Options
            // -v/--verbose is every verb's: README documents it once, in the conventions of "## Verbs".
            .Where(o => o is not HelpOption and not VersionOption && o.Name != CommonOptions.VerboseName)
            .Select(o => o.Name)
            .Concat(command.Arguments.Select(a => $"<{a.Name}>"));
        return names.Where(n => !Regex.IsMatch(section, $@"(?<![\w-]){Regex.Escape(n)}(?![\w-])")).ToList();
    }

    /// <summary>Lines of ```bash blocks that start with <c>dbmerge </c>.</summary>
    internal static List<string> DbmergeExamples(string readme)
    {
        var examples = new List<string>();
        var inBash = false;
        foreach (var raw in readme.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBash = !inBash && line.Trim() == "```bash";
                continue;
            }

            if (inBash && line.StartsWith("dbmerge ", StringComparison.Ordinal))
            {
                examples.Add(line);
            }
        }

        return examples;
    }

    internal static List<(string Name, int Value)> ExitCodeConstants() =>
        typeof(ExitCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.FieldType == typeof(int))
            .Select(f => (f.Name, (int)f.GetRawConstantValue()!))
            .ToList();

    [GeneratedRegex(@"^\| (\d+) \| `(\w+)` \|", RegexOptions.Multiline)]
    private static partial Regex ExitCodeRowPattern();

    internal static List<(string Name, int Value)> ExitCodeRows(string readme) =>
        ExitCodeRowPattern().Matches(Section(readme, "## Exit codes"))
            .Select(m => (m.Groups[2].Value, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)))
            .ToList();

    internal static List<string> MissingExitCodes(string readme, IEnumerable<(string Name, int Value)> codes)
    {
        var rows = ExitCodeRows(readme).ToHashSet();
        return codes.Where(c => !rows.Contains(c)).Select(c => $"{c.Name} = {c.Value}").ToList();
    }

    internal static List<int> MissingErrorRows(string readme, IEnumerable<DbMergeError> errors) =>
        errors.Where(e => !Regex.IsMatch(readme,
                $@"^\| {e.Number} \| {Regex.Escape(e.Name)} \| {e.Kind} \|", RegexOptions.Multiline))
            .Select(e => e.Number)
            .ToList();

    [GeneratedRegex(@"(?<!\d)51\d{3}\s*[–-]\s*51\d{3}(?!\d)")]
    private static partial Regex NumberRangePattern();

    [GeneratedRegex(@"(?<!\d)51\d{3}(?!\d)")]
    private static partial Regex DbMergeNumberPattern();

    /// <summary>51000–51999 numbers in the text that the registry lacks; range endpoints ("51000–51099") are block boundaries, not errors.</summary>
    internal static List<int> UnregisteredNumbers(string readme, IReadOnlySet<int> registered)
    {
        var withoutRanges = NumberRangePattern().Replace(readme, " ");
        return DbMergeNumberPattern().Matches(withoutRanges)
            .Select(m => int.Parse(m.Value, CultureInfo.InvariantCulture))
            .Where(n => !registered.Contains(n))
            .Distinct()
            .ToList();
    }

    private static bool ContainsNumber(string text, int number) =>
        Regex.IsMatch(text, $@"(?<!\d){number}(?!\d)");

    /// <summary>From a line equal to <paramref name="heading"/> up to the next heading of the same or a higher level (outside code fences).</summary>
    internal static string Section(string readme, string heading)
    {
        var level = heading.TakeWhile(c => c == '#').Count();
        var lines = readme.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.IndexOf(heading);
        Assert.True(start >= 0, $"README.md has no heading '{heading}'");
        var section = new StringBuilder();
        var inFence = false;
        for (var i = start + 1; i < lines.Count; i++)
        {
            inFence ^= lines[i].StartsWith("```", StringComparison.Ordinal);
            var hashes = inFence ? 0 : lines[i].TakeWhile(c => c == '#').Count();
            if (hashes > 0 && hashes <= level && lines[i].Length > hashes && lines[i][hashes] == ' ')
            {
                break;
            }

            section.Append(lines[i]).Append('\n');
        }

        return section.ToString();
    }

    /// <summary>The two commands: the first two command lines of the first code block under "## The two commands".</summary>
    internal static (string Test, string MainJob) TwoCommands(string readme)
    {
        var section = Section(readme, "## The two commands");
        var block = Regex.Match(section, "```bash\n(.*?)```", RegexOptions.Singleline);
        Assert.True(block.Success, "'## The two commands' has no ```bash block");
        var commands = block.Groups[1].Value.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
        Assert.Equal(2, commands.Count);
        return (commands[0], commands[1]);
    }

    /// <summary>
    /// The dotnet test invocation of .ci/run (a line starting with <c>dotnet test</c>, up to a redirection or pipe),
    /// without the options that only collect reports (<c>--report-xunit-xml</c>, <c>--results-directory DIR</c>) or keep
    /// their file names apart (<c>--max-parallel-test-modules N</c>).
    /// </summary>
    internal static string CiTestCommand(string ci)
    {
        var lines = ci.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("dotnet test", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $".ci/run should invoke dotnet test exactly once (found {lines.Count})");
        var words = ShellWords(lines[0]);
        var end = words.FindIndex(w => w is "|" or "2>&1" or ">" or "&&" or ";" || w.StartsWith('>'));
        if (end >= 0)
        {
            words = words.Take(end).ToList();
        }

        var kept = new List<string>();
        for (var i = 0; i < words.Count; i++)
        {
            if (words[i] == "--report-xunit-xml")
            {
                continue;
            }

            if (words[i] is "--results-directory" or "--max-parallel-test-modules")
            {
                i++;
                continue;
            }

            kept.Add(words[i]);
        }

        return string.Join(' ', kept);
    }

    /// <summary>Splits a shell line into words (single and double quotes grouped and removed; a '#' word starts a comment).</summary>
    internal static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is { } q)
            {
                if (c == q)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else if (c == '#' && !inWord)
            {
                break;
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }
}
