namespace DbMerge.Runner.Cli;

/// <summary>
/// A failure a verb reports as one line on stderr with a documented exit code (no stack trace).
/// </summary>
public sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
