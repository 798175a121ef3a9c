using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace DbMerge.Runner.Cli;

/// <summary>One unit of long work whose progress is shown (a constraint being validated, a batch of requests).</summary>
public interface IProgressTask
{
    /// <summary>Sets the current position; <paramref name="total"/> may change as estimates improve.</summary>
    void Update(double value, double total, string? status = null);

    /// <summary>Marks the task finished with a final status line.</summary>
    void Complete(string status);
}

/// <summary>
/// Shows progress of long work on stderr: a Spectre.Console progress bar when stderr is a terminal, plain
/// lines otherwise (at most one every few seconds per task, plus the final line). Results never go here.
/// </summary>
public abstract class ProgressReporter
{
    /// <summary>
    /// A bar on a terminal (the process's own stderr, not redirected, and a terminal session), plain lines
    /// otherwise (redirected output, CI, tests with string writers).
    /// </summary>
    public static ProgressReporter Create(CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var isTerminal = context.IsInteractive && ReferenceEquals(context.Error, Console.Error) && !Console.IsErrorRedirected;
        return isTerminal ? new SpectreProgressReporter() : new PlainProgressReporter(context.Error, TimeSpan.FromSeconds(2));
    }

    /// <summary>Runs <paramref name="work"/> with a progress display; the display ends when the work ends.</summary>
    public abstract Task<T> RunAsync<T>(Func<ProgressScope, Task<T>> work);
}

/// <summary>Adds tasks to a running progress display.</summary>
public abstract class ProgressScope
{
    public abstract IProgressTask AddTask(string description, double total);
}

/// <summary>Plain lines: "description: 41,000/100,000 (41%) status".</summary>
public sealed class PlainProgressReporter(TextWriter writer, TimeSpan interval) : ProgressReporter
{
    public override Task<T> RunAsync<T>(Func<ProgressScope, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return work(new Scope(writer, interval));
    }

    private sealed class Scope(TextWriter writer, TimeSpan interval) : ProgressScope
    {
        public override IProgressTask AddTask(string description, double total) => new Task(writer, interval, description);
    }

    private sealed class Task(TextWriter writer, TimeSpan interval, string description) : IProgressTask
    {
        private readonly Stopwatch _sinceLast = Stopwatch.StartNew();
        private bool _wroteAny;

        public void Update(double value, double total, string? status = null)
        {
            if (_wroteAny && _sinceLast.Elapsed < interval)
            {
                return;
            }

            _wroteAny = true;
            _sinceLast.Restart();
            writer.WriteLine(Format(description, value, total, status));
        }

        public void Complete(string status) => writer.WriteLine($"{description}: {status}");
    }

    internal static string Format(string description, double value, double total, string? status)
    {
        var percent = total > 0 ? Math.Min(100, value * 100 / total) : 0;
        var line = string.Create(CultureInfo.InvariantCulture, $"{description}: {value:N0}/{total:N0} ({percent:0}%)");
        return string.IsNullOrEmpty(status) ? line : $"{line} {status}";
    }
}

/// <summary>A Spectre.Console progress bar on stderr.</summary>
public sealed class SpectreProgressReporter : ProgressReporter
{
    public override async Task<T> RunAsync<T>(Func<ProgressScope, Task<T>> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return await console.Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new RemainingTimeColumn(),
                new SpinnerColumn())
            .StartAsync(ctx => work(new Scope(ctx)))
            .ConfigureAwait(false);
    }

    private sealed class Scope(ProgressContext context) : ProgressScope
    {
        public override IProgressTask AddTask(string description, double total) =>
            new Task(context.AddTask(Markup.Escape(description), autoStart: true, maxValue: Math.Max(1, total)), description);
    }

    private sealed class Task(ProgressTask task, string description) : IProgressTask
    {
        public void Update(double value, double total, string? status = null)
        {
            task.MaxValue = Math.Max(Math.Max(1, total), value);
            task.Value = value;
            task.Description = Markup.Escape(string.IsNullOrEmpty(status) ? description : $"{description} {status}");
        }

        public void Complete(string status)
        {
            task.Value = task.MaxValue;
            task.Description = Markup.Escape($"{description}: {status}");
            task.StopTask();
        }
    }
}
