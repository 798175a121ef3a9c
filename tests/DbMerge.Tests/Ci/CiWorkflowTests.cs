using DbMerge.Deployment;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace DbMerge.Tests.Ci;

/// <summary>
/// The hosted CI workflow (.github/workflows/ci.yml) is what makes the integration tests real wherever the repository is
/// pushed (issue 15): parsed as YAML here, it must start the pinned SQL Server image as a service container, run the
/// README's tests through .ci/run with DBMERGE_TEST_SQLSERVER set and skips turned into failures, validate the release,
/// and run the deploy script twice with sqlcmd -b. Each check is proven by a planted violation.
/// </summary>
public sealed class CiWorkflowTests
{
    private static readonly string WorkflowPath = Path.Combine(Repo.Layout.Root, ".github", "workflows", "ci.yml");

    private static string Workflow => File.ReadAllText(WorkflowPath);

    [Fact]
    public void The_repository_workflow_runs_every_test_against_the_pinned_server_fails_on_skips_and_deploys_twice()
    {
        var problems = Problems(Workflow);

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void The_summary_script_turns_skips_into_a_failure_when_the_workflow_asks_for_it()
    {
        Assert.Contains("DBMERGE_CI_REQUIRE_SQLSERVER", File.ReadAllText(Path.Combine(Repo.Layout.Root, ".ci", "summarize")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mcr.microsoft.com/mssql/server:2022-CU14-ubuntu-22.04", "mcr.microsoft.com/mssql/server:2022-latest", "pinned image")]
    [InlineData("DBMERGE_CI_REQUIRE_SQLSERVER: \"1\"", "DBMERGE_CI_REQUIRE_SQLSERVER: \"0\"", "DBMERGE_CI_REQUIRE_SQLSERVER")]
    [InlineData("      DBMERGE_TEST_SQLSERVER: ", "      DBMERGE_TEST_SQLSERVER_OFF: ", "DBMERGE_TEST_SQLSERVER")]
    [InlineData("run: .ci/run", "run: dotnet test", ".ci/run")]
    [InlineData("run: dotnet run --project src/DbMerge.Runner -- validate", "run: echo skipped", "validate")]
    [InlineData("applies nothing)\"\n        run: sqlcmd -b", "applies nothing)\"\n        run: echo", "twice")]
    public void A_planted_defect_in_the_workflow_is_reported(string from, string to, string expected)
    {
        Assert.Contains(from, Workflow, StringComparison.Ordinal);
        var planted = Workflow.Replace(from, to, StringComparison.Ordinal);

        var problems = Problems(planted);

        Assert.Contains(problems, p => p.Contains(expected, StringComparison.Ordinal));
    }

    /// <summary>What is wrong with a workflow text, as sentences (empty: it does its job).</summary>
    internal static IReadOnlyList<string> Problems(string yaml)
    {
        var problems = new List<string>();
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var jobs = Mapping(root, "jobs")?.Children.Values.OfType<YamlMappingNode>().ToList() ?? [];
        var job = jobs.SingleOrDefault(j => Mapping(j, "services")?.Children.Values.OfType<YamlMappingNode>()
            .Any(s => Scalar(s, "image") == SqlServerImage.Pinned) == true);
        if (job is null)
        {
            problems.Add($"no job runs the pinned image {SqlServerImage.Pinned} as a service container");
            return problems;
        }

        var service = Mapping(job, "services")!.Children.Values.OfType<YamlMappingNode>().First(s => Scalar(s, "image") == SqlServerImage.Pinned);
        if (Env(service).GetValueOrDefault("ACCEPT_EULA") != "Y" || !(Scalar(service, "options") ?? string.Empty).Contains("--health-cmd", StringComparison.Ordinal))
        {
            problems.Add("the SQL Server service must accept the EULA and have a --health-cmd, or the tests start before it accepts logins");
        }

        var steps = Steps(job);
        var tests = steps.Where(s => s.Run?.Trim() == ".ci/run").ToList();
        if (tests.Count != 1)
        {
            problems.Add($"expected exactly one step running .ci/run (the README's test command), found {tests.Count}");
        }
        else
        {
            if (!tests[0].Env.TryGetValue("DBMERGE_TEST_SQLSERVER", out var server) || !server.Contains("Server=", StringComparison.Ordinal))
            {
                problems.Add("the .ci/run step does not set DBMERGE_TEST_SQLSERVER to a connection string");
            }

            if (tests[0].Env.GetValueOrDefault("DBMERGE_CI_REQUIRE_SQLSERVER") != "1")
            {
                problems.Add("the .ci/run step does not set DBMERGE_CI_REQUIRE_SQLSERVER=1: a skipped integration test would pass the job");
            }
        }

        var runs = steps.Select(s => s.Run ?? string.Empty).ToList();
        if (!runs.Any(r => r.Contains("-- validate", StringComparison.Ordinal)))
        {
            problems.Add("no step runs dbmerge validate");
        }

        var script = runs.FindIndex(r => r.Contains("-- script --output ", StringComparison.Ordinal));
        if (script < 0)
        {
            problems.Add("no step writes the deploy script (dbmerge script --output FILE)");
            return problems;
        }

        var file = runs[script].Split("--output ", 2)[1].Split(' ', 2)[0].Trim();
        var deploys = runs.Select((r, i) => (Run: r.Trim(), Index: i))
            .Count(x => x.Index > script && x.Run.StartsWith("sqlcmd ", StringComparison.Ordinal) &&
                        x.Run.Contains(" -b ", StringComparison.Ordinal) && x.Run.Contains($"-i {file}", StringComparison.Ordinal));
        if (deploys != 2)
        {
            problems.Add($"the deploy script {file} must run twice with sqlcmd -b after it is written; found {deploys} run(s)");
        }

        return problems;
    }

    private sealed record Step(string? Run, IReadOnlyDictionary<string, string> Env);

    /// <summary>The job's steps, each with its effective environment (job env overridden by step env).</summary>
    private static List<Step> Steps(YamlMappingNode job)
    {
        var jobEnv = Env(job);
        var sequence = job.Children.TryGetValue(new YamlScalarNode("steps"), out var node) ? node as YamlSequenceNode : null;
        return (sequence?.Children ?? []).OfType<YamlMappingNode>()
            .Select(step =>
            {
                var env = new Dictionary<string, string>(jobEnv, StringComparer.Ordinal);
                foreach (var (key, value) in Env(step))
                {
                    env[key] = value;
                }

                return new Step(Scalar(step, "run"), env);
            })
            .ToList();
    }

    private static YamlMappingNode? Mapping(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value as YamlMappingNode : null;

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? (value as YamlScalarNode)?.Value : null;

    private static Dictionary<string, string> Env(YamlMappingNode node) =>
        Mapping(node, "env")?.Children.ToDictionary(kv => ((YamlScalarNode)kv.Key).Value!, kv => (kv.Value as YamlScalarNode)?.Value ?? string.Empty, StringComparer.Ordinal)
        ?? new Dictionary<string, string>(StringComparer.Ordinal);
}
