using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using DbMerge.Client.Errors;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Cli;

/// <summary>
/// Runs a verb's body and turns every outcome into a documented exit code with one clear line on stderr.
/// Stack traces are shown only when <c>DBMERGE_DEBUG=1</c>. Ctrl+C (the cancellation token) ends every verb with
/// <see cref="ExitCodes.NotConfirmed"/>: the body is cancelled and given <see cref="CliContext.CancelGracePeriod"/> to stop
/// by itself, else abandoned (the process then exits, closing its connections: the server rolls back what was running).
/// </summary>
public static class Verb
{
    /// <summary>
    /// Attaches <paramref name="body"/> as the command's action, wrapped in <see cref="RunAsync(CliContext, Func{Task{int}}, CancellationToken, string?, string?)"/>.
    /// </summary>
    /// <param name="onCancel">What a stopped run leaves behind and how to go on (printed after "cancelled").</param>
    public static void SetAction(Command command, CliContext context,
        Func<ParseResult, CancellationToken, Task<int>> body, string? onCancel = null)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(context);
        command.SetAction((parseResult, cancellationToken) =>
        {
            context.Verbose = IsVerbose(parseResult);
            return RunAsync(context, () => body(parseResult, cancellationToken), cancellationToken, Path(parseResult), onCancel);
        });
    }

    /// <summary>Runs <paramref name="body"/> without cancellation (tests, simple callers).</summary>
    public static Task<int> RunAsync(CliContext context, Func<Task<int>> body) => RunAsync(context, body, CancellationToken.None);

    public static async Task<int> RunAsync(CliContext context, Func<Task<int>> body, CancellationToken cancellationToken,
        string? verb = null, string? onCancel = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(body);
        var clock = Stopwatch.StartNew();
        var exitCode = await RunCoreAsync(context, body, cancellationToken, verb ?? "the verb", onCancel).ConfigureAwait(false);
        if (context.Verbose)
        {
            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"dbmerge: {verb ?? "verb"} took {clock.Elapsed.TotalSeconds:F3} s (exit {exitCode})."));
        }

        return exitCode;
    }

    private static async Task<int> RunCoreAsync(CliContext context, Func<Task<int>> body, CancellationToken cancellationToken,
        string verb, string? onCancel)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            context.Error.WriteLine(CancelledLine(verb, null, "nothing was started"));
            return ExitCodes.NotConfirmed;
        }

        // On the thread pool, so that a body that computes without awaiting (validate, schema) can still be abandoned.
        var work = Task.Run(body, CancellationToken.None);
        if (cancellationToken.CanBeCanceled && !work.IsCompleted)
        {
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (cancellationToken.Register(() => cancelled.TrySetResult()).ConfigureAwait(false))
            {
                if (await Task.WhenAny(work, cancelled.Task).ConfigureAwait(false) != work &&
                    await Task.WhenAny(work, Task.Delay(context.CancelGracePeriod, CancellationToken.None)).ConfigureAwait(false) != work)
                {
                    context.Error.WriteLine(CancelledLine(verb, onCancel,
                        string.Create(CultureInfo.InvariantCulture, $"it did not stop within {context.CancelGracePeriod.TotalSeconds:0.#} s and was abandoned")));
                    return ExitCodes.NotConfirmed;
                }
            }
        }

        try
        {
            return await work.ConfigureAwait(false);
        }
        catch (CliException ex) when (cancellationToken.IsCancellationRequested && ex.ExitCode == ExitCodes.NotConfirmed)
        {
            // The verb stopped by itself and says where (migrate: between two scripts).
            context.Error.WriteLine($"dbmerge: {ex.Message}");
            return ExitCodes.NotConfirmed;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // Whatever else the cancelled work threw (OperationCanceledException, SqlClient's "Operation cancelled by
            // user", a wrapped deployment failure), the cause is the Ctrl+C.
            context.Error.WriteLine(CancelledLine(verb, onCancel, "it stopped"));
            return ExitCodes.NotConfirmed;
        }
        catch (CliException ex)
        {
            context.Error.WriteLine($"dbmerge: {ex.Message}");
            return ex.ExitCode;
        }
        catch (DbMergeException ex)
        {
            context.Error.WriteLine($"dbmerge: error {ex.ErrorNumber}: {ex.Message}");
            return ex is DbMergeLockTimeoutException || ex.Error?.Kind == DbMergeErrorKind.LockTimeout
                ? ExitCodes.LockTimeout
                : ExitCodes.Refused;
        }
        catch (SqlException ex) when (IsConnectionFailure(ex))
        {
            context.Error.WriteLine($"dbmerge: cannot connect to SQL Server: {FirstLine(ex.Message)}");
            return ExitCodes.ConnectionFailed;
        }
        catch (SqlException ex) when (SqlErrors.IsTransient(ex))
        {
            context.Error.WriteLine($"dbmerge: SQL Server error {ex.Number} (lock timeout or deadlock): {FirstLine(ex.Message)} Nothing was changed; run the command again.");
            return ExitCodes.LockTimeout;
        }
        catch (SqlException ex) when (ErrorRegistry.IsDbMergeNumber(ex.Number))
        {
            context.Error.WriteLine($"dbmerge: error {ex.Number}: {FirstLine(ex.Message)}");
            return ExitCodes.Refused;
        }
        catch (OperationCanceledException)
        {
            context.Error.WriteLine(CancelledLine(verb, onCancel, "it stopped"));
            return ExitCodes.NotConfirmed;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A file named on the command line cannot be read or written (a missing folder, no permission, a read-only
            // file system): the command line is wrong, not DbMerge.
            context.Error.WriteLine($"dbmerge: {FirstLine(ex.Message)} (check the path and its permissions).");
            if (context.Environment("DBMERGE_DEBUG") == "1")
            {
                context.Error.WriteLine(ex.ToString());
            }

            return ExitCodes.Usage;
        }
        catch (Exception ex)
        {
            var sql = ex as SqlException;
            context.Error.WriteLine(sql is null
                ? $"dbmerge: unexpected error ({ex.GetType().Name}): {FirstLine(ex.Message)}"
                : $"dbmerge: SQL Server error {sql.Number}: {FirstLine(ex.Message)}");
            if (context.Environment("DBMERGE_DEBUG") == "1")
            {
                context.Error.WriteLine(ex.ToString());
            }

            return ExitCodes.InternalError;
        }
    }

    /// <summary>
    /// True for errors raised while reaching or logging in to SQL Server (transport errors are class 20;
    /// login and database-open failures have their own numbers).
    /// </summary>
    public static bool IsConnectionFailure(SqlException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        return ex.Class >= 20 ||
               ex.Number is 18456 or 18452 or 18470 or 18487 or 18488 or 4060 or 53 or 40 or 26 or 10060 or 10061 or 11001;
    }

    private static string CancelledLine(string verb, string? onCancel, string what) =>
        $"dbmerge: cancelled (Ctrl+C): {verb}: {what}." + (onCancel is null ? string.Empty : " " + onCancel);

    private static bool IsVerbose(ParseResult parseResult) =>
        parseResult.CommandResult.Command.Options.FirstOrDefault(o => o.Name == CommonOptions.VerboseName) is Option<bool> verbose &&
        parseResult.GetValue(verbose);

    /// <summary>"users merge", "validate": the command's path below the root.</summary>
    private static string Path(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result is not null && result.Command is not RootCommand; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Insert(0, result.Command.Name);
        }

        return names.Count == 0 ? "dbmerge" : string.Join(' ', names);
    }

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "(no message)" : line;
    }
}
