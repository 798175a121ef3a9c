namespace DbMerge.Deployment;

/// <summary>
/// The deployment was refused before anything was applied: an applied migration's file changed since it
/// was applied (its checksum differs from the journal's). Migrations are append-only.
/// </summary>
public sealed class DeploymentRefusedException : Exception
{
    public DeploymentRefusedException(IReadOnlyList<ChecksumMismatch> mismatches)
        : base(BuildMessage(mismatches))
    {
        Mismatches = mismatches;
    }

    public IReadOnlyList<ChecksumMismatch> Mismatches { get; }

    /// <summary>The changed scripts' names.</summary>
    public IReadOnlyList<string> ScriptNames => Mismatches.Select(m => m.ScriptName).ToList();

    private static string BuildMessage(IReadOnlyList<ChecksumMismatch> mismatches)
    {
        ArgumentNullException.ThrowIfNull(mismatches);
        var names = string.Join(", ", mismatches.Select(m =>
            $"{m.ScriptName} (journal {Short(m.RecordedChecksum)}, file {Short(m.FileChecksum)})"));
        static string Short(string checksum) => checksum.Length > 12 ? checksum[..12] + "..." : checksum;
        return $"deployment refused, nothing was applied: applied migration(s) changed since they were applied: {names}. " +
               MigrationChecksums.AppendOnlyAdvice;
    }
}

/// <summary>
/// The deployment was refused before anything was applied: the database's journal holds migrations this release
/// does not have, so the database is newer than the release. Deploying would downgrade it (re-create every procedure
/// from older code); the runner never does.
/// </summary>
public sealed class DatabaseNewerException(IReadOnlyList<string> scriptNames) : Exception(BuildMessage(scriptNames))
{
    /// <summary>The journal's migrations this release lacks, in name order.</summary>
    public IReadOnlyList<string> ScriptNames { get; } = scriptNames;

    private static string BuildMessage(IReadOnlyList<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var shown = string.Join(", ", names.Take(10)) + (names.Count > 10 ? $" and {names.Count - 10} more" : string.Empty);
        return $"deployment refused, nothing was applied: the database is newer than this release: its journal holds {names.Count} " +
               $"migration(s) this release does not have ({shown}). Deploying an older release would re-create procedures from " +
               "older code (a downgrade). Deploy the release that has them, or a newer one.";
    }
}

/// <summary>
/// The deployment was refused before anything was applied: the connection's database is a system database (master,
/// model, msdb, tempdb) — typically a connection string without <c>Database=</c>, which lands in the login's default
/// database.
/// </summary>
public sealed class SystemDatabaseException(string database)
    : Exception($"deployment refused, nothing was applied: the target database is {database}, a system database " +
                "(does the connection string name no Database=, so it landed in the login's default database?). " +
                "Name the DbMerge database: Database=<name>.")
{
    public string Database { get; } = database;
}

/// <summary>
/// The migration was stopped (Ctrl+C) between two scripts: everything before <see cref="StoppedBefore"/> was applied
/// and committed, nothing of it or after it was run. Running migrate again continues there.
/// </summary>
public sealed class MigrationCancelledException(string? lastCompleted, string? stoppedBefore, IReadOnlyList<string> applied, CancellationToken token)
    : OperationCanceledException(BuildMessage(lastCompleted, stoppedBefore, applied), token)
{
    /// <summary>The last script that completed (null: none in this run).</summary>
    public string? LastCompleted { get; } = lastCompleted;

    /// <summary>The next script, which was not started (null: stopped before the first, or after the last).</summary>
    public string? StoppedBefore { get; } = stoppedBefore;

    /// <summary>Migrations applied in this run before the stop.</summary>
    public IReadOnlyList<string> Applied { get; } = applied;

    private static string BuildMessage(string? lastCompleted, string? stoppedBefore, IReadOnlyList<string> applied) =>
        lastCompleted is null && stoppedBefore is null
            ? "migrate stopped (cancelled) before running any script; nothing was applied."
            : "migrate stopped (cancelled) between scripts: " +
        (lastCompleted is null ? "no script completed in this run" : $"the last completed was {lastCompleted}") +
        (stoppedBefore is null ? string.Empty : $", {stoppedBefore} was not started") +
        $"; {applied.Count} migration(s) applied in this run, each committed with its journal row. Run migrate again to continue.";
}

/// <summary>Another deployment held the deploy lock (<see cref="DeploymentJournal.LockResource"/>) for longer than the timeout.</summary>
public sealed class DeploymentLockTimeoutException(TimeSpan waited)
    : TimeoutException($"another deployment held the deploy lock '{DeploymentJournal.LockResource}' for more than {waited.TotalSeconds:0} s; nothing was applied. Run again when it has finished.")
{
    public TimeSpan Waited { get; } = waited;
}

/// <summary>A script failed (after any lock-timeout retries). Its transaction was rolled back; scripts before it stay applied.</summary>
public sealed class DeploymentFailedException(string scriptName, int lockTimeoutRetries, Exception inner)
    : Exception($"{scriptName} failed and was rolled back; nothing after it was applied: {FirstLine(inner.Message)}", inner)
{
    public string ScriptName { get; } = scriptName;

    /// <summary>How many times the failing script was retried after a lock timeout.</summary>
    public int LockTimeoutRetries { get; } = lockTimeoutRetries;

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "(no message)" : line;
    }
}
