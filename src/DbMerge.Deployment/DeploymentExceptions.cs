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
