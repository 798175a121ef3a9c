using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM007: no cursor and no row-by-row loop on a data path (every script under database/).
/// <para>Cursors: <c>DECLARE c CURSOR</c>, a <c>CURSOR</c> variable (<c>DECLARE @c CURSOR</c>, <c>SET @c = CURSOR FOR …</c>),
/// <c>OPEN</c> and <c>FETCH</c> are findings.</para>
/// <para>Row-by-row loops — the heuristic, per <c>WHILE</c> loop (its body, nested blocks included):</para>
/// <list type="number">
/// <item>a data-modifying statement (INSERT, UPDATE, DELETE) with <c>TOP (1)</c> is a finding: it works one row per iteration;</item>
/// <item>otherwise the loop is row-by-row when its body <b>picks one row into variables</b> —
///   <c>SELECT TOP (1) @v = …</c>, <c>SELECT @v = MIN(…)</c> / <c>MAX(…)</c>, or <c>SET @v = (SELECT TOP (1) … / MIN / MAX …)</c> —
///   and a statement that <b>uses a picked variable</b> writes data or calls a procedure (INSERT, UPDATE, DELETE, EXEC)
///   without being <b>batched</b>.</item>
/// </list>
/// A statement is batched when it has <c>TOP (n)</c> with n other than the literal 1 (<c>DELETE TOP (@BatchSize) …</c>), or when
/// its WHERE compares a column with a range operator (&lt;, &lt;=, &gt;, &gt;=, BETWEEN) against a variable — a keyset range
/// per iteration (<c>WHERE Id &gt; @From AND Id &lt;= @To</c>). A MIN/MAX or TOP (1) pick over a derived table that itself has
/// <c>TOP (n)</c>, n not 1 (<c>SELECT @To = MAX(Id) FROM (SELECT TOP (@BatchSize) Id … ) AS b</c>), finds a batch boundary, not
/// a row, and is not a pick. So a batched keyset loop passes; <c>SELECT @Id = MIN(Id) … WHERE Id &gt; @Id</c> feeding
/// <c>UPDATE … WHERE Id = @Id</c> does not. A counter loop without a pick (<c>WHILE @i &lt; 10 … SET @i += 1</c>) is not judged.
/// </summary>
public sealed class NoCursorOrRowLoopRule : IHouseRule
{
    public const string RuleId = "DBM007";

    public string Id => RuleId;

    public string Description => "No cursors and no row-by-row WHILE loops on data paths (batched keyset loops are fine).";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            var name = ObjectOf(script);
            foreach (var fragment in Descendants(script.Fragment!))
            {
                var cursor = fragment switch
                {
                    DeclareCursorStatement => "declares a cursor",
                    DeclareVariableElement { DataType: SqlDataTypeReference { SqlDataTypeOption: SqlDataTypeOption.Cursor } } => "declares a CURSOR variable",
                    SetVariableStatement { CursorDefinition: not null } => "assigns a cursor",
                    OpenCursorStatement => "opens a cursor",
                    FetchCursorStatement => "fetches from a cursor",
                    _ => null,
                };
                if (cursor is not null)
                {
                    yield return Finding(script, fragment, RuleId,
                        $"{name} {cursor}: work set-based (one INSERT/UPDATE/DELETE over all rows, OUTPUT … INTO for what you need " +
                        "per row), or in batches over a keyset (TOP (@BatchSize), WHERE key > @LastKey).");
                }

                if (fragment is WhileStatement loop && RowByRow(loop) is { } reason)
                {
                    yield return Finding(script, loop, RuleId,
                        $"{name} has a row-by-row WHILE loop ({reason}): do the work set-based, or batch it — TOP (@BatchSize) DML, " +
                        "or a keyset range per iteration (WHERE key > @From AND key <= @To).");
                }
            }
        }
    }

    /// <summary>Why <paramref name="loop"/> works one row at a time, or null.</summary>
    public static string? RowByRow(WhileStatement loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        var body = Descendants(loop.Statement);
        foreach (var dml in body.OfType<TSqlStatement>().Where(IsDataWrite))
        {
            if (TopOf(dml) is { } top && IsLiteralOne(top))
            {
                return $"{SqlText.StatementKind(dml)} TOP (1) at line {dml.StartLine}";
            }
        }

        var picked = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var node in body)
        {
            switch (node)
            {
                case SelectStatement { QueryExpression: QuerySpecification query }:
                    var assigned = query.SelectElements.OfType<SelectSetVariable>().ToList();
                    if (assigned.Count > 0 && (IsTopOne(query) || assigned.Any(a => IsMinMax(a.Expression))) && !IsBatchBoundary(query))
                    {
                        picked.UnionWith(assigned.Select(a => a.Variable.Name));
                    }

                    break;
                case SetVariableStatement { Expression: ScalarSubquery { QueryExpression: QuerySpecification sub } } set
                    when (IsTopOne(sub) || sub.SelectElements.OfType<SelectScalarExpression>().Any(e => IsMinMax(e.Expression))) && !IsBatchBoundary(sub):
                    picked.Add(set.Variable.Name);
                    break;
            }
        }

        if (picked.Count == 0)
        {
            return null;
        }

        foreach (var statement in body.OfType<TSqlStatement>().Where(s => IsDataWrite(s) || s is ExecuteStatement))
        {
            var uses = All<VariableReference>(statement).Select(v => v.Name).FirstOrDefault(picked.Contains);
            if (uses is null || IsBatched(statement))
            {
                continue;
            }

            return $"one row picked into {uses}, then {SqlText.StatementKind(statement)} at line {statement.StartLine} uses it";
        }

        return null;
    }

    private static bool IsDataWrite(TSqlStatement statement) => statement is InsertStatement or UpdateStatement or DeleteStatement or MergeStatement;

    private static ScalarExpression? TopOf(TSqlStatement statement) => statement switch
    {
        InsertStatement i => i.InsertSpecification.TopRowFilter?.Expression,
        UpdateStatement u => u.UpdateSpecification.TopRowFilter?.Expression,
        DeleteStatement d => d.DeleteSpecification.TopRowFilter?.Expression,
        _ => null,
    };

    private static WhereClause? WhereOf(TSqlStatement statement) => statement switch
    {
        UpdateStatement u => u.UpdateSpecification.WhereClause,
        DeleteStatement d => d.DeleteSpecification.WhereClause,
        InsertStatement { InsertSpecification.InsertSource: SelectInsertSource { Select: QuerySpecification q } } => q.WhereClause,
        _ => null,
    };

    private static bool IsBatched(TSqlStatement statement)
    {
        if (TopOf(statement) is { } top && !IsLiteralOne(top))
        {
            return true;
        }

        var where = WhereOf(statement);
        if (where is null)
        {
            return false;
        }

        foreach (var node in Descendants(where))
        {
            switch (node)
            {
                case BooleanComparisonExpression
                {
                    ComparisonType: BooleanComparisonType.GreaterThan or BooleanComparisonType.GreaterThanOrEqualTo
                    or BooleanComparisonType.LessThan or BooleanComparisonType.LessThanOrEqualTo,
                } range when HasColumnAndVariable(range.FirstExpression, range.SecondExpression):
                    return true;
                case BooleanTernaryExpression between when Descendants(between).OfType<VariableReference>().Any():
                    return true;
            }
        }

        return false;
    }

    private static bool HasColumnAndVariable(ScalarExpression a, ScalarExpression b) =>
        (Descendants(a).OfType<ColumnReferenceExpression>().Any() && Descendants(b).OfType<VariableReference>().Any())
        || (Descendants(b).OfType<ColumnReferenceExpression>().Any() && Descendants(a).OfType<VariableReference>().Any());

    /// <summary>A pick over a derived table that holds a whole batch (<c>MAX(Id) FROM (SELECT TOP (@BatchSize) …)</c>): a keyset boundary, not a row.</summary>
    private static bool IsBatchBoundary(QuerySpecification query) =>
        query.FromClause is not null
        && Descendants(query.FromClause).OfType<QueryDerivedTable>()
            .Any(d => d.QueryExpression is QuerySpecification { TopRowFilter.Expression: { } top } && !IsLiteralOne(top));

    private static bool IsTopOne(QuerySpecification query) =>
        query.TopRowFilter?.Expression is { } top && IsLiteralOne(top);

    private static bool IsLiteralOne(ScalarExpression expression) => expression switch
    {
        IntegerLiteral literal => literal.Value == "1",
        ParenthesisExpression parenthesis => IsLiteralOne(parenthesis.Expression),
        _ => false,
    };

    private static bool IsMinMax(ScalarExpression? expression) => expression switch
    {
        FunctionCall call => Same(call.FunctionName.Value, "MIN") || Same(call.FunctionName.Value, "MAX"),
        ParenthesisExpression parenthesis => IsMinMax(parenthesis.Expression),
        _ => false,
    };
}
