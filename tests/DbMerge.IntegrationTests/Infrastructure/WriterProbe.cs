using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Infrastructure;

/// <summary>
/// A concurrent application writer for the "never blocks a writer for long" tests (DESIGN §8): on a connection of its
/// own it runs one statement in a loop — first alone, to measure its baseline latency, then while the operation under
/// test runs — and reports how long each write took. The bound a test asserts is the DESIGN target plus a stated
/// margin for a shared CI runner; a table lock, or a whole-table read under lock, blocks the writer for the whole
/// operation (seconds) and fails it by far.
/// </summary>
public sealed class WriterProbe : IAsyncDisposable
{
    /// <summary>DESIGN §8: a concurrent writer on other users' rows / a validated table waits under 100 ms.</summary>
    public const double DesignTargetMs = 100;

    /// <summary>
    /// Scheduling noise of a shared 2–4 vCPU CI runner with SQL Server in a container (a single autocommit write there
    /// has been seen to take tens of milliseconds without any blocking). Stated once, used by every writer test.
    /// </summary>
    public const double CiMarginMs = 150;

    /// <summary>What DML-only operations (merge, validation batches, moves) may make a writer wait: target + margin.</summary>
    public const double DmlBoundMs = DesignTargetMs + CiMarginMs;

    private readonly List<double> _baseline = [];
    private readonly List<double> _during = [];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private volatile bool _measuring;

    private WriterProbe()
    {
    }

    /// <summary>
    /// Starts the writer on <paramref name="connectionString"/>: <paramref name="baselineWrites"/> writes alone, then it
    /// keeps writing (counted as "during") until <see cref="StopAsync"/>. Returns once the baseline is measured.
    /// <paramref name="write"/> runs one write on the writer's open connection.
    /// </summary>
    public static async Task<WriterProbe> StartAsync(string connectionString, Func<SqlConnection, int, Task> write, int baselineWrites = 20)
    {
        var probe = new WriterProbe();
        var baselineDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        probe._loop = Task.Run(async () =>
        {
            await using var connection = new SqlConnection(connectionString);
            await connection.OpenAsync(CancellationToken.None);
            for (var i = 0; !probe._stop.IsCancellationRequested; i++)
            {
                var clock = Stopwatch.StartNew();
                await write(connection, i);
                var elapsed = clock.Elapsed.TotalMilliseconds;
                lock (probe._during)
                {
                    (probe._measuring ? probe._during : probe._baseline).Add(elapsed);
                }

                if (i + 1 == baselineWrites)
                {
                    probe._measuring = true;
                    baselineDone.TrySetResult();
                }
            }
        }, CancellationToken.None);

        await Task.WhenAny(baselineDone.Task, probe._loop);
        if (probe._loop.IsCompleted)
        {
            await probe._loop; // the writer failed before its baseline: surface why
        }

        return probe;
    }

    /// <summary>Stops the writer and returns its latencies while the operation ran.</summary>
    public async Task<WriterStats> StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        lock (_during)
        {
            return new WriterStats(Median(_baseline), [.. _during]);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (Exception)
            {
                // already reported by StopAsync, or the test failed before it
            }
        }

        _stop.Dispose();
    }

    private static double Median(List<double> values) => values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);
}

/// <summary>A writer's latencies (ms) while the operation under test ran, and its median latency alone before it.</summary>
public sealed record WriterStats(double BaselineMedianMs, IReadOnlyList<double> DuringMs)
{
    public int Writes => DuringMs.Count;

    public double MaxMs => DuringMs.Count == 0 ? 0 : DuringMs.Max();

    public double Percentile(double p)
    {
        if (DuringMs.Count == 0)
        {
            return 0;
        }

        var sorted = DuringMs.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Max(0, Math.Ceiling(p * sorted.Count) - 1))];
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"writer: {Writes} writes during the operation, baseline median {BaselineMedianMs:F1} ms, p50 {Percentile(0.5):F1} ms, p99 {Percentile(0.99):F1} ms, max {MaxMs:F1} ms");

    /// <summary>
    /// The writer really ran during the operation (at least <paramref name="minimumWrites"/> writes) and never waited
    /// longer than <paramref name="boundMs"/> (the DESIGN target plus the stated margin).
    /// </summary>
    public void AssertNeverBlockedLongerThan(double boundMs, ITestOutputHelper output, int minimumWrites = 1)
    {
        output.WriteLine(Describe() + string.Create(CultureInfo.InvariantCulture, $"; bound {boundMs:F0} ms"));
        Assert.True(Writes >= minimumWrites, $"the writer completed {Writes} write(s) while the operation ran; the test needs at least {minimumWrites} to measure anything");
        Assert.True(MaxMs < boundMs, string.Create(CultureInfo.InvariantCulture,
            $"a writer waited {MaxMs:F0} ms (bound {boundMs:F0} ms = DESIGN target {WriterProbe.DesignTargetMs:F0} ms + margin); {Describe()}"));
    }
}
