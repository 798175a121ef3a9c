using System.CommandLine;
using DbMerge.Runner.Cli;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge schema (--dacpac FILE | --script FILE) [--repo DIR]</c>: writes the offline model as a dacpac or as a
/// full CREATE script (for review, diffing and schema-compare tools). Exit 1 with the findings when the model is invalid.
/// </summary>
internal static class SchemaVerb
{
    public static Command Build(CliContext context)
    {
        var dacpac = new Option<string?>("--dacpac") { Description = "Write the model as a dacpac to FILE." };
        var script = new Option<string?>("--script") { Description = "Write a CREATE script of the whole model to FILE." };
        var database = new Option<string>("--database")
        {
            Description = "Database name used in the --script output.",
            DefaultValueFactory = _ => "DbMerge",
        };
        var repo = ValidateVerb.RepoOption();
        var json = CommonOptions.Json();
        var command = new Command("schema",
            "Build the offline model (migrations/ replayed + database/) and write it as a dacpac (--dacpac) or a CREATE script (--script). Exactly one of the two.")
        {
            dacpac,
            script,
            database,
            repo,
            json,
        };
        Verb.SetAction(command, context, (parseResult, _) =>
        {
            var dacpacPath = parseResult.GetValue(dacpac);
            var scriptPath = parseResult.GetValue(script);
            if (string.IsNullOrWhiteSpace(dacpacPath) == string.IsNullOrWhiteSpace(scriptPath))
            {
                throw new CliException(ExitCodes.Usage, "schema: pass exactly one of --dacpac FILE or --script FILE.");
            }

            var layout = ValidateVerb.ResolveRepository(context, parseResult.GetValue(repo));
            try
            {
                string kind, written;
                if (!string.IsNullOrWhiteSpace(dacpacPath))
                {
                    (kind, written) = ("dacpac", Path.GetFullPath(dacpacPath));
                    SchemaArtifacts.WriteDacpac(layout, written);
                }
                else
                {
                    (kind, written) = ("script", Path.GetFullPath(scriptPath!));
                    var text = SchemaArtifacts.GenerateCreateScript(layout, parseResult.GetValue(database)!);
                    File.WriteAllText(written, text);
                }

                if (parseResult.GetValue(json))
                {
                    context.WriteJson(new { output = written, kind, findings = Array.Empty<object>() });
                }
                else
                {
                    context.Out.WriteLine($"schema: wrote {kind} {written}");
                }
            }
            catch (SchemaInvalidException ex)
            {
                if (parseResult.GetValue(json))
                {
                    context.WriteJson(new
                    {
                        output = (string?)null,
                        kind = (string?)null,
                        findings = ex.Findings.Select(f => new { file = f.File, line = f.Line, severity = f.Severity, rule = f.Rule, message = f.Message }),
                    });
                }

                // Nothing was written: the findings are the diagnostics of a failed run.
                foreach (var finding in ex.Findings)
                {
                    context.Error.WriteLine(finding.ToString());
                }

                context.Error.WriteLine("dbmerge: schema: the model is invalid; nothing was written (run 'dbmerge validate').");
                return Task.FromResult(ExitCodes.Findings);
            }

            return Task.FromResult(ExitCodes.Success);
        });
        return command;
    }
}
