using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>A script to add to the offline model: its source file and the line its text starts on.</summary>
/// <param name="File">Repository-relative path of the script the object comes from.</param>
/// <param name="Line">1-based line of that file where the statement starts.</param>
/// <param name="Text">T-SQL to add (one or more DDL statements, no SET, no DML).</param>
public sealed record ModelScript(string File, int Line, string Text);

/// <summary>
/// Replays <c>migrations/</c> into the set of object definitions the migrated database holds (DESIGN §2):
/// <list type="bullet">
/// <item>CREATE SCHEMA / ROLE / TABLE / TYPE / SEQUENCE / INDEX are kept as written;</item>
/// <item>ALTER TABLE ADD / ALTER / DROP COLUMN are folded into the table's CREATE TABLE (ScriptDom AST edits,
/// regenerated with the 2019 script generator);</item>
/// <item>ALTER TABLE ADD CONSTRAINT (with or without NOCHECK) is passed through; DROP CONSTRAINT removes it
/// from the folded table or from the passed-through statements; DROP INDEX and DROP TABLE remove what they drop;
/// ALTER TABLE NOCHECK/CHECK CONSTRAINT changes nothing in the model;</item>
/// <item>SET, INSERT/UPDATE/DELETE/MERGE/SELECT, PRINT, RAISERROR with severity ≤ 10, DECLARE, THROW and
/// transaction statements are ignored (not SELECT … INTO a permanent table: it creates a table the replay cannot model);</item>
/// <item><c>IF … BEGIN … END ELSE BEGIN … END</c> whose branches define the same objects replays the first branch;</item>
/// <item>anything else is a <c>replay</c> finding with its file and line — never silently skipped.</item>
/// </list>
/// </summary>
public sealed class MigrationReplay
{
    private readonly List<Entry> entries = [];
    private readonly List<Finding> findings = [];

    private MigrationReplay()
    {
    }

    /// <summary>The replayed objects, in creation order.</summary>
    public IReadOnlyList<ModelScript> Scripts => entries.Select(e => e.ToScript()).ToList();

    /// <summary>Statements the replay did not understand, and inconsistent migrations (file + line).</summary>
    public IReadOnlyList<Finding> Findings => findings;

    /// <summary>
    /// Replays parsed migrations in order. Of a migration that does not parse, the batches that parse are replayed
    /// (<see cref="ParsedScript.ModelFragment"/>); the others already have a finding.
    /// </summary>
    public static MigrationReplay Run(IEnumerable<ParsedScript> migrations)
    {
        ArgumentNullException.ThrowIfNull(migrations);
        var replay = new MigrationReplay();
        foreach (var migration in migrations)
        {
            if (migration.ModelFragment is not TSqlScript script)
            {
                continue;
            }

            foreach (var batch in script.Batches)
            {
                foreach (var statement in batch.Statements)
                {
                    try
                    {
                        replay.Replay(statement, migration.File.RelativePath);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // A statement shape the replay did not foresee must be a finding, never a crash of validate.
                        replay.Fail(migration.File.RelativePath, statement,
                            $"the offline replay failed on this {SqlText.StatementKind(statement)} ({ex.GetType().Name}: {ex.Message}); " +
                            "nothing of it is in the model. Report this as a bug of the replay.");
                    }
                }
            }
        }

        return replay;
    }

    private void Fail(string file, TSqlFragment at, string message) =>
        findings.Add(new Finding(file, at.StartLine, "replay", message));

    private void Replay(TSqlStatement statement, string file)
    {
        switch (statement)
        {
            case CreateSchemaStatement s:
                Add(file, s, "schema:" + s.Name.Value.ToLowerInvariant());
                break;
            case CreateRoleStatement s:
                Add(file, s, "role:" + s.Name.Value.ToLowerInvariant());
                break;
            case CreateTableStatement s:
                Add(file, s, "table:" + SqlText.Key(s.SchemaObjectName), tableKey: SqlText.Key(s.SchemaObjectName));
                break;
            case CreateTypeStatement s:
                Add(file, s, "type:" + SqlText.Key(s.Name));
                break;
            case CreateSequenceStatement s:
                Add(file, s, "sequence:" + SqlText.Key(s.Name));
                break;
            case CreateIndexStatement s:
                if (s.IndexOptions.OfType<IndexStateOption>().Any(o => o.OptionKind == IndexOptionKind.DropExisting && o.OptionState == OptionState.On) &&
                    entries.RemoveAll(e => e.Key == IndexKey(SqlText.Key(s.OnName), s.Name.Value)) == 0)
                {
                    Fail(file, s, $"CREATE INDEX {s.Name.Value} … WITH (DROP_EXISTING = ON): no earlier migration creates this index on {SqlText.Display(s.OnName)}.");
                    break;
                }

                Add(file, s, IndexKey(SqlText.Key(s.OnName), s.Name.Value), tableKey: SqlText.Key(s.OnName));
                break;
            case DropIndexStatement s:
                DropIndex(file, s);
                break;
            case DropTableStatement s:
                foreach (var name in s.Objects)
                {
                    var key = SqlText.Key(name);
                    if (entries.RemoveAll(e => e.TableKey == key) == 0)
                    {
                        Fail(file, s, $"DROP TABLE {SqlText.Display(name)}: no earlier migration creates this table.");
                    }
                }

                break;
            case AlterTableAddTableElementStatement s:
                AddTableElements(file, s);
                break;
            case AlterTableAlterColumnStatement s:
                AlterColumn(file, s);
                break;
            case AlterTableDropTableElementStatement s:
                DropTableElements(file, s);
                break;
            case AlterTableConstraintModificationStatement s:
                // NOCHECK / CHECK CONSTRAINT: enabling or disabling does not change the model (DBM021 polices WITH CHECK CHECK).
                _ = RequireTable(file, s, s.SchemaObjectName);
                break;
            case IfStatement s:
                ReplayIf(file, s);
                break;
            case BeginEndBlockStatement s:
                foreach (var inner in s.StatementList.Statements)
                {
                    Replay(inner, file);
                }

                break;
            default:
                if (!IsIgnored(statement))
                {
                    var kind = statement is SelectStatement { Into: not null } ? "SELECT … INTO (creates a table)" : SqlText.StatementKind(statement);
                    Fail(file, statement, $"unsupported DDL in a migration: {kind}. " +
                        "The offline replay understands CREATE SCHEMA/ROLE/TABLE/TYPE/SEQUENCE/INDEX, DROP INDEX/TABLE, " +
                        "ALTER TABLE ADD/ALTER/DROP COLUMN, ADD/DROP CONSTRAINT, NOCHECK/CHECK CONSTRAINT and IF/ELSE with the same objects in both branches; " +
                        "procedures, functions, views and permissions belong in database/.");
                }

                break;
        }
    }

    /// <summary>Statements that do not change the schema: SET, DML, PRINT, progress RAISERROR, DECLARE, THROW, transactions.</summary>
    private static bool IsIgnored(TSqlStatement statement) => statement switch
    {
        _ when SqlText.IsSetStatement(statement) => true,
        SelectStatement { Into: { } into } when !into.BaseIdentifier.Value.StartsWith('#') => false, // creates a table
        InsertStatement or UpdateStatement or DeleteStatement or MergeStatement or SelectStatement => true,
        PrintStatement or DeclareVariableStatement or ThrowStatement => true,
        BeginTransactionStatement or CommitTransactionStatement or RollbackTransactionStatement or SaveTransactionStatement => true,
        RaiseErrorStatement r => r.SecondParameter is IntegerLiteral { Value: var v } && int.TryParse(v, out var severity) && severity <= 10,
        _ => false,
    };

    private void ReplayIf(string file, IfStatement statement)
    {
        var thenObjects = new List<string>();
        var thenOk = Inspect(file, statement.ThenStatement, thenObjects);
        var elseObjects = new List<string>();
        var elseOk = statement.ElseStatement is null || Inspect(file, statement.ElseStatement, elseObjects);
        if (!thenOk || !elseOk)
        {
            return; // unsupported statements inside were reported
        }

        if (thenObjects.Count == 0 && elseObjects.Count == 0)
        {
            return; // control flow around DML / messages only
        }

        if (statement.ElseStatement is null)
        {
            Fail(file, statement, "unsupported DDL in a migration: IF without ELSE around DDL (the replay cannot know whether it runs). " +
                "Write IF <condition> BEGIN <DDL> END ELSE BEGIN <the same objects> END.");
            return;
        }

        if (!thenObjects.Order(StringComparer.Ordinal).SequenceEqual(elseObjects.Order(StringComparer.Ordinal), StringComparer.Ordinal))
        {
            Fail(file, statement, "unsupported DDL in a migration: IF/ELSE whose branches define different objects " +
                $"({string.Join(", ", thenObjects)} | {string.Join(", ", elseObjects)}); both branches must define the same objects.");
            return;
        }

        Replay(statement.ThenStatement, file);
    }

    /// <summary>
    /// Collects a signature of the DDL under <paramref name="statement"/>; reports unsupported statements and
    /// returns false when there was one.
    /// </summary>
    private bool Inspect(string file, TSqlStatement statement, List<string> objects)
    {
        switch (statement)
        {
            case BeginEndBlockStatement block:
                var ok = true;
                foreach (var inner in block.StatementList.Statements)
                {
                    ok &= Inspect(file, inner, objects);
                }

                return ok;
            case IfStatement nested:
                var thenOk = Inspect(file, nested.ThenStatement, objects);
                var elseObjects = new List<string>();
                var elseOk = nested.ElseStatement is null || Inspect(file, nested.ElseStatement, elseObjects);
                if (elseObjects.Count > 0 || (nested.ElseStatement is null && objects.Count > 0))
                {
                    Fail(file, nested, "unsupported DDL in a migration: nested IF around DDL. Use one IF … ELSE … whose branches define the same objects.");
                    return false;
                }

                return thenOk && elseOk;
            case CreateIndexStatement s:
                objects.Add(IndexKey(SqlText.Key(s.OnName), s.Name.Value));
                return true;
            case CreateSchemaStatement or CreateRoleStatement or CreateTableStatement or CreateTypeStatement or CreateSequenceStatement
                or DropIndexStatement or DropTableStatement or AlterTableAddTableElementStatement or AlterTableAlterColumnStatement
                or AlterTableDropTableElementStatement or AlterTableConstraintModificationStatement:
                objects.Add(SqlText.StatementKind(statement) + ":" + SignatureName(statement));
                return true;
            default:
                if (IsIgnored(statement))
                {
                    return true;
                }

                Fail(file, statement, $"unsupported DDL in a migration: {SqlText.StatementKind(statement)}.");
                return false;
        }
    }

    private static string SignatureName(TSqlStatement statement) => statement switch
    {
        CreateSchemaStatement s => s.Name.Value.ToLowerInvariant(),
        CreateRoleStatement s => s.Name.Value.ToLowerInvariant(),
        CreateTableStatement s => SqlText.Key(s.SchemaObjectName),
        CreateTypeStatement s => SqlText.Key(s.Name),
        CreateSequenceStatement s => SqlText.Key(s.Name),
        AlterTableStatement s => SqlText.Key(s.SchemaObjectName),
        _ => SqlText.TextOf(statement).ToLowerInvariant(),
    };

    private static string IndexKey(string tableKey, string index) => $"index:{tableKey}.[{index.ToLowerInvariant()}]";

    private void Add(string file, TSqlStatement statement, string key, string? tableKey = null)
    {
        if (entries.Any(e => e.Key == key))
        {
            Fail(file, statement, $"{SqlText.StatementKind(statement)}: an earlier migration already creates this object ({key}).");
            return;
        }

        entries.Add(new Entry(key, file, statement.StartLine, statement) { TableKey = tableKey });
    }

    private Entry? RequireTable(string file, TSqlStatement statement, SchemaObjectName table)
    {
        var key = SqlText.Key(table);
        var entry = entries.FirstOrDefault(e => e.Key == "table:" + key);
        if (entry is null)
        {
            Fail(file, statement, $"{SqlText.StatementKind(statement)}: no earlier migration creates table {SqlText.Display(table)}.");
        }

        return entry;
    }

    private void AddTableElements(string file, AlterTableAddTableElementStatement statement)
    {
        var table = RequireTable(file, statement, statement.SchemaObjectName);
        if (table is null)
        {
            return;
        }

        var definition = ((CreateTableStatement)table.Statement).Definition;
        var added = statement.Definition;
        if (added.Indexes.Count > 0 || added.SystemTimePeriod is not null)
        {
            Fail(file, statement, "unsupported DDL in a migration: ALTER TABLE ADD of an inline index or a PERIOD; use CREATE INDEX.");
            return;
        }

        foreach (var column in added.ColumnDefinitions)
        {
            if (FindColumn(definition, column.ColumnIdentifier.Value) is not null)
            {
                Fail(file, statement, $"ALTER TABLE ADD: column {column.ColumnIdentifier.Value} already exists in {SqlText.Display(statement.SchemaObjectName)}.");
                continue;
            }

            definition.ColumnDefinitions.Add(column);
            table.Edited = true;
        }

        if (added.TableConstraints.Count == 0)
        {
            return;
        }

        // Constraints are passed through as their own ALTER TABLE … ADD (columns already moved into the table).
        added.ColumnDefinitions.Clear();
        var key = "constraints:" + SqlText.Key(statement.SchemaObjectName) + ":" + entries.Count;
        entries.Add(new Entry(key, file, statement.StartLine, statement)
        {
            TableKey = SqlText.Key(statement.SchemaObjectName),
            Edited = true,
        });
    }

    private void AlterColumn(string file, AlterTableAlterColumnStatement statement)
    {
        var table = RequireTable(file, statement, statement.SchemaObjectName);
        if (table is null)
        {
            return;
        }

        var column = FindColumn(((CreateTableStatement)table.Statement).Definition, statement.ColumnIdentifier.Value);
        if (column is null)
        {
            Fail(file, statement, $"ALTER COLUMN: {SqlText.Display(statement.SchemaObjectName)} has no column {statement.ColumnIdentifier.Value}.");
            return;
        }

        if (statement.DataType is null)
        {
            if (statement.AlterTableAlterColumnOption is not (AlterTableAlterColumnOption.NoOptionDefined
                or AlterTableAlterColumnOption.AddNotForReplication or AlterTableAlterColumnOption.DropNotForReplication))
            {
                Fail(file, statement, $"unsupported DDL in a migration: ALTER COLUMN … {statement.AlterTableAlterColumnOption}.");
            }

            return;
        }

        column.DataType = statement.DataType;
        column.Collation = statement.Collation;
        column.Constraints.Where(c => c is NullableConstraintDefinition).ToList().ForEach(c => column.Constraints.Remove(c));
        if (statement.AlterTableAlterColumnOption is AlterTableAlterColumnOption.Null or AlterTableAlterColumnOption.NotNull)
        {
            column.Constraints.Insert(0, new NullableConstraintDefinition { Nullable = statement.AlterTableAlterColumnOption == AlterTableAlterColumnOption.Null });
        }

        table.Edited = true;
    }

    private void DropTableElements(string file, AlterTableDropTableElementStatement statement)
    {
        var table = RequireTable(file, statement, statement.SchemaObjectName);
        if (table is null)
        {
            return;
        }

        var definition = ((CreateTableStatement)table.Statement).Definition;
        var kind = TableElementType.Constraint;
        foreach (var element in statement.AlterTableDropTableElements)
        {
            var name = element.Name.Value;

            // DROP COLUMN a, b: ScriptDom marks b NotSpecified; like SQL Server, a name without a keyword continues the
            // previous element's kind (a constraint when it comes first).
            if (element.TableElementType != TableElementType.NotSpecified)
            {
                kind = element.TableElementType;
            }

            switch (kind)
            {
                case TableElementType.Column:
                    var column = FindColumn(definition, name);
                    if (column is null)
                    {
                        Fail(file, statement, $"DROP COLUMN: {SqlText.Display(statement.SchemaObjectName)} has no column {name}.");
                        break;
                    }

                    definition.ColumnDefinitions.Remove(column);
                    table.Edited = true;
                    break;
                case TableElementType.Constraint:
                    if (!DropConstraint(table, definition, name))
                    {
                        Fail(file, statement, $"DROP CONSTRAINT: no earlier migration adds constraint {name} to {SqlText.Display(statement.SchemaObjectName)}.");
                    }

                    break;
                case TableElementType.Index:
                    var index = definition.Indexes.FirstOrDefault(i => Same(i.Name?.Value, name));
                    if (index is not null)
                    {
                        definition.Indexes.Remove(index);
                        table.Edited = true;
                    }
                    else if (entries.RemoveAll(e => e.Key == IndexKey(SqlText.Key(statement.SchemaObjectName), name)) == 0)
                    {
                        Fail(file, statement, $"DROP INDEX: {SqlText.Display(statement.SchemaObjectName)} has no index {name}.");
                    }

                    break;
                default:
                    Fail(file, statement, $"unsupported DDL in a migration: ALTER TABLE DROP {kind}.");
                    break;
            }
        }
    }

    private bool DropConstraint(Entry table, TableDefinition definition, string name)
    {
        var tableConstraint = definition.TableConstraints.FirstOrDefault(c => Same(c.ConstraintIdentifier?.Value, name));
        if (tableConstraint is not null)
        {
            definition.TableConstraints.Remove(tableConstraint);
            table.Edited = true;
            return true;
        }

        foreach (var column in definition.ColumnDefinitions)
        {
            if (column.DefaultConstraint is { } d && Same(d.ConstraintIdentifier?.Value, name))
            {
                column.DefaultConstraint = null;
                table.Edited = true;
                return true;
            }

            var columnConstraint = column.Constraints.FirstOrDefault(c => Same(c.ConstraintIdentifier?.Value, name));
            if (columnConstraint is not null)
            {
                column.Constraints.Remove(columnConstraint);
                table.Edited = true;
                return true;
            }
        }

        foreach (var entry in entries.Where(e => e.TableKey == table.TableKey && e.Statement is AlterTableAddTableElementStatement).ToList())
        {
            var constraints = ((AlterTableAddTableElementStatement)entry.Statement).Definition.TableConstraints;
            var passed = constraints.FirstOrDefault(c => Same(c.ConstraintIdentifier?.Value, name));
            if (passed is null)
            {
                continue;
            }

            constraints.Remove(passed);
            entry.Edited = true;
            if (constraints.Count == 0)
            {
                entries.Remove(entry);
            }

            return true;
        }

        return false;
    }

    private void DropIndex(string file, DropIndexStatement statement)
    {
        foreach (var clause in statement.DropIndexClauses)
        {
            if (clause is not DropIndexClause drop)
            {
                Fail(file, statement, "unsupported DDL in a migration: DROP INDEX table.index (old syntax); write DROP INDEX name ON schema.table.");
                continue;
            }

            if (entries.RemoveAll(e => e.Key == IndexKey(SqlText.Key(drop.Object), drop.Index.Value)) == 0 && !DropInlineIndex(drop))
            {
                Fail(file, statement, $"DROP INDEX {drop.Index.Value} ON {SqlText.Display(drop.Object)}: no earlier migration creates this index.");
            }
        }
    }

    /// <summary>Removes an index declared inside CREATE TABLE (<c>INDEX name (…)</c>); false when there is none.</summary>
    private bool DropInlineIndex(DropIndexClause drop)
    {
        var table = entries.FirstOrDefault(e => e.Key == "table:" + SqlText.Key(drop.Object));
        var indexes = (table?.Statement as CreateTableStatement)?.Definition.Indexes;
        var index = indexes?.FirstOrDefault(i => Same(i.Name?.Value, drop.Index.Value));
        if (table is null || indexes is null || index is null)
        {
            return false;
        }

        indexes.Remove(index);
        table.Edited = true;
        return true;
    }

    private static ColumnDefinition? FindColumn(TableDefinition definition, string name) =>
        definition.ColumnDefinitions.FirstOrDefault(c => Same(c.ColumnIdentifier.Value, name));

    private static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private sealed class Entry(string key, string file, int line, TSqlStatement statement)
    {
        public string Key { get; } = key;

        public string File { get; } = file;

        public int Line { get; } = line;

        public TSqlStatement Statement { get; } = statement;

        public string? TableKey { get; init; }

        /// <summary>True when the AST was edited: the text is regenerated instead of copied.</summary>
        public bool Edited { get; set; }

        public ModelScript ToScript() =>
            new(File, Line, Edited ? SqlText.Generate(Statement) : SqlText.TextOf(Statement));
    }
}
