using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// An offline stand-in for SQL Server's error 8622 ("Query processor could not produce a query plan because of the hints
/// defined in this query"): <c>FORCESEEK (IX (A, B))</c> on a table reference needs, for each named column, an equality
/// conjunct <c>alias.A = expression</c> whose expression the plan can evaluate before it seeks — constants, variables, the
/// columns of tables the plan may read first (an outer query's, a table variable's, an unhinted table's, or those of another
/// FORCESEEK table that can itself be sought first). A join of two hinted tables that each need the other's column, or a
/// seek column no predicate fixes, cannot be planned. DacFx resolves the index and column names, never this.
/// </summary>
internal static class ForceSeekSatisfiability
{
    /// <summary>"line N: alias (hint) cannot seek on C" for every FORCESEEK in <paramref name="fragment"/> no join order can serve.</summary>
    public static IReadOnlyList<string> Problems(TSqlFragment fragment)
    {
        var problems = new List<string>();
        var scopes = new ScopeCollector();
        fragment.Accept(scopes);
        foreach (var (from, conditions) in scopes.Scopes)
        {
            var tables = new List<(string Alias, IReadOnlyList<string> SeekColumns, NamedTableReference Reference)>();
            var unhinted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var reference in TablesOf(from, conditions))
            {
                switch (reference)
                {
                    case NamedTableReference named:
                        var alias = named.Alias?.Value ?? named.SchemaObject.BaseIdentifier.Value;
                        var seek = named.TableHints.OfType<ForceSeekTableHint>().FirstOrDefault();
                        if (seek is { ColumnValues.Count: > 0 })
                        {
                            tables.Add((alias, seek.ColumnValues.Select(c => c.MultiPartIdentifier.Identifiers[^1].Value).ToList(), named));
                        }
                        else
                        {
                            unhinted.Add(alias);
                        }

                        break;
                    case VariableTableReference variable:
                        unhinted.Add(variable.Alias?.Value ?? variable.Variable.Name);
                        break;
                    case TableReferenceWithAlias other when other.Alias is not null:
                        unhinted.Add(other.Alias.Value);
                        break;
                }
            }

            if (tables.Count == 0)
            {
                continue;
            }

            var equalities = conditions.SelectMany(Conjuncts).OfType<BooleanComparisonExpression>()
                .Where(c => c.ComparisonType == BooleanComparisonType.Equals).ToList();
            var local = tables.Select(t => t.Alias).Concat(unhinted).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var placed = new HashSet<string>(unhinted, StringComparer.OrdinalIgnoreCase);
            var pending = tables.ToList();
            bool progress;
            do
            {
                progress = false;
                foreach (var table in pending.ToList())
                {
                    if (table.SeekColumns.All(column => equalities.Any(e => Fixes(e, table.Alias, column, local, placed))))
                    {
                        placed.Add(table.Alias);
                        pending.Remove(table);
                        progress = true;
                    }
                }
            }
            while (progress && pending.Count > 0);

            foreach (var table in pending)
            {
                var missing = table.SeekColumns.Where(column => !equalities.Any(e => Fixes(e, table.Alias, column, local, placed))).ToList();
                problems.Add($"line {table.Reference.StartLine}: {table.Alias} (FORCESEEK on {string.Join(", ", table.SeekColumns)}) has no equality on " +
                             $"{string.Join(", ", missing)} that a plan can evaluate before seeking it");
            }
        }

        return problems;
    }

    /// <summary>True when <paramref name="comparison"/> is <c>alias.column = e</c> (either way round) and e reads only what is available.</summary>
    private static bool Fixes(BooleanComparisonExpression comparison, string alias, string column, HashSet<string> local, HashSet<string> placed)
    {
        return Side(comparison.FirstExpression, comparison.SecondExpression) || Side(comparison.SecondExpression, comparison.FirstExpression);

        bool Side(ScalarExpression columnSide, ScalarExpression valueSide)
        {
            if (columnSide is not ColumnReferenceExpression { MultiPartIdentifier.Identifiers: { Count: 2 } parts } ||
                !parts[0].Value.Equals(alias, StringComparison.OrdinalIgnoreCase) || !parts[1].Value.Equals(column, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            var columns = new ColumnCollector();
            valueSide.Accept(columns);
            return columns.Aliases.All(a => !a.Equals(alias, StringComparison.OrdinalIgnoreCase) && (!local.Contains(a) || placed.Contains(a)));
        }
    }

    /// <summary>The conjuncts of a search condition (through AND and parentheses; an OR's branches are no seek predicates).</summary>
    private static IEnumerable<BooleanExpression> Conjuncts(BooleanExpression expression) => expression switch
    {
        BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.And } and => Conjuncts(and.FirstExpression).Concat(Conjuncts(and.SecondExpression)),
        BooleanParenthesisExpression parenthesis => Conjuncts(parenthesis.Expression),
        _ => [expression],
    };

    /// <summary>The table references of one FROM clause (joins flattened; an APPLY's or derived table's inside is its own scope); collects the ON conditions.</summary>
    private static IEnumerable<TableReference> TablesOf(FromClause from, List<BooleanExpression> conditions)
    {
        foreach (var reference in from.TableReferences)
        {
            foreach (var table in Flatten(reference))
            {
                yield return table;
            }
        }

        IEnumerable<TableReference> Flatten(TableReference reference)
        {
            switch (reference)
            {
                case QualifiedJoin join:
                    conditions.Add(join.SearchCondition);
                    return Flatten(join.FirstTableReference).Concat(Flatten(join.SecondTableReference));
                case UnqualifiedJoin apply:
                    return Flatten(apply.FirstTableReference).Concat(Flatten(apply.SecondTableReference));
                case JoinParenthesisTableReference parenthesis:
                    return Flatten(parenthesis.Join);
                default:
                    return [reference];
            }
        }
    }

    /// <summary>Every query or DML specification with a FROM clause: its FROM and its WHERE (the ON conditions are added while flattening).</summary>
    private sealed class ScopeCollector : TSqlFragmentVisitor
    {
        public List<(FromClause From, List<BooleanExpression> Conditions)> Scopes { get; } = [];

        public override void Visit(QuerySpecification node) => Add(node.FromClause, node.WhereClause);

        public override void Visit(UpdateSpecification node) => Add(node.FromClause, node.WhereClause);

        public override void Visit(DeleteSpecification node) => Add(node.FromClause, node.WhereClause);

        private void Add(FromClause? from, WhereClause? where)
        {
            if (from is null)
            {
                return;
            }

            var conditions = new List<BooleanExpression>();
            if (where?.SearchCondition is { } condition)
            {
                conditions.Add(condition);
            }

            Scopes.Add((from, conditions));
        }
    }

    /// <summary>The table aliases the column references of an expression name (two-part names only).</summary>
    private sealed class ColumnCollector : TSqlFragmentVisitor
    {
        public List<string> Aliases { get; } = [];

        public override void Visit(ColumnReferenceExpression node)
        {
            if (node.MultiPartIdentifier is { Identifiers.Count: >= 2 } name)
            {
                Aliases.Add(name.Identifiers[^2].Value);
            }
        }
    }
}
