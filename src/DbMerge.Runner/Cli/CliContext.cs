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
