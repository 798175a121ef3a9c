using System.Text;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>What kind of re-runnable object a <see cref="DatabaseModule"/> is.</summary>
public enum ModuleKind
{
    Procedure,
    Function,
    View,
}

/// <summary>
/// One procedure, function or view found in a database/ script: its CREATE statement, its name as written
/// (<c>schema.Name</c>) and its body statements.
/// </summary>
public sealed record DatabaseModule(ParsedScript Script, TSqlStatement Statement, ModuleKind Kind, string Name, IReadOnlyList<TSqlStatement> Body)
{
    public string File => Script.File.RelativePath;

    /// <summary>"procedure api.User_Find", "function dbmerge.Path_Step", …: how messages name the object.</summary>
    public string Describe => $"{Kind.ToString().ToLowerInvariant()} {Name}";
}

/// <summary>Shared helpers of the procedure house rules (DBM001–DBM019): module discovery, tree walks, findings.</summary>
public static class ProcedureRuleSupport
{
    /// <summary>Every procedure, function and view created in a database/ script that parsed.</summary>
    public static IEnumerable<DatabaseModule> Modules(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var script in context.DatabaseObjects)
        {
            foreach (var module in ModulesOf(script))
            {
                yield return module;
            }
        }
    }

    /// <summary>Every procedure created in a database/ script that parsed.</summary>
    public static IEnumerable<DatabaseModule> Procedures(HouseRuleContext context) =>
        Modules(context).Where(m => m.Kind == ModuleKind.Procedure);

    /// <summary>The modules a script creates (normally exactly one).</summary>
    public static IEnumerable<DatabaseModule> ModulesOf(ParsedScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        if (script.Fragment is not TSqlScript tsql)
        {
            yield break;
        }

        foreach (var statement in tsql.Batches.SelectMany(b => b.Statements))
        {
            switch (statement)
            {
                case ProcedureStatementBody procedure when procedure is CreateProcedureStatement or CreateOrAlterProcedureStatement:
                    yield return new DatabaseModule(script, statement, ModuleKind.Procedure,
                        SqlText.Display(procedure.ProcedureReference.Name), BodyOf(procedure.StatementList));
                    break;
                case FunctionStatementBody function when function is CreateFunctionStatement or CreateOrAlterFunctionStatement:
                    yield return new DatabaseModule(script, statement, ModuleKind.Function,
                        SqlText.Display(function.Name), BodyOf(function.StatementList));
                    break;
                case ViewStatementBody view when view is CreateViewStatement or CreateOrAlterViewStatement:
                    yield return new DatabaseModule(script, statement, ModuleKind.View,
                        SqlText.Display(view.SchemaObjectName), []);
                    break;
            }
        }
    }

    /// <summary>How messages name a script's object: its first module, else the file name without .sql.</summary>
    public static string ObjectOf(ParsedScript script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var module = ModulesOf(script).FirstOrDefault();
        return module?.Describe ?? $"file {Path.GetFileNameWithoutExtension(script.File.RelativePath)}";
    }

    /// <summary>The statements of a body: the statements inside a single outer BEGIN … END, or the list itself.</summary>
    public static IReadOnlyList<TSqlStatement> BodyOf(StatementList? list)
    {
        if (list is null)
        {
            return [];
        }

        return list.Statements is [BeginEndBlockStatement block]
            ? [.. block.StatementList.Statements]
            : [.. list.Statements];
    }

    /// <summary>Every fragment under <paramref name="root"/> (itself included), in document order.</summary>
    public static IReadOnlyList<TSqlFragment> Descendants(TSqlFragment root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var collector = new AllFragmentsVisitor();
        root.Accept(collector);
        return collector.Found;
    }

    /// <summary>Every fragment of type <typeparamref name="T"/> under <paramref name="root"/>.</summary>
    public static IEnumerable<T> All<T>(TSqlFragment root)
        where T : TSqlFragment =>
        Descendants(root).OfType<T>();

    /// <summary>Every fragment of type <typeparamref name="T"/> in the statements.</summary>
    public static IEnumerable<T> All<T>(IEnumerable<TSqlStatement> statements)
        where T : TSqlFragment =>
        statements.SelectMany(All<T>);

    public static Finding Finding(ParsedScript script, TSqlFragment at, string rule, string message) =>
        new(script.File.RelativePath, at.StartLine, rule, message);

    /// <summary>The statements of a statement list or block, flattened through BEGIN … END blocks.</summary>
    public static IEnumerable<TSqlStatement> Flatten(TSqlStatement statement)
    {
        if (statement is BeginEndBlockStatement block)
        {
            foreach (var inner in block.StatementList.Statements.SelectMany(Flatten))
            {
                yield return inner;
            }
        }
        else
        {
            yield return statement;
        }
    }

    /// <summary>
    /// The declared types of a module's variables and parameters, by lower-case name (<c>@userid</c>):
    /// the base type name in lower case (<c>int</c>, <c>nvarchar</c>, …).
    /// </summary>
    public static IReadOnlyDictionary<string, string> DeclaredTypes(DatabaseModule module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var types = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var parameters = module.Statement switch
        {
            ProcedureStatementBody p => p.Parameters,
            FunctionStatementBody f => f.Parameters,
            _ => null,
        };
        foreach (var parameter in parameters ?? [])
        {
            types[parameter.VariableName.Value] = TypeName(parameter.DataType);
        }

        foreach (var (name, type) in DeclaredTypes(module.Statement))
        {
            types[name] = type;
        }

        return types;
    }

    /// <summary>The types of the variables DECLAREd under <paramref name="root"/>, by name (<c>@userid</c> → <c>int</c>).</summary>
    public static IReadOnlyDictionary<string, string> DeclaredTypes(TSqlFragment root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var types = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var element in All<DeclareVariableElement>(root))
        {
            types[element.VariableName.Value] = TypeName(element.DataType);
        }

        return types;
    }

    public static string TypeName(DataTypeReference? type) =>
        type?.Name?.BaseIdentifier?.Value?.ToLowerInvariant() ?? string.Empty;

    public static bool IsIntegerType(string typeName) =>
        typeName is "tinyint" or "smallint" or "int" or "bigint" or "bit";

    /// <summary>
    /// Every expression assigned to <paramref name="variable"/> in the module (DECLARE … = x, SET @v = x,
    /// SET @v += x, SELECT @v = x), with whether it appends to the variable's previous value.
    /// </summary>
    public static IReadOnlyList<(ScalarExpression Value, bool Appends, TSqlFragment At)> Assignments(TSqlFragment module, string variable)
    {
        ArgumentNullException.ThrowIfNull(module);
        var found = new List<(ScalarExpression, bool, TSqlFragment)>();
        foreach (var fragment in Descendants(module))
        {
            switch (fragment)
            {
                case DeclareVariableElement declare when Same(declare.VariableName.Value, variable) && declare.Value is not null:
                    found.Add((declare.Value, false, declare));
                    break;
                case SetVariableStatement set when Same(set.Variable.Name, variable) && set.Expression is not null:
                    found.Add((set.Expression, set.AssignmentKind != AssignmentKind.Equals, set));
                    break;
                case SelectSetVariable select when Same(select.Variable.Name, variable) && select.Expression is not null:
                    found.Add((select.Expression, select.AssignmentKind != AssignmentKind.Equals, select));
                    break;
            }
        }

        return found;
    }

    /// <summary>Variables assigned to anywhere in <paramref name="fragment"/> (SET, SELECT @v =, FETCH INTO, OUTPUT).</summary>
    public static ISet<string> AssignedVariables(TSqlFragment fragment)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var node in Descendants(fragment))
        {
            switch (node)
            {
                case SetVariableStatement set:
                    names.Add(set.Variable.Name);
                    break;
                case SelectSetVariable select:
                    names.Add(select.Variable.Name);
                    break;
            }
        }

        return names;
    }

    /// <summary>Case-insensitive identifier comparison (T-SQL variables and default collations).</summary>
    public static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    /// <summary>The comments before <paramref name="statement"/> in its batch's token stream (the object's header).</summary>
    public static string HeaderComment(TSqlStatement statement)
    {
        ArgumentNullException.ThrowIfNull(statement);
        var builder = new StringBuilder();
        var tokens = statement.ScriptTokenStream;
        if (tokens is null)
        {
            return string.Empty;
        }

        for (var i = 0; i < statement.FirstTokenIndex && i < tokens.Count; i++)
        {
            if (tokens[i].TokenType is TSqlTokenType.MultilineComment or TSqlTokenType.SingleLineComment)
            {
                builder.AppendLine(tokens[i].Text);
            }
        }

        return builder.ToString();
    }

    /// <summary>The text of a string literal, or null.</summary>
    public static string? LiteralText(ScalarExpression? expression) => expression switch
    {
        StringLiteral s => s.Value,
        ParenthesisExpression p => LiteralText(p.Expression),
        _ => null,
    };

    /// <summary>The name of a procedure reference as written (<c>sys.sp_getapplock</c>), or null for EXEC @variable.</summary>
    public static string? ProcedureName(ExecutableProcedureReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var name = reference.ProcedureReference?.ProcedureReference?.Name;
        return name is null ? null : SqlText.Display(name);
    }

    /// <summary>True when <paramref name="reference"/> calls sp_executesql (any schema, any case).</summary>
    public static bool IsSpExecuteSql(ExecutableProcedureReference reference) =>
        Same(reference.ProcedureReference?.ProcedureReference?.Name?.BaseIdentifier?.Value, "sp_executesql");

    private sealed class AllFragmentsVisitor : TSqlFragmentVisitor
    {
        public List<TSqlFragment> Found { get; } = [];

        public override void Visit(TSqlFragment node)
        {
            Found.Add(node);
            base.Visit(node);
        }
    }
}
