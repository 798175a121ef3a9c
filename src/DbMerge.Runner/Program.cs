using DbMerge.Runner;
using DbMerge.Runner.Cli;

// Ctrl+C: the first press cancels the running verb (it stops, or is abandoned after its grace period, exit 6);
// a second press ends the process at once.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancellation.IsCancellationRequested)
    {
        return;
    }

    e.Cancel = true;
    Console.Error.WriteLine("dbmerge: stopping (press Ctrl+C again to end at once)…");
    cancellation.Cancel();
};

return await DbMergeCli.InvokeAsync(args, CliContext.FromConsole(), cancellation.Token);
