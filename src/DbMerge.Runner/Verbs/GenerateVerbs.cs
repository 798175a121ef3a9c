using System.CommandLine;
using DbMerge.Runner.Cli;
using DbMerge.Schema.Merge;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge generate merge [--check] [--repo DIR] [--json]</c>: writes the user merge's generated procedures
/// (dbmerge.User_MergeCore and the late-reference procedures) from the merge policies and the replayed model. Offline.
/// Exit 0 when written or up to date; with --check, 1 when a committed file differs (nothing is written); 1 when a
/// policy has no buildable handler (DBM041 findings).
/// </summary>
internal static class GenerateVerbs
{
    public static Command Build(CliContext context)
    {
        var generate = new Command("generate", "Generate code from the repository's own data (offline).");
        generate.Subcommands.Add(BuildMerge(context));
        return generate;
    }

    private static Command BuildMerge(CliContext context)
    {
        var check = new Option<bool>("--check")
        {
            Description = "Write nothing; exit 1 when a committed generated file differs from what the generator writes (CI).",
        };
        var repo = ValidateVerb.RepoOption();
        var json = CommonOptions.Json();
        var command = new Command("merge",
            "Generate the user merge (database/dbmerge/Procedures/dbmerge.User_MergeCore.sql and the late-reference procedures) " +
            "from the dbmerge.MergePolicy rows of migrations/ and the replayed model's tables. Offline; run it after a migration " +
            "adds a table that references app.User and its policy row, then run 'dbmerge validate'.")
        {
            check, repo, json,
        };

        Verb.SetAction(command, context, (parse, _) =>
        {
            var layout = ValidateVerb.ResolveRepository(context, parse.GetValue(repo));
            var generation = MergeGenerator.Generate(layout);
            var errors = generation.Findings.Where(f => f.Severity == Schema.FindingSeverity.Error).ToList();
            var stale = generation.HasErrors ? [] : MergeGenerator.Stale(layout, generation);
            var isCheck = parse.GetValue(check);
            IReadOnlyList<string> written = [];
            if (!generation.HasErrors && !isCheck)
            {
                written = MergeGenerator.Write(layout, generation);
            }

            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    files = generation.Files.Select(f => f.RelativePath),
                    stale = stale.Select(s => new { path = s.Path, reason = s.Reason }),
                    written,
                    findings = errors.Select(f => f.ToString()),
                    policies = generation.Plan.Policies.Count,
                });
            }
            else
            {
                foreach (var finding in errors)
                {
                    context.Out.WriteLine(finding.ToString());
                }

                if (isCheck)
                {
                    foreach (var (path, reason) in stale)
                    {
                        context.Out.WriteLine($"{path}: stale ({reason}): run 'dbmerge generate merge'.");
                    }
                }
                else
                {
                    foreach (var path in written)
                    {
                        context.Out.WriteLine($"wrote {path}");
                    }
                }

                context.Out.WriteLine(generation.HasErrors
                    ? $"generate merge: {errors.Count} error(s); nothing was written."
                    : $"generate merge: {generation.Plan.Policies.Count} policies, {generation.Files.Count} files, " +
                      (isCheck ? $"{stale.Count} stale." : $"{written.Count} written, {generation.Files.Count - written.Count} up to date."));
            }

            return Task.FromResult(generation.HasErrors || (isCheck && stale.Count > 0) ? ExitCodes.Findings : ExitCodes.Success);
        });

        return command;
    }
}
