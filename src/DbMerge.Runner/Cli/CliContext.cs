using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DbMerge.Runner.Cli;

/// <summary>
/// Where a verb writes: results to <see cref="Out"/>, diagnostics to <see cref="Error"/>. Tests pass
/// string writers; the console passes the process's streams.
/// </summary>
public sealed class CliContext
{
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public CliContext(TextWriter output, TextWriter error, bool isInteractive, Func<string?>? readLine = null,
        Func<string, string?>? environment = null)
    {
        Out = output;
        Error = error;
        IsInteractive = isInteractive;
        ReadLine = readLine ?? (() => null);
        Environment = environment ?? System.Environment.GetEnvironmentVariable;
    }

    /// <summary>The process's console; interactive when stdin and stdout are terminals.</summary>
    public static CliContext FromConsole() =>
        new(Console.Out, Console.Error,
            !Console.IsInputRedirected && !Console.IsOutputRedirected,
            Console.ReadLine);

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>True on a terminal: confirmations may be asked and progress bars drawn.</summary>
    public bool IsInteractive { get; }

    public Func<string?> ReadLine { get; }

    public Func<string, string?> Environment { get; }

    /// <summary>
    /// <c>-v</c>/<c>--verbose</c> of the running verb (every verb accepts it; <see cref="Verb.SetAction"/> sets this before the
    /// verb's body runs): server messages and the verb's wall time go to <see cref="Error"/>.
    /// </summary>
    public bool Verbose { get; set; }

    /// <summary>Server messages (PRINT, RAISERROR ≤ 10) to stderr when <see cref="Verbose"/>, else null (discarded).</summary>
    public Action<string>? ServerMessages => Verbose ? message => Error.WriteLine($"[server] {message}") : null;

    /// <summary>
    /// After Ctrl+C, how long a verb may take to stop by itself (its SQL commands are cancelled, a scratch database is
    /// dropped) before it is abandoned and the process exits with <see cref="ExitCodes.NotConfirmed"/>. Default 30 seconds;
    /// a second Ctrl+C ends the process at once.
    /// </summary>
    public TimeSpan CancelGracePeriod { get; init; } = TimeSpan.FromSeconds(30);

    public void WriteJson<T>(T value) => Out.WriteLine(JsonSerializer.Serialize(value, JsonOptions));

    /// <summary>Asks a yes/no question on a terminal. Returns false when not interactive.</summary>
    public bool Confirm(string question)
    {
        if (!IsInteractive)
        {
            return false;
        }

        Error.Write($"{question} [y/N] ");
        var answer = ReadLine()?.Trim();
        return string.Equals(answer, "y", StringComparison.OrdinalIgnoreCase) ||
               string.Equals(answer, "yes", StringComparison.OrdinalIgnoreCase);
    }
}
