using System.CommandLine;
using System.Text;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge script --output FILE|- [--connection …] [--repo DIR] [--json]</c>: writes the DBA deploy script (run it in
/// SQLCMD mode: <c>sqlcmd -i FILE</c>, or SSMS / Azure Data Studio with SQLCMD Mode on). Offline by default: every
/// migration, each guarded by the journal. With <c>--connection</c>, the target's journal is read and applied
/// migrations are left out (their checksums are still verified when the script runs). DBMERGE_CONNECTION is
/// deliberately not used here, so a forgotten environment variable never produces a partial script. A repository
/// the generator cannot carry (a file that does not parse, a line sqlcmd would execute, …) is exit 1 with the
/// findings, nothing written.
/// </summary>
internal static class ScriptVerb
{
    /// <summary>The <c>--output</c> value that means standard output.</summary>
    internal const string StandardOutput = "-";

    public static Command Build(CliContext context)
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write the deploy script (pure ASCII); '-' writes it to standard output (the summary then goes to stderr).",
            Required = true,
        };
        var connection = new Option<string?>("--connection", "-c")
        {
            Description = "Optional: a target database; migrations already in its journal are left out. Never echoed. (DBMERGE_CONNECTION is not used by this verb.)",
        };
        var repo = DeploymentVerbSupport.Repo();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var command = new Command("script",
            "Write the DBA deploy script: one idempotent script for sqlcmd or SSMS / Azure Data Studio in SQLCMD mode, sharing the runner's journal and deploy lock, " +
            "that stops (and changes nothing more) at the first failed check or step even without sqlcmd -b.")
        {
            output, connection, repo, json, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var layout = DeploymentVerbSupport.ResolveLayout(context, parse.GetValue(repo));
            var destination = parse.GetValue(output)!;
            var toStandardOutput = destination == StandardOutput;
            var asJson = parse.GetValue(json);
            if (toStandardOutput && asJson)
            {
                throw new CliException(ExitCodes.Usage, "script: --json and --output - both write to standard output; write the script to a file to get JSON.");
            }

            var watch = System.Diagnostics.Stopwatch.StartNew();
            void Timing(string what)
            {
                if (parse.GetValue(verbose))
                {
                    context.Error.WriteLine($"script: {what} in {watch.ElapsedMilliseconds} ms");
                }

                watch.Restart();
            }

            IReadOnlyCollection<string>? applied = null;
            string? target = null;
            var connectionString = parse.GetValue(connection);
            if (!string.IsNullOrWhiteSpace(connectionString))
            {
                connectionString = CommonOptions.ResolveConnection(context, connectionString);
                target = CommonOptions.DescribeTarget(connectionString);
                IReadOnlyList<JournalEntry> journal;
                await using (var targetConnection = new SqlConnection(connectionString))
                {
                    await targetConnection.OpenAsync(cancellationToken);
                    try
                    {
                        await DeploymentLock.RefuseSystemDatabaseAsync(targetConnection, cancellationToken);
                    }
                    catch (SystemDatabaseException ex)
                    {
                        throw new CliException(ExitCodes.DeploymentRefused, ex.Message.Replace("deployment refused, nothing was applied: ", "script: ", StringComparison.Ordinal));
                    }

                    journal = await DeploymentJournal.ReadAsync(targetConnection, cancellationToken);
                }

                var checksums = MigrationChecksums.ComputeAll(layout);
                var newer = DeploymentJournal.FindUnknown(journal, checksums);
                if (newer.Count > 0)
                {
                    throw new CliException(ExitCodes.DeploymentRefused, new DatabaseNewerException(newer).Message);
                }

                var mismatches = DeploymentJournal.FindMismatches(journal, checksums);
                if (mismatches.Count > 0)
                {
                    throw new CliException(ExitCodes.DeploymentRefused, new DeploymentRefusedException(mismatches).Message);
                }

                applied = journal.Select(j => j.ScriptName).ToHashSet(StringComparer.Ordinal);
                Timing($"read the journal of {target} ({journal.Count} row(s))");
            }

            var script = DeployScriptGenerator.Build(layout, applied);
            Timing($"generated and checked the script ({script.Migrations.Count} migration(s), {script.DatabaseObjectCount} database object script(s))");
            if (!script.IsValid)
            {
                foreach (var problem in script.Problems)
                {
                    context.Error.WriteLine(problem.ToString());
                }

                context.Error.WriteLine($"dbmerge: script: {script.Problems.Count} problem(s) stand in the way of a deploy script; nothing was written (see above, or run 'dbmerge validate').");
                return ExitCodes.Findings;
            }

            string? written = null;
            if (toStandardOutput)
            {
                await context.Out.WriteAsync(script.Text.AsMemory(), cancellationToken);
                await context.Out.FlushAsync(cancellationToken);
            }
            else
            {
                written = Path.GetFullPath(destination);
                Directory.CreateDirectory(Path.GetDirectoryName(written)!);
                await File.WriteAllTextAsync(written, script.Text, new UTF8Encoding(false), cancellationToken);
            }

            if (asJson)
            {
                context.WriteJson(new { output = written, target, migrations = script.Migrations, databaseObjects = script.DatabaseObjectCount });
                return ExitCodes.Success;
            }

            var summary = toStandardOutput ? context.Error : context.Out;
            var what = written ?? "the deploy script to standard output";
            summary.WriteLine(target is null
                ? $"Wrote {what}: {script.Migrations.Count} migration(s), each applied only where the journal lacks it, then {script.DatabaseObjectCount} database object script(s)."
                : $"Wrote {what} for {target}: {script.Migrations.Count} pending migration(s), then {script.DatabaseObjectCount} database object script(s).");
            summary.WriteLine($"Run it in SQLCMD mode, in the target database: sqlcmd -S <server> -d <database> -i {written ?? "<file>"} (or SSMS / Azure Data Studio with SQLCMD Mode on).");
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
