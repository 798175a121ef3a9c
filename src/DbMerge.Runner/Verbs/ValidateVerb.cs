using System.CommandLine;
using DbMerge.Client.Errors;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge validate [--json] [--repo DIR]</c>: offline verification of the repository (no SQL Server):
/// parse, replay migrations into a DacFx model, validate, code analysis, house rules, error-number sync.
/// Exit 0 when clean, <see cref="ExitCodes.Findings"/> when any error finding.
/// </summary>
internal static class ValidateVerb
{
    public static Command Build(CliContext context)
    {
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var repo = RepoOption();
        var command = new Command("validate",
            "Offline verification (no SQL Server): parse every script, replay migrations/ into a SQL Server 2019 model, " +
            "add database/, require DacFx validation to be clean, run code analysis, the house rules, the model rules and the " +
            "deploy-script checks; a file that does not parse is a finding and everything else is still checked. " +
            "Prints 'file:line: severity rule: message'; exit 1 on any error.")
        {
            json,
            verbose,
            repo,
        };
        Verb.SetAction(command, context, (parseResult, _) =>
        {
            var layout = ResolveRepository(context, parseResult.GetValue(repo));
            Action<string>? timings = parseResult.GetValue(verbose) ? line => context.Error.WriteLine($"validate: {line}") : null;

            // The generator's problems (a line sqlcmd would execute, a temp table used across batches, …) are findings
            // like any other; the script it could still write is checked for its error numbers (DBM030).
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var script = DeployScriptGenerator.Build(layout);
            timings?.Invoke($"deploy script: generated and checked in {watch.ElapsedMilliseconds} ms");
            using var result = SchemaVerifier.Verify(layout, new VerificationOptions
            {
                RegistryNumbers = ErrorRegistry.All.Select(e => e.Number).ToList(),
                ReadmeText = ReadReadme(layout),
                GeneratedScripts = [("(generated) dbmerge script", script.TransactSql)],
                ExtraFindings = script.Problems,
                Timings = timings,
            });
            if (parseResult.GetValue(json))
            {
                context.WriteJson(new
                {
                    findings = result.Findings.Select(f => new
                    {
                        file = f.File,
                        line = f.Line,
                        severity = f.Severity,
                        rule = f.Rule,
                        message = f.Message,
                    }),
                    errors = result.ErrorCount,
                    warnings = result.WarningCount,
                });
            }
            else
            {
                foreach (var finding in result.Findings)
                {
                    context.Out.WriteLine(finding.ToString());
                }

                var migrations = result.Scripts.Count(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal));
                var scenarios = result.Scripts.Count(s => ScenarioScripts.IsScenarioPath(s.File.RelativePath));
                context.Out.WriteLine(
                    $"validate: {migrations} migrations, {result.Scripts.Count - migrations - scenarios} database scripts, {scenarios} scenarios: " +
                    $"{result.ErrorCount} error(s), {result.WarningCount} warning(s).");
            }

            return Task.FromResult(result.HasErrors ? ExitCodes.Findings : ExitCodes.Success);
        });
        return command;
    }

    /// <summary><c>--repo DIR</c>: the repository root (the folder holding DbMerge.sln and migrations/).</summary>
    internal static Option<string?> RepoOption() => new("--repo")
    {
        Description = "Repository root (the folder holding DbMerge.sln and migrations/). Default: found by walking up from the current directory.",
    };

    internal static RepositoryLayout ResolveRepository(CliContext context, string? repo) => CliRepository.Resolve(context, repo);

    /// <summary>README.md of the repository, or empty when it has none.</summary>
    internal static string ReadReadme(RepositoryLayout layout)
    {
        var path = Path.Combine(layout.Root, "README.md");
        return File.Exists(path) ? File.ReadAllText(path) : string.Empty;
    }
}
