using System.CommandLine;
using DbMerge.Client;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge status [--connection …] [--repo DIR] [--json] [--strict]</c>: pending migrations, applied
/// migrations whose file changed, migrations the database has and this repository lacks (the database is newer), and
/// untrusted constraints (read-only). Exit codes: 0 up to date (untrusted constraints are listed but are expected
/// between a NOCHECK migration and <c>dbmerge constraints validate</c>); 1 migrations pending, or (with --strict) a
/// constraint is untrusted; 5 migrate would refuse: an applied migration changed, the database is newer than this
/// repository, or it is a system database; 3 no server. Also lists the settings of dbmerge.Setting (api.Setting_List),
/// or says that they are not available.
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
        var verbose = CommonOptions.Verbose();
        var command = new Command("status",
            "Show pending migrations, checksum mismatches, migrations the database has and this repository lacks (a newer database), untrusted constraints, settings and late references to merged-away users of the target database (read-only).")
        {
            connection, repo, json, strict, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var layout = DeploymentVerbSupport.ResolveLayout(context, parse.GetValue(repo));
            DeploymentStatus status;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                status = await new Migrator(new MigratorOptions { Layout = layout }).GetStatusAsync(connectionString, cancellationToken);
            }
            catch (SystemDatabaseException ex)
            {
                throw new CliException(ExitCodes.DeploymentRefused, ex.Message.Replace("deployment refused, nothing was applied: ", "status: ", StringComparison.Ordinal));
            }

            var target = CommonOptions.DescribeTarget(connectionString);
            if (parse.GetValue(verbose))
            {
                context.Error.WriteLine($"status: read the journal ({status.Applied.Count} row(s)) and the constraints of {target} in {watch.ElapsedMilliseconds} ms");
            }

            var exitCode = ExitCodeFor(status, parse.GetValue(strict));
            var settings = await ReadSettingsAsync(connectionString, cancellationToken);
            var late = await LateReferencesAsync(connectionString, cancellationToken);

            if (parse.GetValue(json))
            {
                context.WriteJson(new
                {
                    target,
                    upToDate = status.IsUpToDate,
                    newerThanRepository = status.IsNewerThanRepository,
                    exitCode,
                    applied = status.Applied,
                    pending = status.Pending,
                    checksumMismatches = status.ChecksumMismatches,
                    appliedNotInRepository = status.AppliedNotInRepository,
                    untrustedConstraints = status.UntrustedConstraints,
                    settings,
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

            if (status.IsNewerThanRepository)
            {
                output.WriteLine(
                    $"The database is newer than this repository: it holds {status.AppliedNotInRepository.Count} migration(s) this release does not have. " +
                    "'dbmerge migrate' and the deploy script refuse to deploy this release over it (a downgrade would re-create every " +
                    "procedure from older code): deploy the release that has them, or a newer one.");
            }

            output.WriteLine(status.UntrustedConstraints.Count == 0
                ? "Every CHECK and FOREIGN KEY constraint is trusted."
                : $"{status.UntrustedConstraints.Count} untrusted constraint(s) (existing rows not verified; validate with 'dbmerge constraints validate'):");
            foreach (var c in status.UntrustedConstraints)
            {
                output.WriteLine($"  untrusted {c.Type,-11} {c.Schema}.{c.Table}.{c.Constraint}{(c.IsDisabled ? " (DISABLED: new writes are not checked either)" : string.Empty)}");
            }

            output.WriteLine(settings is null
                ? "Settings: not available (dbmerge.Setting comes with migration 0070, and the login needs EXECUTE on api.Setting_List)."
                : $"{settings.Count} setting(s) (change with 'dbmerge settings set'):");
            foreach (var setting in settings ?? [])
            {
                output.WriteLine($"  setting   {setting.Name} = {setting.Value}");
            }

            if (late is null)
            {
                output.WriteLine("Late references: unknown (api.User_LateReferences is not deployed here — run 'dbmerge migrate' — or the login may not run it).");
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

    /// <summary>
    /// Late references per policy (api.User_LateReferences); null when the database does not have the procedure yet
    /// (2812) or the login may not run it (229).
    /// </summary>
    private static async Task<IReadOnlyList<LateReferenceCount>?> LateReferencesAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            return await new DbMergeClient(new DbMergeClientOptions { ConnectionString = connectionString }).GetLateReferencesAsync(cancellationToken);
        }
        catch (SqlException ex) when (ex.Number is 2812 or 229)
        {
            return null;
        }
    }

    /// <summary>
    /// The settings, or null when the database predates them (2812: api.Setting_List does not exist yet; 208) or the
    /// login may not run it (229): status stays a read-only report that works for any login that can read the journal.
    /// </summary>
    private static async Task<IReadOnlyList<DbMergeSetting>?> ReadSettingsAsync(string connectionString, CancellationToken cancellationToken)
    {
        try
        {
            return await new DbMergeClient(new DbMergeClientOptions { ConnectionString = connectionString }).ListSettingsAsync(cancellationToken);
        }
        catch (SqlException ex) when (ex.Number is 2812 or 208 or 229)
        {
            return null;
        }
    }

    internal static int ExitCodeFor(DeploymentStatus status, bool strict) =>
        status.ChecksumMismatches.Count > 0 || status.IsNewerThanRepository ? ExitCodes.DeploymentRefused
        : status.Pending.Count > 0 || (strict && status.UntrustedConstraints.Count > 0) ? ExitCodes.Findings
        : ExitCodes.Success;
}
