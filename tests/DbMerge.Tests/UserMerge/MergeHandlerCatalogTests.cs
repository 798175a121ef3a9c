using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

public sealed class MergeHandlerCatalogTests
{
    [Fact]
    public void Every_policy_row_the_migrations_insert_has_a_handler_with_the_same_policy_in_the_core_and_vice_versa()
    {
        var policies = Rows(Repo.Layout.Migrations().Select(m => m.Text), target: "dbmerge.MergePolicy");
        var handlers = Rows([File.ReadAllText(Path.Combine(Repo.Layout.Root, "database/dbmerge/Procedures/dbmerge.User_MergeCore.sql"))], target: "@Handler");

        Assert.Equal(17, policies.Count);
        Assert.Equal(policies.Order(), handlers.Order());
    }

    /// <summary>(schema.table.column, policy) of every INSERT … VALUES into <paramref name="target"/>.</summary>
    private static List<string> Rows(IEnumerable<string> scripts, string target)
    {
        var rows = new List<string>();
        foreach (var text in scripts)
        {
            var fragment = new TSql150Parser(true).Parse(new StringReader(text), out var errors);
            Assert.Empty(errors);
            var visitor = new InsertVisitor(target);
            fragment.Accept(visitor);
            rows.AddRange(visitor.Rows);
        }

        return rows;
    }

    private sealed class InsertVisitor(string target) : TSqlFragmentVisitor
    {
        public List<string> Rows { get; } = [];

        public override void Visit(InsertStatement node)
        {
            var name = node.InsertSpecification.Target switch
            {
                NamedTableReference t => $"{t.SchemaObject.SchemaIdentifier?.Value}.{t.SchemaObject.BaseIdentifier.Value}",
                VariableTableReference v => v.Variable.Name,
                _ => null,
            };
            if (!string.Equals(name, target, StringComparison.OrdinalIgnoreCase) || node.InsertSpecification.InsertSource is not ValuesInsertSource values)
            {
                return;
            }

            var columns = node.InsertSpecification.Columns.Select(c => c.MultiPartIdentifier.Identifiers[^1].Value).ToList();
            foreach (var row in values.RowValues)
            {
                string Value(string column) => ((StringLiteral)row.ColumnValues[columns.IndexOf(column)]).Value;
                Rows.Add($"{Value("SchemaName")}.{Value("TableName")}.{Value("ColumnName")}={Value("Policy")}");
            }
        }
    }
}
