using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.Rules;

/// <summary>
/// DBM040: every foreign key that references <c>app.User</c> has a user-merge policy, i.e. a row
/// (SchemaName, TableName, ColumnName) the migrations leave in <c>dbmerge.MergePolicy</c>. Foreign keys
/// come from the replayed model; policy rows from <see cref="Merge.MergePolicySource"/> (INSERT, UPDATE, DELETE replayed). An
/// unhandled foreign key is reported at the migration line that declares it. The same check runs at merge time
/// in <c>dbmerge.User_MergeCore</c> (error 51105) against sys.foreign_keys.
/// </summary>
public sealed class MergePolicyCoverageRule : IModelRule
{
    public const string RuleId = "DBM040";

    public string Id => RuleId;

    public IEnumerable<Finding> Check(ModelRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var migrations = context.Scripts
            .Where(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal))
            .ToList();
        var policies = PolicyRows(migrations);
        foreach (var foreignKey in ForeignKeysToUser(context.Model))
        {
            foreach (var column in foreignKey.Columns)
            {
                if (policies.Contains(new PolicyKey(foreignKey.Schema, foreignKey.Table, column)))
                {
                    continue;
                }

                var (file, line) = Locate(migrations, foreignKey, column);
                yield return new Finding(file, line, RuleId,
                    $"Foreign key {foreignKey.Name} ({foreignKey.Schema}.{foreignKey.Table}.{column} → app.User) has no user-merge policy: " +
                    "add a row for it to dbmerge.MergePolicy in a new migration (INSERT INTO dbmerge.MergePolicy …), then run " +
                    "'dbmerge generate merge', or the merge will refuse to run (51105).");
            }
        }
    }

    /// <summary>
    /// Policy rows (schema, table, column) the migrations leave in dbmerge.MergePolicy, compared case-insensitively: the one
    /// policy source (<see cref="Merge.MergePolicySource"/>) the generator and the run-time check 51105 use too.
    /// </summary>
    public static IReadOnlySet<PolicyKey> PolicyRows(IEnumerable<ParsedScript> migrations) =>
        Merge.MergePolicySource.Read(migrations).Rows.Select(r => new PolicyKey(r.SchemaName, r.TableName, r.ColumnName)).ToHashSet();

    /// <summary>Every foreign key of the model whose referenced table is app.User.</summary>
    public static IReadOnlyList<UserForeignKey> ForeignKeysToUser(TSqlModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new List<UserForeignKey>();
        foreach (var fk in model.GetObjects(DacQueryScopes.UserDefined, ForeignKeyConstraint.TypeClass))
        {
            var referenced = fk.GetReferenced(ForeignKeyConstraint.ForeignTable).FirstOrDefault();
            if (referenced is null || !IsUserTable(referenced.Name.Parts))
            {
                continue;
            }

            var host = fk.GetReferenced(ForeignKeyConstraint.Host).FirstOrDefault();
            if (host is null || host.Name.Parts.Count < 2)
            {
                continue;
            }

            var columns = fk.GetReferenced(ForeignKeyConstraint.Columns).Select(c => c.Name.Parts[^1]).ToList();
            var name = fk.Name.Parts.Count > 0 ? fk.Name.Parts[^1] : $"(unnamed foreign key on {host.Name})";
            result.Add(new UserForeignKey(name, host.Name.Parts[^2], host.Name.Parts[^1], columns));
        }

        return result;
    }

    private static bool IsUserTable(IList<string> parts) =>
        parts.Count >= 2 &&
        string.Equals(parts[^2], "app", StringComparison.OrdinalIgnoreCase) &&
        string.Equals(parts[^1], "User", StringComparison.OrdinalIgnoreCase);

    /// <summary>The migration and line declaring the foreign key (by constraint name, else by table and column).</summary>
    private static (string File, int Line) Locate(IReadOnlyList<ParsedScript> migrations, UserForeignKey foreignKey, string column)
    {
        (string File, int Line)? byColumn = null;
        foreach (var script in migrations)
        {
            if (script.ModelFragment is null)
            {
                continue;
            }

            var visitor = new ForeignKeyLocator();
            script.ModelFragment.Accept(visitor);
            foreach (var found in visitor.Found)
            {
                if (!IsUserTable(found.ReferencedParts) ||
                    !string.Equals(found.Schema, foreignKey.Schema, StringComparison.OrdinalIgnoreCase) ||
                    !string.Equals(found.Table, foreignKey.Table, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (found.Name is not null && string.Equals(found.Name, foreignKey.Name, StringComparison.OrdinalIgnoreCase))
                {
                    return (script.File.RelativePath, found.Line);
                }

                if (found.Columns.Contains(column, StringComparer.OrdinalIgnoreCase))
                {
                    byColumn ??= (script.File.RelativePath, found.Line);
                }
            }
        }

        return byColumn ?? (string.Empty, 0);
    }

    public readonly record struct PolicyKey
    {
        public PolicyKey(string schema, string table, string column)
        {
            Schema = schema.ToUpperInvariant();
            Table = table.ToUpperInvariant();
            Column = column.ToUpperInvariant();
        }

        public string Schema { get; }

        public string Table { get; }

        public string Column { get; }
    }

    public sealed record UserForeignKey(string Name, string Schema, string Table, IReadOnlyList<string> Columns);

    private sealed record FoundForeignKey(string? Name, string Schema, string Table, IReadOnlyList<string> Columns, IList<string> ReferencedParts, int Line);

    private sealed class ForeignKeyLocator : TSqlFragmentVisitor
    {
        public List<FoundForeignKey> Found { get; } = [];

        public override void Visit(CreateTableStatement node)
        {
            var (schema, table) = Names(node.SchemaObjectName);
            foreach (var constraint in node.Definition?.TableConstraints ?? [])
            {
                Add(constraint, schema, table, null);
            }

            foreach (var column in node.Definition?.ColumnDefinitions ?? [])
            {
                foreach (var constraint in column.Constraints)
                {
                    Add(constraint, schema, table, column.ColumnIdentifier.Value);
                }
            }
        }

        public override void Visit(AlterTableAddTableElementStatement node)
        {
            var (schema, table) = Names(node.SchemaObjectName);
            foreach (var constraint in node.Definition?.TableConstraints ?? [])
            {
                Add(constraint, schema, table, null);
            }

            foreach (var column in node.Definition?.ColumnDefinitions ?? [])
            {
                foreach (var constraint in column.Constraints)
                {
                    Add(constraint, schema, table, column.ColumnIdentifier.Value);
                }
            }
        }

        private void Add(ConstraintDefinition constraint, string schema, string table, string? columnName)
        {
            if (constraint is not ForeignKeyConstraintDefinition fk)
            {
                return;
            }

            var columns = fk.Columns.Count > 0
                ? fk.Columns.Select(c => c.Value).ToList()
                : columnName is null ? [] : [columnName];
            var referenced = fk.ReferenceTableName.Identifiers.Select(i => i.Value).ToList();
            Found.Add(new FoundForeignKey(fk.ConstraintIdentifier?.Value, schema, table, columns, referenced, fk.StartLine));
        }

        private static (string Schema, string Table) Names(SchemaObjectName name) =>
            (name.SchemaIdentifier?.Value ?? "dbo", name.BaseIdentifier?.Value ?? string.Empty);
    }
}
