using System.CommandLine;
using DbMerge.Client.Errors;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Cli;

/// <summary>
/// Runs a verb's body and turns every outcome into a documented exit code with one clear line on stderr.
/// Stack traces are shown only when <c>DBMERGE_DEBUG=1</c>.
/// </summary>
public static class Verb
{
    /// <summary>Attaches <paramref name="body"/> as the command's action, wrapped in <see cref="RunAsync"/>.</summary>
    public static void SetAction(Command command, CliContext context,
        Func<ParseResult, CancellationToken, Task<int>> body)
    {
        command.SetAction((parseResult, cancellationToken) =>
            RunAsync(context, () => body(parseResult, cancellationToken)));
    }

    public static async Task<int> RunAsync(CliContext context, Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
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
            context.Error.WriteLine("dbmerge: cancelled.");
            return ExitCodes.NotConfirmed;
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
    public static bool IsConnectionFailure(SqlException ex) =>
        ex.Class >= 20 ||
        ex.Number is 18456 or 18452 or 18470 or 18487 or 18488 or 4060 or 53 or 40 or 26 or 10060 or 10061 or 11001;

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.Length == 0 ? "(no message)" : line;
    }
}
