namespace DbMerge.Runner.Cli;

/// <summary>The documented exit codes of <c>dbmerge</c> (README, "Exit codes"). Never renumber.</summary>
public static class ExitCodes
{
    /// <summary>The verb did its job.</summary>
    public const int Success = 0;

    /// <summary>The verb ran and found problems: validation findings, a failed verification, recorded violations.</summary>
    public const int Findings = 1;

    /// <summary>The command line is wrong (unknown verb, missing or malformed option, ambiguous user).</summary>
    public const int Usage = 2;

    /// <summary>No connection string was given, or SQL Server could not be reached or refused the login.</summary>
    public const int ConnectionFailed = 3;

    /// <summary>A DbMerge procedure refused the operation with a documented error (51000–51999); nothing changed.</summary>
    public const int Refused = 4;

    /// <summary>Deployment refused: an applied migration's content changed (checksum mismatch) or the repository is inconsistent.</summary>
    public const int DeploymentRefused = 5;

    /// <summary>The operator did not confirm, or the run was stopped (Ctrl+C, --max-seconds); nothing further was done.</summary>
    public const int NotConfirmed = 6;

    /// <summary>A lock could not be acquired in time (lock timeout or deadlock after retries); safe to run again.</summary>
    public const int LockTimeout = 7;

    /// <summary>An unexpected failure (a bug or an unplanned server error); the message says what happened.</summary>
    public const int InternalError = 70;
}
