using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM020: a CHECK or FOREIGN KEY constraint added to an existing table — one not created earlier in the same
/// migration file — says <c>WITH NOCHECK</c> (<c>ALTER TABLE x WITH NOCHECK ADD CONSTRAINT …</c>). Without it
/// SQL Server reads every existing row under a schema-modification lock (DESIGN §6). Existing rows are verified
/// by <c>dbmerge constraints validate</c>; trusting the constraint is the operator step <c>dbmerge constraints trust</c>.
/// A table created earlier in the same file has no rows yet: its constraints may be added WITH CHECK (the default).
/// </summary>
public sealed class ConstraintWithNoCheckRule : IHouseRule
{
    public const string RuleId = "DBM020";

    public string Id => RuleId;

    public string Description =>
        "A CHECK or FOREIGN KEY constraint added to an existing table says WITH NOCHECK (no scan under a schema-modification lock).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var migrations = context.Migrations.ToList();
        var creators = MigrationRules.TableCreators(migrations);
        var findings = new List<Finding>();
        foreach (var migration in migrations)
        {
            migration.Fragment?.Accept(new Visitor(migration.File.RelativePath, creators, findings));
        }

        return findings;
    }

    private sealed class Visitor(string file, IReadOnlyDictionary<string, string> creators, List<Finding> findings) : TSqlFragmentVisitor
    {
        /// <summary>Tables created so far in this file (visited in text order).</summary>
        private readonly HashSet<string> createdHere = new(StringComparer.Ordinal);

        public override void Visit(CreateTableStatement node) => createdHere.Add(SqlText.Key(node.SchemaObjectName));

        public override void Visit(AlterTableAddTableElementStatement node)
        {
            var table = node.SchemaObjectName;
            if (createdHere.Contains(SqlText.Key(table)) || MigrationRules.IsTemporary(table) ||
                node.ExistingRowsCheckEnforcement == ConstraintEnforcement.NoCheck)
            {
                return;
            }

            var constraints = node.Definition.TableConstraints
                .Concat(node.Definition.ColumnDefinitions.SelectMany(c => c.Constraints))
                .Where(c => c is CheckConstraintDefinition or ForeignKeyConstraintDefinition);
            foreach (var constraint in constraints)
            {
                var kind = constraint is CheckConstraintDefinition ? "CHECK" : "FOREIGN KEY";
                var name = constraint.ConstraintIdentifier?.Value;
                var display = SqlText.Display(table);
                var how = node.ExistingRowsCheckEnforcement == ConstraintEnforcement.Check ? "WITH CHECK" : "without WITH NOCHECK";
                findings.Add(new Finding(file, node.StartLine, RuleId,
                    $"{kind} constraint {name ?? "(unnamed)"} is added to the existing table {display}{MigrationRules.CreatedBy(creators, table)} " +
                    $"{how}: SQL Server then reads every row under a schema-modification lock, blocking the table. " +
                    $"Write ALTER TABLE {display} WITH NOCHECK ADD CONSTRAINT {name ?? "<name>"} …; existing rows are verified by " +
                    "'dbmerge constraints validate' and the constraint trusted by 'dbmerge constraints trust'."));
            }
        }
    }
}
