using DbMerge.Runner;
using DbMerge.Runner.Cli;

namespace DbMerge.Tests.Runner;

/// <summary>Runs the real <c>dbmerge</c> command tree in-process with captured output and a controlled environment.</summary>
public static class CliHarness
{
    public sealed record Result(int ExitCode, string Out, string Error);

    /// <param name="cancellation">Ctrl+C as the console would give it (default: the test's token).</param>
    /// <param name="cancelGrace">How long a cancelled verb may take to stop before it is abandoned (default: the runner's).</param>
    public static async Task<Result> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null,
        bool interactive = false, string? input = null, CancellationToken? cancellation = null, TimeSpan? cancelGrace = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var reader = new StringReader(input ?? string.Empty);
        var env = environment ?? new Dictionary<string, string>();
        var context = new CliContext(stdout, stderr, interactive, reader.ReadLine,
            name => env.TryGetValue(name, out var value) ? value : null);
        if (cancelGrace is { } grace)
        {
            context = new CliContext(stdout, stderr, interactive, reader.ReadLine, name => env.TryGetValue(name, out var value) ? value : null)
            {
                CancelGracePeriod = grace,
            };
        }

        var exit = await DbMergeCli.InvokeAsync(args, context, cancellation ?? Xunit.TestContext.Current.CancellationToken);
        return new Result(exit, stdout.ToString(), stderr.ToString());
    }
}
