using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Deployment;

/// <summary>
/// Reference data is every table some migration INSERTs into (role lookups and other seed data). Test
/// resets (Respawn) keep these tables; discovered from the migrations, so a future seed table is covered
/// without anyone having to list it.
/// </summary>
public static class ReferenceData
{
    /// <summary>Schema-qualified (schema, table) targets of every INSERT in migrations/, ordinal and distinct.</summary>
    public static IReadOnlyList<(string Schema, string Table)> Tables(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var found = new SortedSet<(string Schema, string Table)>();
        foreach (var migration in layout.Migrations())
        {
            var parser = new TSql150Parser(initialQuotedIdentifiers: true);
            using var reader = new StringReader(migration.Text);
            var fragment = parser.Parse(reader, out var errors);
            if (errors.Count > 0)
            {
                throw new InvalidOperationException($"{migration.RelativePath}:{errors[0].Line}: does not parse: {errors[0].Message}");
            }

            var visitor = new InsertTargets();
            fragment.Accept(visitor);
            foreach (var target in visitor.Targets)
            {
                found.Add(target);
            }
        }

        return [.. found];
    }

    private sealed class InsertTargets : TSqlFragmentVisitor
    {
        public List<(string Schema, string Table)> Targets { get; } = [];

        public override void Visit(InsertSpecification node)
        {
            if (node.Target is NamedTableReference { SchemaObject: { } name } && !name.BaseIdentifier.Value.StartsWith('#'))
            {
                Targets.Add((name.SchemaIdentifier?.Value ?? "dbo", name.BaseIdentifier.Value));
            }
        }
    }
}
