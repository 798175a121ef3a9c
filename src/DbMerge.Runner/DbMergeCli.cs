using System.CommandLine;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Verbs;

namespace DbMerge.Runner;

/// <summary>Builds the <c>dbmerge</c> command tree. Verbs live in <c>Verbs/</c>, one file per verb group.</summary>
public static class DbMergeCli
{
    public static RootCommand Build(CliContext context)
    {
        var root = new RootCommand(
            "DbMerge: database-first tooling for SQL Server — user merges, document moves, invitations, collection claims, " +
            "deploy-safe constraints. Connection from --connection or DBMERGE_CONNECTION.");
        foreach (var command in VerbCatalog.All(context))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; parse errors print usage help and return <see cref="ExitCodes.Usage"/>.</summary>
    public static async Task<int> InvokeAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        var root = Build(context);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var error in parseResult.Errors)
            {
                // A mistyped command line may hold a confirmation token (reconciliations confirm TOKEN): never echo it.
                context.Error.WriteLine($"dbmerge: {SecretMask.Apply(error.Message)}");
            }

            context.Error.WriteLine("Run 'dbmerge --help' (or 'dbmerge VERB --help') for usage.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = context.Out,
            Error = context.Error,
            EnableDefaultExceptionHandler = false,
        };
        return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }
}
