using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM025: migrations hold transitions, database/ holds re-runnable objects (DESIGN §2). A migration contains no
/// CREATE/ALTER (or CREATE OR ALTER) PROCEDURE, FUNCTION, VIEW or TRIGGER and no GRANT/DENY/REVOKE: those are
/// re-deployed on every run from database/, where a migration's copy would be silently overwritten (or would
/// overwrite the re-runnable one). A database/ script contains no CREATE/ALTER/DROP TABLE and no CREATE/DROP INDEX on
/// a permanent table: it runs on every deployment, a transition there would run again each time.
/// Temporary tables (<c>#name</c>) inside procedures are not schema and are not reported.
/// </summary>
public sealed class MigrationsHoldTransitionsOnlyRule : IHouseRule
{
    public const string RuleId = "DBM025";

    public string Id => RuleId;

    public string Description =>
        "Migrations hold transitions only (no procedures, functions, views, triggers, permissions); database/ holds no table or index DDL.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var findings = new List<Finding>();
        foreach (var migration in context.Migrations)
        {
            migration.Fragment?.Accept(new MigrationVisitor(migration.File.RelativePath, findings));
        }

        foreach (var script in context.DatabaseObjects)
        {
            script.Fragment?.Accept(new DatabaseVisitor(script.File.RelativePath, findings));
        }

        return findings;
    }

    private sealed class MigrationVisitor(string file, List<Finding> findings) : TSqlFragmentVisitor
    {
        public override void Visit(ProcedureStatementBody node) => Report(node, node.ProcedureReference?.Name, "database/<schema>/Procedures/");

        public override void Visit(FunctionStatementBody node) => Report(node, node.Name, "database/<schema>/Functions/");

        public override void Visit(ViewStatementBody node) => Report(node, node.SchemaObjectName, "database/<schema>/Views/");

        public override void Visit(TriggerStatementBody node) => Report(node, node.Name, "database/<schema>/Triggers/");

        public override void Visit(SecurityStatement node) =>
            findings.Add(new Finding(file, node.StartLine, RuleId,
                $"{SqlText.StatementKind(node)} in a migration: permissions are re-runnable and live in database/permissions/ " +
                "(applied on every deployment, after the procedures). Move the statement there."));

        private void Report(TSqlStatement node, SchemaObjectName? name, string folder) =>
            findings.Add(new Finding(file, node.StartLine, RuleId,
                $"{SqlText.StatementKind(node)} {(name is null ? string.Empty : SqlText.Display(name) + " ")}in a migration: procedures, functions, " +
                $"views and triggers are re-runnable objects. Write it as CREATE OR ALTER in {folder}<schema>.<Object>.sql, one object per file; " +
                "a migration holds only transitions (tables, columns, indexes, constraints, types, seed data)."));
    }

    private sealed class DatabaseVisitor(string file, List<Finding> findings) : TSqlFragmentVisitor
    {
        public override void Visit(CreateTableStatement node) => Report(node, node.SchemaObjectName);

        public override void Visit(AlterTableStatement node) => Report(node, node.SchemaObjectName);

        public override void Visit(CreateIndexStatement node) => Report(node, node.OnName);

        public override void Visit(DropTableStatement node)
        {
            foreach (var name in node.Objects)
            {
                Report(node, name);
            }
        }

        public override void Visit(DropIndexStatement node)
        {
            foreach (var clause in node.DropIndexClauses)
            {
                Report(node, clause is DropIndexClause drop ? drop.Object : null);
            }
        }

        private void Report(TSqlStatement node, SchemaObjectName? table)
        {
            if (MigrationRules.IsTemporary(table))
            {
                return;
            }

            findings.Add(new Finding(file, node.StartLine, RuleId,
                $"{MigrationRules.Kind(node)}{(table is null ? string.Empty : " on " + SqlText.Display(table))} in database/: tables, columns, " +
                "indexes and constraints are transitions and live only in migrations/ (database/ scripts run again on every deployment). " +
                "Write a new migration NNNN_verb_object.sql instead."));
        }
    }
}
