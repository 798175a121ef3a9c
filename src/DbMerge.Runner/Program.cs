using DbMerge.Runner;
using DbMerge.Runner.Cli;

using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancellation.Cancel();
};

return await DbMergeCli.InvokeAsync(args, CliContext.FromConsole(), cancellation.Token);
