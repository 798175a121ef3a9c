using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
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

        foreach (var verb in Leaves(root))
        {
            // Every verb accepts -v/--verbose (README, "Verbs"): server messages and the verb's wall time to stderr.
            if (!verb.Options.Any(o => o.Name == CommonOptions.VerboseName))
            {
                verb.Options.Add(CommonOptions.Verbose());
            }
        }

        // Each verb's help ends with its example (README shows the same one).
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExample((HelpAction)help.Action!);
        return root;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>. No arguments, or a verb group without its sub-verb (<c>dbmerge users</c>),
    /// prints that command's help to stderr and returns <see cref="ExitCodes.Usage"/>; other parse errors print one line
    /// each and a pointer to --help, and return <see cref="ExitCodes.Usage"/>. Ctrl+C is the caller's
    /// <paramref name="cancellationToken"/> (Program.cs): System.CommandLine's own handler (exit 130) is off.
    /// </summary>
    public static async Task<int> InvokeAsync(string[] args, CliContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var root = Build(context);
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0 && parseResult.CommandResult.Command is { Subcommands.Count: > 0, Action: null } group &&
            !parseResult.UnmatchedTokens.Any() && parseResult.Tokens.All(t => t.Type == System.CommandLine.Parsing.TokenType.Command))
        {
            // "dbmerge" or "dbmerge constraints": a verb is missing. Show what there is to choose from.
            if (group is not RootCommand)
            {
                context.Error.WriteLine($"dbmerge: '{Path(group)}' needs one of: {string.Join(", ", group.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}.");
            }

            await root.Parse([.. args, "--help"]).InvokeAsync(Configuration(context, context.Error), cancellationToken).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

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

        return await parseResult.InvokeAsync(Configuration(context, context.Out), cancellationToken).ConfigureAwait(false);
    }

    private static InvocationConfiguration Configuration(CliContext context, TextWriter output) => new()
    {
        Output = output,
        Error = context.Error,
        EnableDefaultExceptionHandler = false,
        ProcessTerminationTimeout = null,
    };

    /// <summary>Every command without sub-commands (the verbs that run), depth first.</summary>
    internal static IEnumerable<Command> Leaves(Command command) =>
        command.Subcommands.Count == 0 ? [command] : command.Subcommands.SelectMany(Leaves);

    /// <summary>"constraints validate": a command's path below the root.</summary>
    internal static string Path(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null and not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Insert(0, c.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>System.CommandLine's help, then "Example:" and the verb's example (<see cref="VerbExamples"/>).</summary>
    private sealed class HelpWithExample(HelpAction help) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var exit = help.Invoke(parseResult);
            var command = parseResult.CommandResult.Command;
            if ((command is RootCommand ? VerbExamples.For("demo") : VerbExamples.For(Path(command))) is { } example)
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Example:");
                output.WriteLine($"  {example}");
                output.WriteLine();
            }

            return exit;
        }
    }
}
