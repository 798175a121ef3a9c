using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM021: no <c>ALTER TABLE … WITH CHECK CHECK CONSTRAINT name | ALL</c> in a migration. Re-validating a
/// constraint reads every row of the table under a schema-modification lock (DESIGN §6); marking constraints
/// trusted is the separate operator step <c>dbmerge constraints trust</c>, for a maintenance window.
/// <c>ALTER TABLE … CHECK CONSTRAINT …</c> without <c>WITH CHECK</c> only re-enables (it does not read rows, the
/// constraint stays untrusted) and is not reported.
/// </summary>
public sealed class NoConstraintTrustInMigrationRule : IHouseRule
{
    public const string RuleId = "DBM021";

    public string Id => RuleId;

    public string Description =>
        "No WITH CHECK CHECK CONSTRAINT in a migration: trusting constraints is the operator step 'dbmerge constraints trust'.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var findings = new List<Finding>();
        foreach (var migration in context.Migrations)
        {
            migration.Fragment?.Accept(new Visitor(migration.File.RelativePath, findings));
        }

        return findings;
    }

    private sealed class Visitor(string file, List<Finding> findings) : TSqlFragmentVisitor
    {
        public override void Visit(AlterTableConstraintModificationStatement node)
        {
            if (node.ConstraintEnforcement != ConstraintEnforcement.Check ||
                node.ExistingRowsCheckEnforcement != ConstraintEnforcement.Check)
            {
                return;
            }

            var table = SqlText.Display(node.SchemaObjectName);
            var names = node.All ? "ALL" : string.Join(", ", node.ConstraintNames.Select(n => n.Value));
            findings.Add(new Finding(file, node.StartLine, RuleId,
                $"ALTER TABLE {table} WITH CHECK CHECK CONSTRAINT {names} in a migration: re-validating reads every row of {table} " +
                "under a schema-modification lock and blocks the table for the whole scan. Remove it: existing rows are verified in " +
                "batches by 'dbmerge constraints validate', and the constraint is marked trusted by the operator step " +
                "'dbmerge constraints trust' in a maintenance window."));
        }
    }
}
