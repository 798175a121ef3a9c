using System.Text;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.Merge;

/// <summary>
/// A search condition over one table's columns, written without a table alias (a policy's RowFilter, a filtered
/// index's filter): parsed with ScriptDom so the generator can qualify its columns with an alias and reason about its
/// conjuncts.
/// </summary>
public sealed class SqlPredicate
{
    private readonly string _text;
    private readonly BooleanExpression _condition;

    private SqlPredicate(string text, BooleanExpression condition)
    {
        _text = text;
        _condition = condition;
    }

    /// <summary>The conjuncts (top-level AND terms), normalized for comparison (no brackets, single spaces, upper case).</summary>
    public IReadOnlyList<string> Conjuncts => Split(_condition).Select(Normalize).ToList();

    /// <summary>Columns the predicate fixes to a literal (<c>Status = 'pending'</c>), by normalized name.</summary>
    public IReadOnlySet<string> EqualityColumns =>
        Split(_condition)
            .OfType<BooleanComparisonExpression>()
            .Where(c => c.ComparisonType == BooleanComparisonType.Equals && c.FirstExpression is ColumnReferenceExpression && c.SecondExpression is Literal)
            .Select(c => ((ColumnReferenceExpression)c.FirstExpression).MultiPartIdentifier.Identifiers[^1].Value.ToUpperInvariant())
            .ToHashSet();

    /// <summary>Every column the predicate references (unqualified names).</summary>
    public IReadOnlyList<string> Columns => ColumnReferences().Select(c => c.MultiPartIdentifier.Identifiers[^1].Value).Distinct(StringComparer.OrdinalIgnoreCase).ToList();

    public static SqlPredicate? TryParse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "it is empty";
            return null;
        }

        var fragment = new TSql150Parser(initialQuotedIdentifiers: true).Parse(new StringReader("SELECT 1 WHERE " + text), out var errors);
        if (errors.Count > 0)
        {
            error = errors[0].Message;
            return null;
        }

        if (fragment is not TSqlScript { Batches: [{ Statements: [SelectStatement { QueryExpression: QuerySpecification { WhereClause.SearchCondition: { } condition } }] }] })
        {
            error = "it is not a single search condition";
            return null;
        }

        return new SqlPredicate(text.Trim(), condition);
    }

    /// <summary>The predicate with every column reference qualified by <paramref name="alias"/> (<c>s.Status = 'pending'</c>).</summary>
    public string Qualify(string alias)
    {
        var starts = ColumnReferences().Where(c => c.MultiPartIdentifier.Count == 1).Select(c => c.FirstTokenIndex).ToHashSet();
        var tokens = _condition.ScriptTokenStream;
        var text = new StringBuilder();
        for (var i = _condition.FirstTokenIndex; i <= _condition.LastTokenIndex; i++)
        {
            if (starts.Contains(i))
            {
                text.Append(alias).Append('.');
            }

            text.Append(tokens[i].TokenType is TSqlTokenType.WhiteSpace ? " " : tokens[i].Text);
        }

        return text.ToString();
    }

    /// <summary>True when every conjunct of this predicate (an index filter) is implied by <c>column = value</c> and <paramref name="with"/>.</summary>
    public bool IsImpliedBy(string column, SqlPredicate? with)
    {
        var known = with?.Conjuncts.ToHashSet(StringComparer.Ordinal) ?? [];
        var notNull = Normalize($"{column} IS NOT NULL");
        return Conjuncts.All(c => c == notNull || known.Contains(c));
    }

    public override string ToString() => _text;

    private IEnumerable<ColumnReferenceExpression> ColumnReferences()
    {
        var visitor = new ColumnVisitor();
        _condition.Accept(visitor);
        return visitor.Columns;
    }

    private static IEnumerable<BooleanExpression> Split(BooleanExpression expression) => expression switch
    {
        BooleanParenthesisExpression p => Split(p.Expression),
        BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.And } and => Split(and.FirstExpression).Concat(Split(and.SecondExpression)),
        _ => [expression],
    };

    private static string Normalize(BooleanExpression expression)
    {
        var text = new StringBuilder();
        for (var i = expression.FirstTokenIndex; i <= expression.LastTokenIndex; i++)
        {
            var token = expression.ScriptTokenStream[i];
            switch (token.TokenType)
            {
                case TSqlTokenType.WhiteSpace or TSqlTokenType.SingleLineComment or TSqlTokenType.MultilineComment:
                    text.Append(' ');
                    break;
                case TSqlTokenType.QuotedIdentifier:
                    text.Append(token.Text.Trim('[', ']', '"'));
                    break;
                case TSqlTokenType.LeftParenthesis or TSqlTokenType.RightParenthesis:
                    break;
                default:
                    text.Append(token.Text);
                    break;
            }
        }

        return Normalize(text.ToString());
    }

    private static string Normalize(string text) =>
        string.Join(' ', text.Replace("(", " ", StringComparison.Ordinal).Replace(")", " ", StringComparison.Ordinal)
            .Replace("[", string.Empty, StringComparison.Ordinal).Replace("]", string.Empty, StringComparison.Ordinal)
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToUpperInvariant();

    private sealed class ColumnVisitor : TSqlFragmentVisitor
    {
        public List<ColumnReferenceExpression> Columns { get; } = [];

        public override void Visit(ColumnReferenceExpression node) => Columns.Add(node);
    }
}
