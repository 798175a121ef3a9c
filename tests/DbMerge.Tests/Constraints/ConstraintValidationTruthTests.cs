using DbMerge.Deployment.ConstraintValidation;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Constraints;

/// <summary>
/// Constraint validation tells the truth (issue 11, item 8), checked offline on the procedure's syntax tree: every part
/// of the dynamic statement that the caller's metadata visibility can turn into NULL is tested and refused with a
/// numbered error before the statement runs (sp_executesql runs nothing for a NULL statement, which used to end in
/// "done, 0 violations"); the table permissions the dynamic SQL needs are checked first; and no row estimate needs
/// VIEW DATABASE STATE. The same properties are proven against SQL Server by ConstraintOperatorPermissionTests.
/// </summary>
public sealed class ConstraintValidationTruthTests
{
    private const string ValidateBatch = "database/dbmerge/Procedures/dbmerge.Constraint_ValidateBatch.sql";
    private const string Trust = "database/dbmerge/Procedures/dbmerge.Constraint_Trust.sql";

    private static CreateOrAlterProcedureStatement Procedure(string file) => ProcedureContract.Parse(file).Procedure;

    /// <summary>The IF statements whose predicate mentions <paramref name="variable"/> IS NULL and whose branch throws <paramref name="number"/>.</summary>
    private static List<IfStatement> NullGuards(TSqlFragment procedure, string variable, int number) =>
        ProcedureRuleSupport.All<IfStatement>(procedure)
            .Where(i => ProcedureRuleSupport.All<BooleanIsNullExpression>(i.Predicate)
                            .Any(n => !n.IsNot && n.Expression is VariableReference v && string.Equals(v.Name, variable, StringComparison.OrdinalIgnoreCase)))
            .Where(i => ProcedureContract.ThrownNumbers(i.ThenStatement).Contains(number))
            .ToList();

    private static int FirstLineOf(TSqlFragment procedure, Func<TSqlFragment, bool> match) =>
        ProcedureRuleSupport.Descendants(procedure).Where(match).Select(f => f.StartLine).DefaultIfEmpty(int.MaxValue).Min();

    private static bool IsSpExecuteSql(TSqlFragment f) =>
        f is ExecutableProcedureReference reference && ProcedureRuleSupport.IsSpExecuteSql(reference);

    [Theory]
    [InlineData("@Definition", 51411)]
    [InlineData("@ParentTable", 51412)]
    [InlineData("@JoinList", 51412)]
    [InlineData("@Sql", 51414)]
    [InlineData("@Predicate", 51414)]
    public void Every_part_of_the_statement_that_can_read_as_NULL_is_refused_with_its_number_before_sp_executesql(string variable, int number)
    {
        var procedure = Procedure(ValidateBatch);
        var execute = FirstLineOf(procedure, IsSpExecuteSql);
        Assert.NotEqual(int.MaxValue, execute);

        var guards = NullGuards(procedure, variable, number);

        var guard = Assert.Single(guards);
        Assert.True(guard.StartLine < execute, $"the {variable} IS NULL guard (line {guard.StartLine}) must come before sp_executesql (line {execute})");
    }

    [Fact]
    public void The_CHECK_definition_is_tested_for_NULL_before_it_is_put_into_the_predicate()
    {
        var procedure = Procedure(ValidateBatch);
        var guard = Assert.Single(NullGuards(procedure, "@Definition", 51411));
        var use = FirstLineOf(procedure, f => f is SetVariableStatement set && set.Variable.Name.Equals("@Predicate", StringComparison.OrdinalIgnoreCase)
                                             && ProcedureRuleSupport.All<VariableReference>(set.Expression).Any(v => v.Name.Equals("@Definition", StringComparison.OrdinalIgnoreCase)));

        Assert.True(guard.StartLine < use, $"@Definition is used at line {use} before its NULL test at line {guard.StartLine}");
    }

    [Theory]
    [InlineData(ValidateBatch, "SELECT")]
    [InlineData(Trust, "ALTER")]
    public void The_permission_the_dynamic_statement_needs_is_checked_with_HAS_PERMS_BY_NAME_and_refused_with_51413_before_it_runs(string file, string permission)
    {
        var procedure = Procedure(file);
        var execute = FirstLineOf(procedure, IsSpExecuteSql);
        var checks = ProcedureRuleSupport.All<IfStatement>(procedure)
            .Where(i => ProcedureRuleSupport.All<FunctionCall>(i.Predicate).Any(c =>
                c.FunctionName.Value.Equals("HAS_PERMS_BY_NAME", StringComparison.OrdinalIgnoreCase) &&
                c.Parameters.Count == 3 && ProcedureRuleSupport.LiteralText(c.Parameters[2]) == permission))
            .Where(i => ProcedureContract.ThrownNumbers(i.ThenStatement).Contains(51413))
            .ToList();

        Assert.NotEmpty(checks);
        Assert.All(checks, c => Assert.True(c.StartLine < execute, $"the {permission} check at line {c.StartLine} comes after sp_executesql (line {execute})"));
    }

    [Theory]
    [InlineData(ValidateBatch)]
    [InlineData(Trust)]
    public void No_procedure_of_constraint_validation_needs_VIEW_DATABASE_STATE(string file)
    {
        var names = ProcedureRuleSupport.All<SchemaObjectName>(Procedure(file)).Select(n => n.BaseIdentifier.Value).ToList();
        Assert.Contains("check_constraints", names, StringComparer.OrdinalIgnoreCase);
        if (file == ValidateBatch)
        {
            Assert.Contains("partitions", names, StringComparer.OrdinalIgnoreCase);
        }

        Assert.DoesNotContain(names, n => n.StartsWith("dm_", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// A plain operator (DbMergeOperator with SELECT and VIEW DEFINITION on the table) may read these procedures' catalog
    /// views: no DMV (VIEW DATABASE STATE, error 297) and not sys.sql_expression_dependencies, which needs VIEW DEFINITION
    /// on the database and a SELECT that by default only db_owner has (error 229 for anyone else), and which does not track
    /// a CHECK's plain column references anyway. The CHECK's columns come from its definition instead.
    /// </summary>
    [Theory]
    [InlineData(ValidateBatch)]
    [InlineData(Trust)]
    public void No_procedure_of_constraint_validation_reads_a_catalog_view_a_plain_operator_may_not_select(string file)
    {
        var procedure = Procedure(file);
        var views = ProcedureRuleSupport.All<SchemaObjectName>(procedure)
            .Where(n => string.Equals(n.SchemaIdentifier?.Value, "sys", StringComparison.OrdinalIgnoreCase))
            .Select(n => n.BaseIdentifier.Value)
            .ToList();
        Assert.Contains("objects", views, StringComparer.OrdinalIgnoreCase);

        Assert.DoesNotContain(views, v => v.Equals("sql_expression_dependencies", StringComparison.OrdinalIgnoreCase)
                                          || v.Equals("sql_dependencies", StringComparison.OrdinalIgnoreCase)
                                          || v.StartsWith("dm_", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void The_columns_of_a_CHECK_violation_are_found_in_its_definition()
    {
        var procedure = Procedure(ValidateBatch);
        var columnList = ProcedureRuleSupport.All<SelectStatement>(procedure)
            .Where(s => ProcedureRuleSupport.All<SelectSetVariable>(s).Any(v => v.Variable.Name.Equals("@ColumnList", StringComparison.OrdinalIgnoreCase)))
            .Where(s => ProcedureRuleSupport.All<NamedTableReference>(s).Any(t => t.SchemaObject.BaseIdentifier.Value.Equals("columns", StringComparison.OrdinalIgnoreCase)))
            .ToList();
        var check = Assert.Single(columnList, s => !ProcedureRuleSupport.All<NamedTableReference>(s)
            .Any(t => t.SchemaObject.BaseIdentifier.Value.Equals("foreign_key_columns", StringComparison.OrdinalIgnoreCase)));

        Assert.Contains(ProcedureRuleSupport.All<FunctionCall>(check), c => c.FunctionName.Value.Equals("CHARINDEX", StringComparison.OrdinalIgnoreCase)
            && c.Parameters.Count == 2
            && c.Parameters[0] is FunctionCall { FunctionName.Value: var quote } && quote.Equals("QUOTENAME", StringComparison.OrdinalIgnoreCase)
            && c.Parameters[1] is VariableReference { Name: var definition } && definition.Equals("@Definition", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void The_driver_estimates_rows_from_sys_partitions_not_from_a_DMV()
    {
        var source = File.ReadAllText(Path.Combine(Repo.Layout.Root, "src", "DbMerge.Deployment", "ConstraintValidation", "ConstraintValidator.cs"));
        Assert.Contains("sys.partitions", source, StringComparison.Ordinal);

        Assert.DoesNotContain("sys.dm_", source, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void An_unknown_row_estimate_is_shown_as_unknown_not_as_zero()
    {
        var state = new UntrustedConstraint("app", "Invitation", "CK_x", "CHECK", false, ConstraintValidationState.InProgress,
            LastKey: 41, RowsChecked: 41, RecordedViolations: 0, EstimatedTotalRows: null, UpdatedAt: null, FinishedAt: null);

        Assert.Contains("(41/? rows", state.Describe(), StringComparison.Ordinal);
    }
}
