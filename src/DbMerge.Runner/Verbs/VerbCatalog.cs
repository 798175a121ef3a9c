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
        yield return ScriptVerb.Build(context);
        yield return GenerateVerbs.Build(context);
        yield return MigrateVerb.Build(context);
        yield return StatusVerb.Build(context);
        yield return UsersVerbs.Build(context);
        yield return MergesVerbs.Build(context);
        yield return DemoVerb.Build(context);
        yield return InvitationsVerbs.Build(context);
        yield return CollectionsVerbs.Build(context);
        yield return ConstraintsVerbs.Build(context);
        yield return DocumentsVerbs.Build(context);
        yield return ReconciliationsVerbs.Build(context);
        yield return OutboxVerbs.Build(context);
        yield return SettingsVerbs.Build(context);
        yield return BenchVerbs.Build(context);
    }
}
