using System.CommandLine;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>Every top-level verb, in the order --help lists them. Add one line per verb group.</summary>
internal static class VerbCatalog
{
    public static IEnumerable<Command> All(CliContext context)
    {
        yield return ValidateVerb.Build(context);
        yield return SchemaVerb.Build(context);
    }
}
