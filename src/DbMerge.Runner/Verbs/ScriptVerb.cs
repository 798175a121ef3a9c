using System.CommandLine;
using System.Text;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Schema;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge script --output FILE [--connection …] [--repo DIR]</c>: writes the DBA deploy script (run it
/// with <c>sqlcmd -b -i FILE</c>). Offline by default: every migration, each guarded by the journal. With
/// <c>--connection</c>, the target's journal is read and applied migrations are left out (their checksums
/// are still verified when the script runs). DBMERGE_CONNECTION is deliberately not used here, so a
/// forgotten environment variable never produces a partial script.
/// </summary>
internal static class ScriptVerb
{
    public static Command Build(CliContext context)
    {
        var output = new Option<FileInfo>("--output", "-o")
        {
            Description = "Where to write the deploy script (pure ASCII).",
            Required = true,
        };
        var connection = new Option<string?>("--connection", "-c")
        {
            Description = "Optional: a target database; migrations already in its journal are left out. Never echoed. (DBMERGE_CONNECTION is not used by this verb.)",
        };
        var repo = DeploymentVerbSupport.Repo();
        var json = CommonOptions.Json();
        var command = new Command("script", "Write the DBA deploy script: one idempotent sqlcmd script (sqlcmd -b -i FILE) sharing the runner's journal and deploy lock.")
        {
            output, connection, repo, json,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var layout = DeploymentVerbSupport.ResolveLayout(context, parse.GetValue(repo));
            var file = parse.GetValue(output)!;
            IReadOnlyCollection<string>? applied = null;
            string? target = null;
            var connectionString = parse.GetValue(connection);
            if (!string.IsNullOrWhiteSpace(connectionString))
            {
                connectionString = CommonOptions.ResolveConnection(context, connectionString);
                target = CommonOptions.DescribeTarget(connectionString);
                var journal = await DeploymentJournal.ReadAsync(connectionString, cancellationToken);
                var mismatches = DeploymentJournal.FindMismatches(journal, MigrationChecksums.ComputeAll(layout));
                if (mismatches.Count > 0)
                {
                    throw new CliException(ExitCodes.DeploymentRefused, new DeploymentRefusedException(mismatches).Message);
                }

                applied = journal.Select(j => j.ScriptName).ToHashSet(StringComparer.Ordinal);
            }

            var script = DeployScriptGenerator.Generate(layout, applied);
            var included = layout.Migrations().Select(m => m.Name).Where(n => applied is null || !applied.Contains(n)).ToList();
            var databaseObjects = layout.DatabaseObjects().Count;
            Directory.CreateDirectory(Path.GetDirectoryName(file.FullName)!);
            await File.WriteAllTextAsync(file.FullName, script, new UTF8Encoding(false), cancellationToken);

            if (parse.GetValue(json))
            {
                context.WriteJson(new { output = file.FullName, target, migrations = included, databaseObjects });
            }
            else
            {
                context.Out.WriteLine(target is null
                    ? $"Wrote {file.FullName}: {included.Count} migration(s), each applied only where the journal lacks it, then {databaseObjects} database object script(s)."
                    : $"Wrote {file.FullName} for {target}: {included.Count} pending migration(s), then {databaseObjects} database object script(s).");
                context.Out.WriteLine($"Run it with: sqlcmd -b -S <server> -d <database> -i {file.FullName}");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>Options and helpers shared by the script, migrate and status verbs.</summary>
internal static class DeploymentVerbSupport
{
    public static Option<string?> Repo() => new("--repo")
    {
        Description = "The DbMerge repository (the folder holding migrations/ and database/). Default: found by walking up from the current directory.",
    };

    public static RepositoryLayout ResolveLayout(CliContext context, string? repo) => CliRepository.Resolve(context, repo);
}
