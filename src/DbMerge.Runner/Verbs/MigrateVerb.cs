using System.CommandLine;
using DbMerge.Client.Errors;
using DbMerge.Deployment;
using DbMerge.Runner.Cli;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge migrate [--connection …] [--repo DIR] [--json] [-v] [--command-timeout S] [--object-lock-timeout MS]</c>:
/// applies pending migrations and re-runs every database/ script, under the deploy lock. Progress and everything the
/// scripts print go to stderr as they happen; the summary (or JSON) to stdout. Exit codes: 0 done; 3 no/unreachable
/// server; 5 refused before anything was applied (an applied migration changed, the database is newer than this
/// release, or it is a system database); 6 stopped by Ctrl+C between two scripts; 7 deploy lock or a lock timeout
/// after retries; 70 a script failed.
/// </summary>
internal static class MigrateVerb
{
    public static Command Build(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var repo = DeploymentVerbSupport.Repo();
        var json = CommonOptions.Json();
        var verbose = CommonOptions.Verbose();
        var commandTimeout = new Option<int>("--command-timeout")
        {
            Description = "Seconds each script batch may run before it is cancelled (the batch timeout); 0 = no limit.",
            DefaultValueFactory = _ => 300,
        };
        var objectLockTimeout = new Option<int>("--object-lock-timeout")
        {
            Description = $"Milliseconds re-creating one database/ object waits for its schema lock before the attempt is retried " +
                          $"(up to {DeploymentJournal.LockTimeoutRetries} times), 1..600000.",
            DefaultValueFactory = _ => DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds,
        };
        var command = new Command("migrate",
            "Apply pending migrations (RunOnce, journaled with checksums) and every database/ script (RunAlways) to the target database, " +
            "under the deploy lock. Refuses, before applying anything, a changed migration, a database newer than this release and a system database. " +
            "What the scripts print, and progress, go to stderr as they run; Ctrl+C stops between two scripts.")
        {
            connection, repo, json, verbose, commandTimeout, objectLockTimeout,
        };

        Verb.SetAction(command, context, async (parse, cancellationToken) =>
        {
            var seconds = parse.GetValue(commandTimeout);
            var lockMilliseconds = parse.GetValue(objectLockTimeout);
            if (seconds is < 0 or > 86_400)
            {
                throw new CliException(ExitCodes.Usage, $"migrate: --command-timeout must be 0..86400 seconds (got {seconds}).");
            }

            if (lockMilliseconds is < 1 or > 600_000)
            {
                throw new CliException(ExitCodes.Usage, $"migrate: --object-lock-timeout must be 1..600000 ms (got {lockMilliseconds}).");
            }

            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var layout = DeploymentVerbSupport.ResolveLayout(context, parse.GetValue(repo));
            var asJson = parse.GetValue(json);
            var isVerbose = parse.GetValue(verbose);
            var progress = context.Error;
            var migrator = new Migrator(new MigratorOptions
            {
                Layout = layout,
                ExecutionTimeout = TimeSpan.FromSeconds(seconds),
                DatabaseObjectLockTimeout = TimeSpan.FromMilliseconds(lockMilliseconds),
                Log = line => progress.WriteLine(line),
                ScriptOutput = message => progress.WriteLine($"  {message.Script}: {message.Message}"),
                ReportTimings = isVerbose,
                Trace = isVerbose ? line => context.Error.WriteLine(line) : null,
            });
            var target = CommonOptions.DescribeTarget(connectionString);

            MigrationResult result;
            try
            {
                result = await migrator.MigrateAsync(connectionString, cancellationToken);
            }
            catch (Exception ex) when (ex is DeploymentRefusedException or DatabaseNewerException or SystemDatabaseException)
            {
                throw new CliException(ExitCodes.DeploymentRefused, ex.Message);
            }
            catch (MigrationCancelledException ex)
            {
                throw new CliException(ExitCodes.NotConfirmed, ex.Message);
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
                    scripts = result.Scripts.Select(s => new { name = s.Name, migration = s.IsMigration, milliseconds = (long)s.Elapsed.TotalMilliseconds }),
                });
            }
            else
            {
                context.Out.WriteLine(result.AppliedMigrations.Count == 0
                    ? $"{target}: up to date, no migration applied; {result.DatabaseObjectsRun.Count} database object script(s) run; {result.LockTimeoutRetries} lock-timeout retry(ies)."
                    : $"{target}: applied {result.AppliedMigrations.Count} migration(s); {result.DatabaseObjectsRun.Count} database object script(s) run; {result.LockTimeoutRetries} lock-timeout retry(ies).");
            }

            return ExitCodes.Success;
        });
        return command;
    }
}
