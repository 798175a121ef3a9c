using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM026: a migration never mixes a schema change with a data backfill of an existing table. DbUp runs each
/// migration in one transaction (transaction per script), so a backfill next to DDL keeps the DDL's
/// schema-modification lock — every reader and writer of the table waits — for as long as the backfill runs, and a
/// failure rolls both back. Long or blocking data work belongs in a runner verb that works in keyset batches.
/// <para>Backfill: an UPDATE, DELETE, MERGE or TRUNCATE of a table not created earlier in the same file, or an
/// INSERT into such a table that copies rows from another existing table (INSERT … SELECT … FROM other, INSERT … EXEC).</para>
/// <para>Not a backfill: seeding reference rows into a table created in the same file (0003, 0005 and 0010 seed their
/// lookup and policy tables that way), INSERT … VALUES into an existing table (a few reference rows, e.g. a new merge
/// policy), work on temporary tables and table variables. A data-only migration (no schema change) is not reported.</para>
/// </summary>
public sealed class NoBackfillWithSchemaChangeRule : IHouseRule
{
    public const string RuleId = "DBM026";

    public string Id => RuleId;

    public string Description =>
        "A migration never mixes a schema change with a data backfill (UPDATE/DELETE/MERGE/INSERT…SELECT) of an existing table.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var migrations = context.Migrations.ToList();
        var creators = MigrationRules.TableCreators(migrations);
        var findings = new List<Finding>();
        foreach (var migration in migrations)
        {
            if (migration.Fragment is null)
            {
                continue;
            }

            var visitor = new Visitor();
            migration.Fragment.Accept(visitor);
            if (visitor.SchemaChanges.Count == 0)
            {
                continue;
            }

            var (ddlLine, ddlKind) = visitor.SchemaChanges[0];
            foreach (var (line, kind, table) in visitor.Backfills)
            {
                var display = SqlText.Display(table);
                findings.Add(new Finding(migration.File.RelativePath, line, RuleId,
                    $"{kind} of the existing table {display}{MigrationRules.CreatedBy(creators, table)} in a migration that also changes the " +
                    $"schema (line {ddlLine}: {ddlKind}): DbUp runs the whole file in one transaction, so the schema change's locks are held " +
                    $"while the data work runs. Put the schema change in its own migration and the backfill of {display} in a runner verb " +
                    "that works in keyset batches (a small reference-data fix may be a data-only migration)."));
            }
        }

        return findings;
    }

    private sealed class Visitor : TSqlFragmentVisitor
    {
        /// <summary>Tables created so far in this file (visited in text order).</summary>
        private readonly HashSet<string> createdHere = new(StringComparer.Ordinal);

        public List<(int Line, string Kind)> SchemaChanges { get; } = [];

        public List<(int Line, string Kind, SchemaObjectName Table)> Backfills { get; } = [];

        public override void Visit(TSqlStatement node)
        {
            var type = node.GetType().Name;
            if (!type.StartsWith("Create", StringComparison.Ordinal) && !type.StartsWith("Alter", StringComparison.Ordinal) &&
                !type.StartsWith("Drop", StringComparison.Ordinal))
            {
                return;
            }

            var table = node switch
            {
                CreateTableStatement s => s.SchemaObjectName,
                AlterTableStatement s => s.SchemaObjectName,
                CreateIndexStatement s => s.OnName,
                DropTableStatement s => s.Objects.FirstOrDefault(),
                _ => null,
            };
            if (MigrationRules.IsTemporary(table))
            {
                return;
            }

            if (node is CreateTableStatement created)
            {
                createdHere.Add(SqlText.Key(created.SchemaObjectName));
            }

            SchemaChanges.Add((node.StartLine, MigrationRules.Snippet(node)));
        }

        public override void Visit(UpdateStatement node) =>
            Backfill(node, "UPDATE", Resolve(node.UpdateSpecification.Target, node.UpdateSpecification.FromClause));

        public override void Visit(DeleteStatement node) =>
            Backfill(node, "DELETE", Resolve(node.DeleteSpecification.Target, node.DeleteSpecification.FromClause));

        public override void Visit(MergeStatement node) =>
            Backfill(node, "MERGE", Resolve(node.MergeSpecification.Target, null));

        public override void Visit(TruncateTableStatement node) => Backfill(node, "TRUNCATE TABLE", node.TableName);

        public override void Visit(InsertStatement node)
        {
            var target = Resolve(node.InsertSpecification.Target, null);
            if (target is null)
            {
                return;
            }

            switch (node.InsertSpecification.InsertSource)
            {
                case ExecuteInsertSource:
                    Backfill(node, "INSERT … EXEC", target);
                    break;
                case SelectInsertSource select:
                    var reads = new NamedTables();
                    select.Accept(reads);
                    var targetKey = SqlText.Key(target);
                    var ctes = node.WithCtesAndXmlNamespaces?.CommonTableExpressions.Select(c => c.ExpressionName.Value).ToHashSet(StringComparer.OrdinalIgnoreCase) ?? [];
                    var source = reads.Names.FirstOrDefault(n => !MigrationRules.IsTemporary(n) && SqlText.Key(n) != targetKey && !createdHere.Contains(SqlText.Key(n)) &&
                                                                 !(n.SchemaIdentifier is null && ctes.Contains(n.BaseIdentifier.Value)));
                    if (source is not null)
                    {
                        Backfill(node, $"INSERT … SELECT from {SqlText.Display(source)}", target);
                    }

                    break;
            }
        }

        private void Backfill(TSqlStatement node, string kind, SchemaObjectName? table)
        {
            if (table is null || MigrationRules.IsTemporary(table) || createdHere.Contains(SqlText.Key(table)))
            {
                return;
            }

            Backfills.Add((node.StartLine, kind, table));
        }

        /// <summary>The table a DML target names: itself, or the table an alias in the FROM clause stands for; null for variables.</summary>
        private static SchemaObjectName? Resolve(TableReference? target, FromClause? from)
        {
            if (target is not NamedTableReference named)
            {
                return null;
            }

            if (named.SchemaObject.SchemaIdentifier is null && from is not null)
            {
                var aliases = new NamedTables();
                from.Accept(aliases);
                var aliased = aliases.References.FirstOrDefault(r =>
                    string.Equals(r.Alias?.Value, named.SchemaObject.BaseIdentifier.Value, StringComparison.OrdinalIgnoreCase));
                if (aliased is not null)
                {
                    return aliased.SchemaObject;
                }
            }

            return named.SchemaObject;
        }
    }

    private sealed class NamedTables : TSqlFragmentVisitor
    {
        public List<NamedTableReference> References { get; } = [];

        public IEnumerable<SchemaObjectName> Names => References.Select(r => r.SchemaObject);

        public override void Visit(NamedTableReference node) => References.Add(node);
    }
}
