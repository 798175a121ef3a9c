using System.CommandLine;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary><c>dbmerge bench …</c>: benchmarks against a real SQL Server. Add one line per benchmark.</summary>
internal static class BenchVerbs
{
    public static Command Build(CliContext context)
    {
        var bench = new Command("bench",
            "Benchmarks against SQL Server (never run by the tests): synthetic data in a scratch database, timings, rows per second.");
        foreach (var command in Subcommands(context))
        {
            bench.Subcommands.Add(command);
        }

        return bench;
    }

    private static IEnumerable<Command> Subcommands(CliContext context)
    {
        yield return BenchMergeVerb.Build(context);
        yield return BenchMoveVerb.Build(context);
    }
}
