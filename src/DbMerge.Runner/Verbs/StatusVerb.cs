using System.CommandLine;
using DbMerge.Client;
using DbMerge.Deployment;
using Microsoft.Data.SqlClient;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge status [--connection …] [--repo DIR] [--json] [--strict]</c>: pending migrations, applied
/// migrations whose file changed, and untrusted constraints (read-only). Exit codes: 0 up to date (untrusted
/// constraints are listed but are expected between a NOCHECK migration and <c>dbmerge constraints validate</c>);
/// 1 migrations pending, or the journal holds migrations this repository lacks, or (with --strict) a constraint is
/// untrusted; 5 an applied migration changed; 3 no server.
/// </summary>
internal static class StatusVerb
{
    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var repo = DeploymentVerbSupport.Repo();
        var json = CommonOptions.Json();
        var strict = new Option<bool>("--strict")
        {
            Description = "Also exit 1 when a CHECK or FOREIGN KEY constraint is untrusted (not yet validated) or disabled.",
        };
        var command = new Command("status", "Show pending migrations, checksum mismatches, untrusted constraints and late references to merged-away users of the target database.")
        {
            connection, repo, json, strict,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var layout = DeploymentVerbSupport.ResolveLayout(parse.GetValue(repo));
            var status = await new Migrator(new MigratorOptions { Layout = layout }).GetStatusAsync(connectionString, cancellationToken);
            var target = CommonOptions.DescribeTarget(connectionString);
            var exitCode = ExitCodeFor(status, parse.GetValue(strict));
            var late = await LateReferencesAsync(connectionString, cancellationToken);

            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    target,
                    upToDate = status.IsUpToDate,
                    exitCode,
                    applied = status.Applied,
                    pending = status.Pending,
                    checksumMismatches = status.ChecksumMismatches,
                    appliedNotInRepository = status.AppliedNotInRepository,
                    untrustedConstraints = status.UntrustedConstraints,
                    lateReferences = late?.Where(l => l.ReferencingRows > 0),
                });
                return exitCode;
            }

            var output = context.Out;
            output.WriteLine($"{target}: {status.Applied.Count} migration(s) applied, {status.Pending.Count} pending.");
            foreach (var name in status.Pending)
            {
                output.WriteLine($"  pending   {name}");
            }

            foreach (var mismatch in status.ChecksumMismatches)
            {
                output.WriteLine($"  CHANGED   {mismatch.ScriptName}: applied with {mismatch.RecordedChecksum}, file is now {mismatch.FileChecksum}");
            }

            foreach (var name in status.AppliedNotInRepository)
            {
                output.WriteLine($"  unknown   {name}: in the journal but not in this repository's migrations/");
            }

            output.WriteLine(status.UntrustedConstraints.Count == 0
                ? "Every CHECK and FOREIGN KEY constraint is trusted."
                : $"{status.UntrustedConstraints.Count} untrusted constraint(s) (existing rows not verified; validate with 'dbmerge constraints validate'):");
            foreach (var c in status.UntrustedConstraints)
            {
                output.WriteLine($"  untrusted {c.Type,-11} {c.Schema}.{c.Table}.{c.Constraint}{(c.IsDisabled ? " (DISABLED: new writes are not checked either)" : string.Empty)}");
            }

            if (late is null)
            {
                output.WriteLine("Late references: unknown (api.User_LateReferences is not deployed here: run 'dbmerge migrate').");
            }
            else
            {
                var rows = late.Where(l => l.ReferencingRows > 0).ToList();
                output.WriteLine(rows.Count == 0
                    ? "No late references: nothing written after a merge still references a merged-away user."
                    : $"{rows.Sum(l => l.ReferencingRows)} late reference(s) to merged-away users (re-point them with 'dbmerge users sweep'):");
                foreach (var l in rows)
                {
                    output.WriteLine($"  late      {l.SchemaName}.{l.TableName}.{l.ColumnName} ({l.Policy}): {l.ReferencingRows} row(s) of {l.MergedAwayUsers} user(s)");
                }
            }

            if (status.ChecksumMismatches.Count > 0)
            {
                context.Error.WriteLine($"dbmerge: applied migration(s) changed: {string.Join(", ", status.ChecksumMismatches.Select(m => m.ScriptName))}. {MigrationChecksums.AppendOnlyAdvice}");
            }

            return exitCode;
        });
        return command;
    }

    /// <summary>Late references per policy (api.User_LateReferences); null when the database does not have the procedure yet (2812).</summary>
    private static async Task<IReadOnlyList<LateReferenceCount>?> LateReferencesAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            return await new DbMergeClient(new DbMergeClientOptions { ConnectionString = connectionString }).GetLateReferencesAsync(cancellationToken);
        }
        catch (SqlException ex) when (ex.Number == 2812)
        {
            return null;
        }
    }

    internal static int ExitCodeFor(DeploymentStatus status, bool strict) =>
        status.ChecksumMismatches.Count > 0 ? ExitCodes.DeploymentRefused
        : status.Pending.Count > 0 || status.AppliedNotInRepository.Count > 0 || (strict && status.UntrustedConstraints.Count > 0) ? ExitCodes.Findings
        : ExitCodes.Success;
}
