using System.CommandLine;
using DbMerge.Client.Errors;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge migrate [--connection …] [--repo DIR] [--json]</c>: applies pending migrations and re-runs every
/// database/ script, under the deploy lock. Exit codes: 0 done; 3 no/unreachable server; 5 an applied
/// migration changed (nothing applied); 7 deploy lock or a migration's lock timeout after retries; 70 a script failed.
/// </summary>
internal static class MigrateVerb
{
    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var repo = DeploymentVerbSupport.Repo();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var command = new Command("migrate", "Apply pending migrations (RunOnce, journaled with checksums) and every database/ script (RunAlways) to the target database.")
        {
            connection, repo, json, verbose,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var layout = DeploymentVerbSupport.ResolveLayout(context, parse.GetValue(repo));
            var asJson = parse.GetValue(json);
            var migrator = new Migrator(new MigratorOptions
            {
                Layout = layout,
                Log = line => context.Error.WriteLine(line),
                Trace = parse.GetValue(verbose) ? line => context.Error.WriteLine(line) : null,
            });
            var target = CommonOptions.DescribeTarget(connectionString);

            MigrationResult result;
            try
            {
                result = await migrator.MigrateAsync(connectionString, cancellationToken);
            }
            catch (DeploymentRefusedException ex)
            {
                throw new CliException(ExitCodes.DeploymentRefused, ex.Message);
            }
            catch (DeploymentLockTimeoutException ex)
            {
                throw new CliException(ExitCodes.LockTimeout, ex.Message);
            }
            catch (DeploymentFailedException ex) when (ex.InnerException is SqlException sql && Verb.IsConnectionFailure(sql))
            {
                throw sql;
            }
            catch (DeploymentFailedException ex) when (ex.InnerException is { } inner && SqlErrors.IsLockTimeout(inner))
            {
                throw new CliException(ExitCodes.LockTimeout, $"{ex.Message} (still blocked after {ex.LockTimeoutRetries} retries; run again when the blocking work has finished)");
            }
            catch (DeploymentFailedException ex)
            {
                throw new CliException(ExitCodes.InternalError, ex.Message);
            }

            if (asJson)
            {
                context.WriteJson(new
                {
                    target,
                    appliedMigrations = result.AppliedMigrations,
                    databaseObjectsRun = result.DatabaseObjectsRun,
                    lockTimeoutRetries = result.LockTimeoutRetries,
                });
            }
            else
            {
                context.Out.WriteLine(result.AppliedMigrations.Count == 0
                    ? $"{target}: up to date, no migration applied; {result.DatabaseObjectsRun.Count} database object script(s) run."
                    : $"{target}: applied {result.AppliedMigrations.Count} migration(s); {result.DatabaseObjectsRun.Count} database object script(s) run; {result.LockTimeoutRetries} lock-timeout retry(ies).");
            }

            return ExitCodes.Success;
        }, "Each migration runs in its own transaction: one that was running is rolled back, the ones before it stay applied; " +
           "'dbmerge status' shows where it stopped, and 'dbmerge migrate' continues from there.");
        return command;
    }
}
