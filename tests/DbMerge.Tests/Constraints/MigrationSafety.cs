using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests.Constraints;

/// <summary>
/// The deploy-safety checks for the non-blocking migrations of issue 5 (0030–0039), on the ScriptDom tree:
/// the first batch sets XACT_ABORT ON and a positive LOCK_TIMEOUT; nothing validates existing rows (no
/// constraint added without WITH NOCHECK, no CHECK CONSTRAINT re-enable of any kind); every CREATE INDEX uses the
/// replay-friendly edition check with ONLINE = ON in its first branch.
/// </summary>
internal static class MigrationSafety
{
    public static TSqlFragment Parse(string text, out IList<ParseError> errors)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(text);
        return parser.Parse(reader, out errors);
    }

    public static IReadOnlyList<string> Check(SqlScriptFile file)
    {
        var findings = new List<string>();
        var fragment = Parse(file.Text, out var errors);
        foreach (var error in errors)
        {
            findings.Add($"{file.Name}:{error.Line}: parse error {error.Number}: {error.Message}");
        }

        if (errors.Count > 0 || fragment is not TSqlScript script)
        {
            return findings;
        }

        var first = script.Batches.FirstOrDefault()?.Statements ?? [];
        if (!first.OfType<PredicateSetStatement>().Any(s => s.IsOn && s.Options.HasFlag(SetOptions.XactAbort)))
        {
            findings.Add($"{file.Name}: the first batch does not SET XACT_ABORT ON.");
        }

        var lockTimeouts = first.OfType<SetCommandStatement>()
            .SelectMany(s => s.Commands.OfType<GeneralSetCommand>())
            .Where(c => c.CommandType == GeneralSetCommandType.LockTimeout)
            .ToList();
        if (lockTimeouts.Count == 0)
        {
            findings.Add($"{file.Name}: the first batch does not SET LOCK_TIMEOUT.");
        }
        else if (lockTimeouts.Any(c => c.Parameter is not IntegerLiteral { Value: var v } || !int.TryParse(v, out var ms) || ms <= 0))
        {
            findings.Add($"{file.Name}: LOCK_TIMEOUT must be a positive number of milliseconds (a negative value waits forever).");
        }

        var visitor = new Visitor(file.Name, findings);
        script.Accept(visitor);
        return findings;
    }

    private sealed class Visitor(string name, List<string> findings) : TSqlFragmentVisitor
    {
        public override void ExplicitVisit(AlterTableConstraintModificationStatement node)
        {
            findings.Add($"{name}:{node.StartLine}: ALTER TABLE … {node.ExistingRowsCheckEnforcement} {node.ConstraintEnforcement} CONSTRAINT: " +
                         "re-enabling or validating constraints is an operator step (dbmerge constraints trust), never a migration.");
            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(AlterTableAddTableElementStatement node)
        {
            var definition = node.Definition;
            var addsConstraint = definition.TableConstraints.Any(c => c is CheckConstraintDefinition or ForeignKeyConstraintDefinition) ||
                                 definition.ColumnDefinitions.Any(c => c.Constraints.Any(k => k is CheckConstraintDefinition or ForeignKeyConstraintDefinition));
            if (addsConstraint && node.ExistingRowsCheckEnforcement != ConstraintEnforcement.NoCheck)
            {
                findings.Add($"{name}:{node.StartLine}: a CHECK or FOREIGN KEY added to an existing table without WITH NOCHECK scans and validates every row under a schema-modification lock.");
            }

            if (definition.ColumnDefinitions.Any(c => c.Constraints.Any(k => k is NullableConstraintDefinition { Nullable: false }) || c.DefaultConstraint is not null))
            {
                findings.Add($"{name}:{node.StartLine}: a NOT NULL or defaulted column added to an existing table; add it nullable without a default (metadata-only).");
            }

            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(CreateIndexStatement node)
        {
            var online = node.IndexOptions.OfType<OnlineIndexOption>().Any(o => o.OptionState == OptionState.On);
            if (!online && !_inElse)
            {
                findings.Add($"{name}:{node.StartLine}: CREATE INDEX {node.Name.Value} without ONLINE = ON outside the ELSE branch of the edition check.");
            }

            base.ExplicitVisit(node);
        }

        private bool _inElse;

        public override void ExplicitVisit(TSqlScript node)
        {
            foreach (var batch in node.Batches)
            {
                foreach (var statement in batch.Statements)
                {
                    if (statement is IfStatement ifStatement)
                    {
                        CheckIndexIf(ifStatement);
                    }
                    else
                    {
                        statement.Accept(this);
                    }
                }
            }
        }

        private void CheckIndexIf(IfStatement node)
        {
            var thenIndexes = Collect<CreateIndexStatement>(node.ThenStatement);
            var elseIndexes = node.ElseStatement is null ? [] : Collect<CreateIndexStatement>(node.ElseStatement);
            var condition = node.Predicate.ScriptTokenStream is null
                ? string.Empty
                : string.Concat(node.ScriptTokenStream.Skip(node.Predicate.FirstTokenIndex)
                    .Take(node.Predicate.LastTokenIndex - node.Predicate.FirstTokenIndex + 1).Select(t => t.Text));
            var compact = new string(condition.Where(ch => !char.IsWhiteSpace(ch)).ToArray());
            if (thenIndexes.Count > 0 &&
                !compact.Equals("CAST(SERVERPROPERTY('EngineEdition')ASint)IN(3,5,8)", StringComparison.OrdinalIgnoreCase))
            {
                findings.Add($"{name}:{node.StartLine}: CREATE INDEX under an IF whose condition is not exactly CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8).");
            }

            if (thenIndexes.Count > 0)
            {
                var elseStatements = node.ElseStatement is BeginEndBlockStatement block ? block.StatementList.Statements.ToList() : [];
                var sameIndexes = thenIndexes.Select(i => i.Name.Value).Order(StringComparer.OrdinalIgnoreCase)
                    .SequenceEqual(elseIndexes.Select(i => i.Name.Value).Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase);
                if (!sameIndexes || elseStatements.FirstOrDefault() is not PrintStatement)
                {
                    findings.Add($"{name}:{node.StartLine}: the ELSE branch must PRINT a warning and then create the same index(es) offline.");
                }
            }

            node.ThenStatement.Accept(this);
            _inElse = true;
            node.ElseStatement?.Accept(this);
            _inElse = false;
        }

        private static List<T> Collect<T>(TSqlFragment fragment)
            where T : TSqlFragment
        {
            var collector = new Collector<T>();
            fragment.Accept(collector);
            return collector.Found;
        }
    }

    private sealed class Collector<T> : TSqlFragmentVisitor
        where T : TSqlFragment
    {
        public List<T> Found { get; } = [];

        public override void Visit(TSqlFragment fragment)
        {
            if (fragment is T match)
            {
                Found.Add(match);
            }

            base.Visit(fragment);
        }
    }
}
