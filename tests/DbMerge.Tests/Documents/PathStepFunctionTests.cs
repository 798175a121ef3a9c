using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Documents;

/// <summary>
/// dbmerge.Path_Step / dbmerge.Path_StepNumber compute in bigint, as their headers say: an integer literal above
/// 2,147,483,647 is a decimal constant in T-SQL, not a bigint, so <c>@Number / 2176782336</c> is a decimal division
/// (numeric(30,11)) and <c>… * 2176782336</c> makes Number a decimal(3x,0) column; every such literal is converted to
/// bigint where it is used.
/// </summary>
public sealed class PathStepFunctionTests
{
    [Theory]
    [InlineData("database/dbmerge/Functions/dbmerge.Path_Step.sql")]
    [InlineData("database/dbmerge/Functions/dbmerge.Path_StepNumber.sql")]
    public void Every_integer_literal_above_int_is_converted_to_bigint_where_it_is_computed_with(string file)
    {
        var script = SqlText.Parse(Repo.Layout.DatabaseObjects().Single(f => f.RelativePath == file)).Fragment!;
        var converted = ProcedureRuleSupport.All<ConvertCall>(script)
            .Where(c => c.DataType is SqlDataTypeReference { SqlDataTypeOption: SqlDataTypeOption.BigInt })
            .Select(c => c.Parameter)
            .OfType<Literal>()
            .ToHashSet();
        // ScriptDom, like SQL Server, types a whole number above int as a numeric literal.
        var large = ProcedureRuleSupport.All<Literal>(script)
            .Where(l => l is IntegerLiteral or NumericLiteral && long.TryParse(l.Value, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > int.MaxValue)
            .ToList();

        Assert.NotEmpty(large);
        var comparedOnly = ProcedureRuleSupport.All<BooleanTernaryExpression>(script).SelectMany(b => new[] { b.SecondExpression, b.ThirdExpression }).ToHashSet();
        Assert.All(large.Where(l => !comparedOnly.Contains(l)), l =>
            Assert.True(converted.Contains(l), $"line {l.StartLine}: {l.Value} is a decimal constant in arithmetic; write CONVERT(bigint, {l.Value})"));
    }
}
