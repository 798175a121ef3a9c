using System.Globalization;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.Merge;

/// <summary>
/// One user-merge policy as the migrations leave it: the row a migration inserted into <c>dbmerge.MergePolicy</c>,
/// with every later UPDATE of that row applied (DESIGN §5, migrations 0010, 0047, 0048).
/// </summary>
/// <param name="File">The migration that inserted the row; <paramref name="Line"/> its line.</param>
public sealed record MergePolicyRow(
    string SchemaName,
    string TableName,
    string ColumnName,
    string Policy,
    string? CollisionKey,
    string? RankTable,
    int ApplyOrder,
    string Description,
    string? RowFilter,
    string File,
    int Line)
{
    /// <summary>The policy kinds dbmerge.MergePolicy allows (CK_dbmerge_MergePolicy_Policy).</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["move", "keep-higher-role", "dedupe", "merge-children", "readdress", "refuse"];

    /// <summary><c>schema.table.column</c>, as messages name the policy.</summary>
    public string Name => $"{SchemaName}.{TableName}.{ColumnName}";

    /// <summary>The collision key's columns (<c>CollisionKey</c> separates them with '|'), empty when none.</summary>
    public IReadOnlyList<string> CollisionKeyColumns =>
        string.IsNullOrWhiteSpace(CollisionKey)
            ? []
            : CollisionKey.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

/// <summary>The policies and what the reader could not interpret (each a finding at its migration line).</summary>
public sealed record MergePolicySet(IReadOnlyList<MergePolicyRow> Rows, IReadOnlyList<Finding> Findings);

/// <summary>
/// Reads the user-merge policies from the migrations — the one source for DBM040, the generator
/// (<c>dbmerge generate merge</c>) and, through the generated code, the run-time coverage check (51105). It replays,
/// in migration order, every <c>INSERT INTO dbmerge.MergePolicy … VALUES</c>, every
/// <c>UPDATE dbmerge.MergePolicy SET Col = literal, … WHERE SchemaName = N'…' AND TableName = N'…' AND ColumnName = N'…'</c>
/// and every <c>DELETE FROM dbmerge.MergePolicy WHERE</c> (same key). Any other statement that writes the table, a value
/// that is not a literal, or a WHERE that does not name exactly one row is a finding: nothing is silently ignored.
/// </summary>
public static class MergePolicySource
{
    /// <summary>The rule id the reader's findings carry (the generator's coverage rule).</summary>
    public const string RuleId = "DBM041";

    private static readonly string[] KeyColumns = ["SchemaName", "TableName", "ColumnName"];

    /// <summary>Replays the policy rows of <paramref name="scripts"/> (migrations/ only; in the order given).</summary>
    public static MergePolicySet Read(IEnumerable<ParsedScript> scripts)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        var rows = new Dictionary<(string, string, string), Row>();
        var order = new List<(string, string, string)>();
        var findings = new List<Finding>();
        foreach (var script in scripts.Where(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal)))
        {
            if (script.ModelFragment is null)
            {
                continue;
            }

            var visitor = new Visitor();
            script.ModelFragment.Accept(visitor);
            foreach (var statement in visitor.Statements)
            {
                Apply(script, statement, rows, order, findings);
            }
        }

        var result = new List<MergePolicyRow>();
        foreach (var key in order.Distinct().Where(rows.ContainsKey))
        {
            var row = rows[key];
            var policy = row.Text("Policy");
            var applyOrder = row.Integer("ApplyOrder");
            var (schema, table, column) = (row.Text("SchemaName")!, row.Text("TableName")!, row.Text("ColumnName")!);
            if (policy is null || applyOrder is null)
            {
                findings.Add(new Finding(row.File, row.Line, RuleId,
                    $"the merge policy row {schema}.{table}.{column} has no literal Policy or ApplyOrder: write both as literals."));
                continue;
            }

            result.Add(new MergePolicyRow(schema, table, column, policy, row.Text("CollisionKey"), row.Text("RankTable"),
                applyOrder.Value, row.Text("Description") ?? string.Empty, row.Text("RowFilter"), row.File, row.Line));
        }

        return new MergePolicySet(result.OrderBy(r => r.ApplyOrder).ToList(), findings);
    }

    private static void Apply(ParsedScript script, TSqlStatement statement, Dictionary<(string, string, string), Row> rows,
        List<(string, string, string)> order, List<Finding> findings)
    {
        var file = script.File.RelativePath;
        switch (statement)
        {
            case InsertStatement insert:
                if (insert.InsertSpecification.InsertSource is not ValuesInsertSource values)
                {
                    findings.Add(new Finding(file, insert.StartLine, RuleId,
                        "dbmerge.MergePolicy is written by INSERT … SELECT/EXEC here: write policy rows as INSERT … VALUES with literals, so the generator and DBM040 can read them."));
                    return;
                }

                var columns = insert.InsertSpecification.Columns.Select(c => c.MultiPartIdentifier.Identifiers[^1].Value).ToList();
                foreach (var rowValues in values.RowValues)
                {
                    var row = new Row(file, rowValues.StartLine);
                    for (var i = 0; i < columns.Count && i < rowValues.ColumnValues.Count; i++)
                    {
                        if (!TryLiteral(rowValues.ColumnValues[i], out var value))
                        {
                            findings.Add(new Finding(file, rowValues.StartLine, RuleId,
                                $"the value of {columns[i]} in this dbmerge.MergePolicy row is not a literal: write literals only."));
                            continue;
                        }

                        row.Values[columns[i]] = value;
                    }

                    if (KeyOf(row) is not { } key)
                    {
                        findings.Add(new Finding(file, rowValues.StartLine, RuleId,
                            "this dbmerge.MergePolicy row lacks a literal SchemaName, TableName or ColumnName."));
                        continue;
                    }

                    if (rows.ContainsKey(key))
                    {
                        findings.Add(new Finding(file, rowValues.StartLine, RuleId,
                            $"the merge policy {row.Text("SchemaName")}.{row.Text("TableName")}.{row.Text("ColumnName")} is inserted twice (PK_dbmerge_MergePolicy would refuse the second)."));
                        continue;
                    }

                    rows[key] = row;
                    order.Add(key);
                }

                return;

            case UpdateStatement update:
            {
                if (update.UpdateSpecification.FromClause is not null || update.UpdateSpecification.OutputClause is not null ||
                    update.UpdateSpecification.TopRowFilter is not null || RowKey(update.UpdateSpecification.WhereClause) is not { } key)
                {
                    findings.Add(new Finding(file, update.StartLine, RuleId,
                        "UPDATE of dbmerge.MergePolicy the generator cannot read: write one UPDATE per policy row, " +
                        "SET Column = literal, … WHERE SchemaName = N'…' AND TableName = N'…' AND ColumnName = N'…' (no FROM, TOP or OUTPUT)."));
                    return;
                }

                if (!rows.TryGetValue(key, out var row))
                {
                    findings.Add(new Finding(file, update.StartLine, RuleId,
                        $"UPDATE of a merge policy no earlier migration inserts (WHERE names {key.Item1}.{key.Item2}.{key.Item3})."));
                    return;
                }

                foreach (var clause in update.UpdateSpecification.SetClauses)
                {
                    if (clause is not AssignmentSetClause { Column: { } column, AssignmentKind: AssignmentKind.Equals } assignment ||
                        !TryLiteral(assignment.NewValue, out var value))
                    {
                        findings.Add(new Finding(file, clause.StartLine, RuleId,
                            "a SET clause of this UPDATE of dbmerge.MergePolicy is not 'Column = literal'."));
                        continue;
                    }

                    var name = column.MultiPartIdentifier.Identifiers[^1].Value;
                    if (KeyColumns.Contains(name, StringComparer.OrdinalIgnoreCase))
                    {
                        findings.Add(new Finding(file, clause.StartLine, RuleId,
                            $"this UPDATE changes {name}, part of the policy's key: delete the row and insert the new one instead."));
                        continue;
                    }

                    row.Values[name] = value;
                }

                return;
            }

            case DeleteStatement delete:
            {
                if (delete.DeleteSpecification.FromClause is not null || delete.DeleteSpecification.TopRowFilter is not null ||
                    RowKey(delete.DeleteSpecification.WhereClause) is not { } key)
                {
                    findings.Add(new Finding(file, delete.StartLine, RuleId,
                        "DELETE from dbmerge.MergePolicy the generator cannot read: delete one row per statement, " +
                        "WHERE SchemaName = N'…' AND TableName = N'…' AND ColumnName = N'…'."));
                    return;
                }

                if (!rows.Remove(key))
                {
                    findings.Add(new Finding(file, delete.StartLine, RuleId,
                        $"DELETE of a merge policy no earlier migration inserts (WHERE names {key.Item1}.{key.Item2}.{key.Item3})."));
                }

                return;
            }

            default:
                findings.Add(new Finding(file, statement.StartLine, RuleId,
                    $"{SqlText.StatementKind(statement)} writes dbmerge.MergePolicy in a way the generator cannot read: use INSERT … VALUES, " +
                    "single-row UPDATE … SET Column = literal and single-row DELETE."));
                return;
        }
    }

    private static (string, string, string)? KeyOf(Row row) =>
        row.Text("SchemaName") is { } s && row.Text("TableName") is { } t && row.Text("ColumnName") is { } c ? Key(s, t, c) : null;

    /// <summary>Keys compare case-insensitively (sysname under a CI collation); rows keep the spelling they were inserted with.</summary>
    private static (string, string, string) Key(string schema, string table, string column) =>
        (schema.ToUpperInvariant(), table.ToUpperInvariant(), column.ToUpperInvariant());

    /// <summary>The row a WHERE names: SchemaName = N'…' AND TableName = N'…' AND ColumnName = N'…' (any order), or null.</summary>
    private static (string, string, string)? RowKey(WhereClause? where)
    {
        if (where?.SearchCondition is not { } condition)
        {
            return null;
        }

        var equalities = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!Conjuncts(condition, equalities) || equalities.Count != 3 || KeyColumns.Any(k => !equalities.ContainsKey(k)))
        {
            return null;
        }

        return Key(equalities["SchemaName"], equalities["TableName"], equalities["ColumnName"]);
    }

    private static bool Conjuncts(BooleanExpression expression, Dictionary<string, string> equalities)
    {
        switch (expression)
        {
            case BooleanParenthesisExpression parenthesis:
                return Conjuncts(parenthesis.Expression, equalities);
            case BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.And } and:
                return Conjuncts(and.FirstExpression, equalities) && Conjuncts(and.SecondExpression, equalities);
            case BooleanComparisonExpression { ComparisonType: BooleanComparisonType.Equals } comparison
                when comparison.FirstExpression is ColumnReferenceExpression column && comparison.SecondExpression is StringLiteral literal:
                return equalities.TryAdd(column.MultiPartIdentifier.Identifiers[^1].Value, literal.Value);
            default:
                return false;
        }
    }

    private static bool TryLiteral(ScalarExpression expression, out object? value)
    {
        switch (expression)
        {
            case StringLiteral s:
                value = s.Value;
                return true;
            case IntegerLiteral i when int.TryParse(i.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number):
                value = number;
                return true;
            case NullLiteral:
                value = null;
                return true;
            case UnaryExpression { UnaryExpressionType: UnaryExpressionType.Negative, Expression: IntegerLiteral n }
                when int.TryParse(n.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var negative):
                value = -negative;
                return true;
            case ParenthesisExpression parenthesis:
                return TryLiteral(parenthesis.Expression, out value);
            default:
                value = null;
                return false;
        }
    }

    private sealed class Row(string file, int line)
    {
        public string File { get; } = file;

        public int Line { get; } = line;

        public Dictionary<string, object?> Values { get; } = new(StringComparer.OrdinalIgnoreCase);

        public string? Text(string column) => Values.TryGetValue(column, out var v) ? v as string : null;

        public int? Integer(string column) => Values.TryGetValue(column, out var v) ? v as int? : null;
    }

    /// <summary>Statements that write dbmerge.MergePolicy, in document order.</summary>
    private sealed class Visitor : TSqlFragmentVisitor
    {
        public List<TSqlStatement> Statements { get; } = [];

        public override void Visit(InsertStatement node) => AddIf(node, node.InsertSpecification.Target);

        public override void Visit(UpdateStatement node) => AddIf(node, node.UpdateSpecification.Target);

        public override void Visit(DeleteStatement node) => AddIf(node, node.DeleteSpecification.Target);

        public override void Visit(MergeStatement node) => AddIf(node, node.MergeSpecification.Target);

        public override void Visit(TruncateTableStatement node)
        {
            if (IsPolicyTable(node.TableName))
            {
                Statements.Add(node);
            }
        }

        private void AddIf(TSqlStatement statement, TableReference? target)
        {
            if (target is NamedTableReference named && IsPolicyTable(named.SchemaObject))
            {
                Statements.Add(statement);
            }
        }

        private static bool IsPolicyTable(SchemaObjectName name) =>
            string.Equals(name.SchemaIdentifier?.Value, "dbmerge", StringComparison.OrdinalIgnoreCase) &&
            string.Equals(name.BaseIdentifier?.Value, "MergePolicy", StringComparison.OrdinalIgnoreCase);
    }
}
