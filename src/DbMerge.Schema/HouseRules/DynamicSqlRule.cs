using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>A variable whose text is trusted SQL and may be concatenated into dynamic SQL: one object, one variable, and why.</summary>
public sealed record TrustedSqlText(string Object, string Variable, string Reason);

/// <summary>
/// DBM008: dynamic SQL only through <c>sp_executesql</c>, with values as parameters and identifiers through
/// <c>QUOTENAME</c> (every script under database/).
/// <list type="bullet">
/// <item><c>EXEC (@sql)</c>, <c>EXEC ('…' + …)</c> and <c>EXEC @variable</c> (the procedure named by a variable) are findings.</item>
/// <item>The statement and the <c>@params</c> text given to sp_executesql are traced back through every assignment to
///   their variables (DECLARE … =, SET, SET +=, SELECT @v =), recursively through other variables. Each piece concatenated
///   into them must be: a literal; a <c>QUOTENAME(…)</c> call; a number — a variable or parameter of an integer type, or a
///   CONVERT/CAST of one (a number cannot carry SQL); or a CASE / IIF / ISNULL / COALESCE / CONCAT / STRING_AGG /
///   CONVERT / CAST / scalar subquery made only of such pieces. A column, a string parameter, or any other expression
///   concatenated in is a finding at the line where it is concatenated — unless the variable is listed in
///   <see cref="Trusted"/> (SQL text read from the catalog that must run as SQL).</item>
/// <item>A statement that is not a literal needs a <c>@params</c> argument, unless it is built only from literals,
///   QUOTENAME and numbers (then no value reaches it, e.g. DDL over quoted names): a statement with an untraceable
///   piece (e.g. SQL text passed in as a parameter) and no <c>@params</c> is a finding.</item>
/// </list>
/// </summary>
public sealed class DynamicSqlRule : IHouseRule
{
    public const string RuleId = "DBM008";

    /// <summary>
    /// The only variables whose text may be concatenated into dynamic SQL as SQL. Keep it short: each entry is a place
    /// where text is executed as code.
    /// </summary>
    public static IReadOnlyList<TrustedSqlText> Trusted { get; } =
    [
        new("dbmerge.Constraint_ValidateBatch", "@Definition",
            "the CHECK constraint's own definition (sys.check_constraints.definition) is the predicate to evaluate: SQL text " +
            "written by whoever could ALTER the table, executed for an operator-only procedure"),
    ];

    public string Id => RuleId;

    public string Description => "Dynamic SQL only via sp_executesql with parameters; concatenate only literals, QUOTENAME(...) and numbers.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            var name = ObjectOf(script);
            foreach (var execute in All<ExecuteSpecification>(script.Fragment!))
            {
                switch (execute.ExecutableEntity)
                {
                    case ExecutableStringList strings:
                        yield return Finding(script, strings, RuleId,
                            $"{name} runs dynamic SQL with EXEC ({SqlText.TextOf(strings).Trim()}): use EXEC sys.sp_executesql @stmt = @Sql, " +
                            "@params = N'…', with values passed as parameters and identifiers wrapped in QUOTENAME(…).");
                        break;
                    case ExecutableProcedureReference { ProcedureReference.ProcedureVariable: { } variable }:
                        yield return Finding(script, execute.ExecutableEntity, RuleId,
                            $"{name} runs EXEC {variable.Name}: the procedure (or SQL) a variable names cannot be checked; call the procedure " +
                            "by name, or run dynamic SQL with EXEC sys.sp_executesql @stmt = …, @params = …, with QUOTENAME(…) for identifiers.");
                        break;
                }
            }
        }

        foreach (var script in context.DatabaseObjects.Where(s => s.Fragment is not null))
        {
            var modules = ModulesOf(script).ToList();
            var scopes = modules.Count > 0
                ? modules.Select(m => new Scope(script, m.Statement, m.Name, m.Describe, DeclaredTypes(m)))
                : [new Scope(script, script.Fragment!, Path.GetFileNameWithoutExtension(script.File.RelativePath), ObjectOf(script), DeclaredTypes(script.Fragment!))];
            foreach (var scope in scopes)
            {
                foreach (var finding in CheckSpExecuteSql(scope))
                {
                    yield return finding;
                }
            }
        }
    }

    /// <summary>Where variables are traced: a module (procedure, function), or a whole script that creates none.</summary>
    private sealed record Scope(ParsedScript Script, TSqlFragment Root, string Name, string Describe, IReadOnlyDictionary<string, string> Types);

    private static IEnumerable<Finding> CheckSpExecuteSql(Scope module)
    {
        var types = module.Types;
        var reported = new HashSet<(int, string)>();
        foreach (var call in All<ExecutableProcedureReference>(module.Root).Where(IsSpExecuteSql))
        {
            var statement = Argument(call, "@stmt", 0);
            var parameters = Argument(call, "@params", 1);
            if (statement is null)
            {
                continue;
            }

            var unsafeStatement = new List<(TSqlFragment At, string What)>();
            var tracer = new Tracer(module, types);
            tracer.Check(statement, unsafeStatement);
            var unsafeAll = unsafeStatement.ToList();
            if (parameters is not null)
            {
                tracer.Check(parameters, unsafeAll);
            }

            foreach (var (at, what) in unsafeAll)
            {
                if (!reported.Add((at.StartLine, what)))
                {
                    continue;
                }

                var verb = ReferenceEquals(at, statement) || ReferenceEquals(at, parameters) ? "passes" : "concatenates";
                yield return Finding(module.Script, at, RuleId,
                    $"{module.Describe} {verb} {what} into dynamic SQL run by sp_executesql at line {call.StartLine}: pass values as " +
                    "sp_executesql parameters (@params) and wrap identifiers in QUOTENAME(…).");
            }

            if (parameters is null && statement is not StringLiteral && unsafeStatement.Count > 0)
            {
                yield return Finding(module.Script, call, RuleId,
                    $"{module.Describe} calls sp_executesql without @params although its statement {SqlText.TextOf(statement)} is not built " +
                    "from literals, QUOTENAME(…) and numbers only: declare the values as parameters (@params = N'@X int', @X = @X).");
            }
        }
    }

    private static ScalarExpression? Argument(ExecutableProcedureReference call, string name, int position)
    {
        var named = call.Parameters.FirstOrDefault(p => Same(p.Variable?.Name, name));
        if (named is not null)
        {
            return named.ParameterValue;
        }

        return position < call.Parameters.Count && call.Parameters[position].Variable is null
            ? call.Parameters[position].ParameterValue
            : null;
    }

    private sealed record Part(TSqlFragment At, string What, bool Direct);

    private sealed class Tracer(Scope module, IReadOnlyDictionary<string, string> types)
    {
        private readonly Dictionary<string, List<Part>> cache = new(StringComparer.OrdinalIgnoreCase);
        private readonly HashSet<string> tracing = new(StringComparer.OrdinalIgnoreCase);

        /// <summary>Adds the unsafe pieces of an sp_executesql argument to <paramref name="unsafeParts"/>.</summary>
        public void Check(ScalarExpression expression, List<(TSqlFragment At, string What)> unsafeParts)
        {
            var parts = new List<Part>();
            if (expression is VariableReference variable)
            {
                parts.AddRange(TraceVariable(variable));
            }
            else
            {
                Piece(expression, null, parts);
            }

            unsafeParts.AddRange(parts.Select(p => (p.At, p.What)));
        }

        private List<Part> TraceVariable(VariableReference variable)
        {
            if (cache.TryGetValue(variable.Name, out var known))
            {
                return known;
            }

            var result = new List<Part>();
            if (!tracing.Add(variable.Name))
            {
                return result;
            }

            if (IsNumber(variable) || IsTrusted(variable.Name))
            {
                tracing.Remove(variable.Name);
                cache[variable.Name] = result;
                return result;
            }

            var assignments = Assignments(module.Root, variable.Name);
            if (assignments.Count == 0)
            {
                result.Add(new Part(variable, $"{variable.Name} (a parameter or never-assigned variable: text the procedure did not build)", true));
            }

            foreach (var (value, _, _) in assignments)
            {
                Piece(value, variable.Name, result);
            }

            tracing.Remove(variable.Name);
            cache[variable.Name] = result;
            return result;
        }

        private void Piece(ScalarExpression? expression, string? self, List<Part> unsafeParts)
        {
            switch (expression)
            {
                case null:
                case StringLiteral or NullLiteral or IntegerLiteral or NumericLiteral:
                    return;
                case ParenthesisExpression parenthesis:
                    Piece(parenthesis.Expression, self, unsafeParts);
                    return;
                case BinaryExpression { BinaryExpressionType: BinaryExpressionType.Add } add:
                    Piece(add.FirstExpression, self, unsafeParts);
                    Piece(add.SecondExpression, self, unsafeParts);
                    return;
                case FunctionCall call when Same(call.FunctionName.Value, "QUOTENAME"):
                    return;
                case FunctionCall call when Same(call.FunctionName.Value, "STRING_AGG") || Same(call.FunctionName.Value, "CONCAT")
                                            || Same(call.FunctionName.Value, "CONCAT_WS") || Same(call.FunctionName.Value, "ISNULL"):
                    foreach (var argument in call.Parameters)
                    {
                        Piece(argument, self, unsafeParts);
                    }

                    return;
                case CoalesceExpression coalesce:
                    foreach (var argument in coalesce.Expressions)
                    {
                        Piece(argument, self, unsafeParts);
                    }

                    return;
                case IIfCall iif:
                    Piece(iif.ThenExpression, self, unsafeParts);
                    Piece(iif.ElseExpression, self, unsafeParts);
                    return;
                case SearchedCaseExpression searched:
                    foreach (var when in searched.WhenClauses)
                    {
                        Piece(when.ThenExpression, self, unsafeParts);
                    }

                    Piece(searched.ElseExpression, self, unsafeParts);
                    return;
                case SimpleCaseExpression simple:
                    foreach (var when in simple.WhenClauses)
                    {
                        Piece(when.ThenExpression, self, unsafeParts);
                    }

                    Piece(simple.ElseExpression, self, unsafeParts);
                    return;
                case ConvertCall convert:
                    Conversion(convert.DataType, convert.Parameter, self, unsafeParts);
                    return;
                case CastCall cast:
                    Conversion(cast.DataType, cast.Parameter, self, unsafeParts);
                    return;
                case ScalarSubquery { QueryExpression: QuerySpecification { SelectElements: [SelectScalarExpression only] } }:
                    Piece(only.Expression, self, unsafeParts);
                    return;
                case VariableReference variable when self is not null && Same(variable.Name, self):
                    return;
                case VariableReference variable:
                    foreach (var part in TraceVariable(variable))
                    {
                        // A variable assigned an unsafe value is reported where it is concatenated; a deeper
                        // concatenation site was reported already and is passed on unchanged.
                        unsafeParts.Add(part.Direct
                            ? new Part(variable, part.At is VariableReference ? part.What : $"{variable.Name} (assigned {part.What} at line {part.At.StartLine})", false)
                            : part);
                    }

                    return;
                case ColumnReferenceExpression column:
                    unsafeParts.Add(new Part(column, $"column {SqlText.TextOf(column)}", true));
                    return;
                default:
                    unsafeParts.Add(new Part(expression, $"'{Shorten(SqlText.TextOf(expression))}'", true));
                    return;
            }
        }

        private void Conversion(DataTypeReference type, ScalarExpression inner, string? self, List<Part> unsafeParts)
        {
            if (IsIntegerType(TypeName(type)) || IsNumeric(inner))
            {
                return;
            }

            Piece(inner, self, unsafeParts);
        }

        private bool IsNumeric(ScalarExpression expression) => expression switch
        {
            IntegerLiteral or NumericLiteral => true,
            ParenthesisExpression p => IsNumeric(p.Expression),
            VariableReference v => IsNumber(v),
            ConvertCall c => IsIntegerType(TypeName(c.DataType)),
            CastCall c => IsIntegerType(TypeName(c.DataType)),
            _ => false,
        };

        private bool IsNumber(VariableReference variable) =>
            types.TryGetValue(variable.Name, out var type) && IsIntegerType(type);

        private bool IsTrusted(string variable) =>
            Trusted.Any(t => string.Equals(t.Object, module.Name, StringComparison.OrdinalIgnoreCase) && Same(t.Variable, variable));

        private static string Shorten(string text)
        {
            text = text.ReplaceLineEndings(" ");
            return text.Length <= 50 ? text : text[..47] + "...";
        }
    }
}
