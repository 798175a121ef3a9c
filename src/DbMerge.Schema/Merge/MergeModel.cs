using System.Globalization;
using Microsoft.SqlServer.Dac.Model;
using DacIndex = Microsoft.SqlServer.Dac.Model.Index;
using DacTable = Microsoft.SqlServer.Dac.Model.Table;

namespace DbMerge.Schema.Merge;

/// <summary>A column of a replayed table.</summary>
/// <param name="TypeText">The type as T-SQL declares it (<c>nvarchar(254)</c>, <c>datetime2(3)</c>, <c>varchar(max)</c>).</param>
/// <param name="Collation">The column's explicit collation, or null (the database default).</param>
public sealed record ModelColumn(string Name, string TypeName, string TypeText, string? Collation, bool Nullable, bool Computed, bool Identity, int Length, bool IsMax)
{
    public bool IsString => TypeName is "char" or "varchar" or "nchar" or "nvarchar";

    /// <summary>The declaration of a table-variable column that holds this column's values.</summary>
    public string VariableColumnType =>
        IsString ? $"{TypeText} COLLATE {Collation ?? "DATABASE_DEFAULT"}" : TypeText;

    /// <summary>
    /// The longest JSON text a value of this column can take in a FOR JSON key (<c>"Name":value,</c>), or null when it is
    /// unbounded (max types). Strings count 6 characters per character (worst-case \u escapes).
    /// </summary>
    public int? MaxJsonLength => TypeName switch
    {
        "tinyint" => (int?)3,
        "smallint" => 6,
        "int" => 11,
        "bigint" => 20,
        "bit" => 5,
        "uniqueidentifier" => 38,
        "date" => 12,
        "datetime2" or "datetime" or "smalldatetime" or "datetimeoffset" => 40,
        "decimal" or "numeric" => 41,
        _ when IsString && !IsMax => (Length * 6) + 2,
        _ => null,
    } is int value ? value + Name.Length + 4 : null;
}

/// <summary>An index of a replayed table: a CREATE INDEX, or the one behind a PRIMARY KEY / UNIQUE constraint.</summary>
/// <param name="Columns">Key columns in order.</param>
/// <param name="Filter">The filter predicate of a filtered index (as written, columns unqualified), or null.</param>
public sealed record ModelIndex(string Name, bool Unique, bool Clustered, bool PrimaryKey, IReadOnlyList<string> Columns, IReadOnlyList<string> Included, string? Filter);

/// <summary>A foreign key of a replayed table.</summary>
public sealed record ModelForeignKey(string Name, string Schema, string Table, IReadOnlyList<string> Columns, string ReferencedSchema, string ReferencedTable, IReadOnlyList<string> ReferencedColumns)
{
    public string QualifiedTable => $"{Schema}.{Table}";

    public string QualifiedReferencedTable => $"{ReferencedSchema}.{ReferencedTable}";
}

/// <summary>A table of the replayed model with what the merge generator needs: columns, keys, indexes, foreign keys.</summary>
public sealed record ModelTable(string Schema, string Name, IReadOnlyList<ModelColumn> Columns, ModelIndex? PrimaryKey, IReadOnlyList<ModelIndex> Indexes, IReadOnlyList<ModelForeignKey> ForeignKeys)
{
    public string QualifiedName => $"{Schema}.{Name}";

    /// <summary>The T-SQL name, quoted only where needed (<c>app.[User]</c>).</summary>
    public string SqlName => $"{Sql.Name(Schema)}.{Sql.Name(Name)}";

    /// <summary>Stored columns (computed columns are derived: they are neither written nor journaled).</summary>
    public IEnumerable<ModelColumn> StoredColumns => Columns.Where(c => !c.Computed);

    public ModelColumn? Column(string name) => Columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// The tables of a replayed DacFx model (<see cref="SchemaVerifier"/>): the generator's view of the schema. Everything the
/// generated merge code says about a table — column lists, keys, the index each predicate seeks on, child tables — comes
/// from here, never from a hand-kept list.
/// </summary>
public sealed class MergeModel
{
    private readonly Dictionary<string, ModelTable> _tables;

    private MergeModel(Dictionary<string, ModelTable> tables) => _tables = tables;

    public IReadOnlyCollection<ModelTable> Tables => _tables.Values;

    public ModelTable? Table(string schema, string name) =>
        _tables.GetValueOrDefault($"{schema}.{name}".ToUpperInvariant());

    /// <summary>Every foreign key whose referenced table is <paramref name="schema"/>.<paramref name="name"/>.</summary>
    public IEnumerable<ModelForeignKey> ForeignKeysTo(string schema, string name) =>
        _tables.Values.SelectMany(t => t.ForeignKeys)
            .Where(fk => string.Equals(fk.ReferencedSchema, schema, StringComparison.OrdinalIgnoreCase) &&
                         string.Equals(fk.ReferencedTable, name, StringComparison.OrdinalIgnoreCase))
            .OrderBy(fk => fk.Schema, StringComparer.Ordinal).ThenBy(fk => fk.Table, StringComparer.Ordinal).ThenBy(fk => fk.Name, StringComparer.Ordinal);

    public static MergeModel From(TSqlModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var indexes = new Dictionary<string, List<ModelIndex>>(StringComparer.OrdinalIgnoreCase);
        var primaryKeys = new Dictionary<string, ModelIndex>(StringComparer.OrdinalIgnoreCase);
        var foreignKeys = new Dictionary<string, List<ModelForeignKey>>(StringComparer.OrdinalIgnoreCase);

        foreach (var pk in model.GetObjects(DacQueryScopes.UserDefined, PrimaryKeyConstraint.TypeClass))
        {
            var host = pk.GetReferenced(PrimaryKeyConstraint.Host).FirstOrDefault();
            if (host is null)
            {
                continue;
            }

            var index = new ModelIndex(pk.Name.Parts[^1], true, pk.GetProperty<bool>(PrimaryKeyConstraint.Clustered), true,
                Names(pk.GetReferenced(PrimaryKeyConstraint.Columns)), [], null);
            primaryKeys[Key(host)] = index;
            Add(indexes, Key(host), index);
        }

        foreach (var uq in model.GetObjects(DacQueryScopes.UserDefined, UniqueConstraint.TypeClass))
        {
            var host = uq.GetReferenced(UniqueConstraint.Host).FirstOrDefault();
            if (host is not null)
            {
                Add(indexes, Key(host), new ModelIndex(uq.Name.Parts[^1], true, uq.GetProperty<bool>(UniqueConstraint.Clustered), false,
                    Names(uq.GetReferenced(UniqueConstraint.Columns)), [], null));
            }
        }

        foreach (var ix in model.GetObjects(DacQueryScopes.UserDefined, DacIndex.TypeClass))
        {
            var host = ix.GetReferenced(DacIndex.IndexedObject).FirstOrDefault();
            if (host is null)
            {
                continue;
            }

            var filter = ix.GetProperty(DacIndex.FilterPredicate) as string;
            Add(indexes, Key(host), new ModelIndex(ix.Name.Parts[^1], ix.GetProperty<bool>(DacIndex.Unique), ix.GetProperty<bool>(DacIndex.Clustered), false,
                Names(ix.GetReferenced(DacIndex.Columns)), Names(ix.GetReferenced(DacIndex.IncludedColumns)),
                string.IsNullOrWhiteSpace(filter) ? null : filter.Trim()));
        }

        foreach (var fk in model.GetObjects(DacQueryScopes.UserDefined, ForeignKeyConstraint.TypeClass))
        {
            var host = fk.GetReferenced(ForeignKeyConstraint.Host).FirstOrDefault();
            var referenced = fk.GetReferenced(ForeignKeyConstraint.ForeignTable).FirstOrDefault();
            if (host is null || referenced is null || host.Name.Parts.Count < 2 || referenced.Name.Parts.Count < 2)
            {
                continue;
            }

            Add(foreignKeys, Key(host), new ModelForeignKey(fk.Name.Parts.Count > 0 ? fk.Name.Parts[^1] : string.Empty,
                host.Name.Parts[^2], host.Name.Parts[^1], Names(fk.GetReferenced(ForeignKeyConstraint.Columns)),
                referenced.Name.Parts[^2], referenced.Name.Parts[^1], Names(fk.GetReferenced(ForeignKeyConstraint.ForeignColumns))));
        }

        var tables = new Dictionary<string, ModelTable>(StringComparer.OrdinalIgnoreCase);
        foreach (var table in model.GetObjects(DacQueryScopes.UserDefined, DacTable.TypeClass))
        {
            if (table.Name.Parts.Count < 2)
            {
                continue;
            }

            var key = Key(table);
            var columns = table.GetReferenced(DacTable.Columns).Select(ColumnOf).ToList();
            tables[key] = new ModelTable(table.Name.Parts[^2], table.Name.Parts[^1], columns, primaryKeys.GetValueOrDefault(key),
                indexes.GetValueOrDefault(key) ?? [], foreignKeys.GetValueOrDefault(key) ?? []);
        }

        return new MergeModel(tables);
    }

    private static ModelColumn ColumnOf(TSqlObject column)
    {
        var name = column.Name.Parts[^1];
        var computed = column.GetMetadata<ColumnType>(Column.ColumnType) == ColumnType.ComputedColumn;
        var type = column.GetReferenced(Column.DataType).FirstOrDefault();
        var typeName = type is null ? string.Empty : type.Name.Parts[^1].ToLowerInvariant();
        var length = column.GetProperty<int>(Column.Length);
        var isMax = column.GetProperty<bool>(Column.IsMax);
        var precision = column.GetProperty<int>(Column.Precision);
        var scale = column.GetProperty<int>(Column.Scale);
        var collation = column.GetProperty(Column.Collation) as string;
        var text = typeName switch
        {
            "char" or "varchar" or "nchar" or "nvarchar" or "binary" or "varbinary" =>
                isMax ? $"{typeName}(max)" : string.Create(CultureInfo.InvariantCulture, $"{typeName}({(length == 0 ? 1 : length)})"),
            "decimal" or "numeric" => string.Create(CultureInfo.InvariantCulture, $"{typeName}({precision}, {scale})"),
            "datetime2" or "time" or "datetimeoffset" => string.Create(CultureInfo.InvariantCulture, $"{typeName}({scale})"),
            _ => typeName,
        };
        return new ModelColumn(name, typeName, text, string.IsNullOrWhiteSpace(collation) ? null : collation,
            column.GetProperty<bool>(Column.Nullable), computed, column.GetProperty<bool>(Column.IsIdentity), length, isMax);
    }

    private static IReadOnlyList<string> Names(IEnumerable<TSqlObject> objects) => objects.Select(o => o.Name.Parts[^1]).ToList();

    private static string Key(TSqlObject table) => $"{table.Name.Parts[^2]}.{table.Name.Parts[^1]}".ToUpperInvariant();

    private static void Add<T>(Dictionary<string, List<T>> map, string key, T value)
    {
        if (!map.TryGetValue(key, out var list))
        {
            map[key] = list = [];
        }

        list.Add(value);
    }
}

/// <summary>T-SQL text helpers for generated code.</summary>
public static class Sql
{
    /// <summary>T-SQL's reserved keywords (docs: "Reserved keywords (Transact-SQL)"): such a name is bracketed (<c>app.[User]</c>).</summary>
    private static readonly HashSet<string> KeywordsThatNeedBrackets = new(StringComparer.OrdinalIgnoreCase)
    {
        "ADD", "ALL", "ALTER", "AND", "ANY", "AS", "ASC", "AUTHORIZATION", "BACKUP", "BEGIN", "BETWEEN", "BREAK",
        "BROWSE", "BULK", "BY", "CASCADE", "CASE", "CHECK", "CHECKPOINT", "CLOSE", "CLUSTERED", "COALESCE", "COLLATE",
        "COLUMN", "COMMIT", "COMPUTE", "CONSTRAINT", "CONTAINS", "CONTAINSTABLE", "CONTINUE", "CONVERT", "CREATE",
        "CROSS", "CURRENT", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "CURSOR", "DATABASE",
        "DBCC", "DEALLOCATE", "DECLARE", "DEFAULT", "DELETE", "DENY", "DESC", "DISK", "DISTINCT", "DISTRIBUTED",
        "DOUBLE", "DROP", "DUMP", "ELSE", "END", "ERRLVL", "ESCAPE", "EXCEPT", "EXEC", "EXECUTE", "EXISTS", "EXIT",
        "EXTERNAL", "FETCH", "FILE", "FILLFACTOR", "FOR", "FOREIGN", "FREETEXT", "FREETEXTTABLE", "FROM", "FULL",
        "FUNCTION", "GOTO", "GRANT", "GROUP", "HAVING", "HOLDLOCK", "IDENTITY", "IDENTITY_INSERT", "IDENTITYCOL", "IF",
        "IN", "INDEX", "INNER", "INSERT", "INTERSECT", "INTO", "IS", "JOIN", "KEY", "KILL", "LEFT", "LIKE", "LINENO",
        "LOAD", "MERGE", "NATIONAL", "NOCHECK", "NONCLUSTERED", "NOT", "NULL", "NULLIF", "OF", "OFF", "OFFSETS", "ON",
        "OPEN", "OPENDATASOURCE", "OPENQUERY", "OPENROWSET", "OPENXML", "OPTION", "OR", "ORDER", "OUTER", "OVER",
        "PERCENT", "PIVOT", "PLAN", "PRECISION", "PRIMARY", "PRINT", "PROC", "PROCEDURE", "PUBLIC", "RAISERROR",
        "READ", "READTEXT", "RECONFIGURE", "REFERENCES", "REPLICATION", "RESTORE", "RESTRICT", "RETURN", "REVERT",
        "REVOKE", "RIGHT", "ROLLBACK", "ROWCOUNT", "ROWGUIDCOL", "RULE", "SAVE", "SCHEMA", "SECURITYAUDIT", "SELECT",
        "SEMANTICKEYPHRASETABLE", "SEMANTICSIMILARITYDETAILSTABLE", "SEMANTICSIMILARITYTABLE", "SESSION_USER", "SET",
        "SETUSER", "SHUTDOWN", "SOME", "STATISTICS", "SYSTEM_USER", "TABLE", "TABLESAMPLE", "TEXTSIZE", "THEN", "TO",
        "TOP", "TRAN", "TRANSACTION", "TRIGGER", "TRUNCATE", "TRY_CONVERT", "TSEQUAL", "UNION", "UNIQUE", "UNPIVOT",
        "UPDATE", "UPDATETEXT", "USE", "USER", "VALUES", "VARYING", "VIEW", "WAITFOR", "WHEN", "WHERE", "WHILE",
        "WITH", "WITHIN", "WRITETEXT",
    };

    /// <summary>An identifier, bracketed when it is not a plain name or could be a keyword (<c>[User]</c>).</summary>
    public static string Name(string identifier)
    {
        var plain = identifier.Length > 0 && (char.IsLetter(identifier[0]) || identifier[0] == '_') &&
                    identifier.All(c => char.IsLetterOrDigit(c) || c == '_');
        return plain && !KeywordsThatNeedBrackets.Contains(identifier) ? identifier : $"[{identifier.Replace("]", "]]", StringComparison.Ordinal)}]";
    }

    /// <summary>Always bracketed (for column aliases in FOR JSON, which become JSON property names).</summary>
    public static string Bracket(string identifier) => $"[{identifier.Replace("]", "]]", StringComparison.Ordinal)}]";

    /// <summary>An N'…' literal.</summary>
    public static string Literal(string? text) => text is null ? "NULL" : $"N'{text.Replace("'", "''", StringComparison.Ordinal)}'";

    /// <summary>A '…' (varchar) literal.</summary>
    public static string AnsiLiteral(string text) => $"'{text.Replace("'", "''", StringComparison.Ordinal)}'";
}
