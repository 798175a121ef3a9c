using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema.HouseRules;

/// <summary>The house rules for migrations/ (DESIGN §7, STYLE.md "Migrations"). Add one line per rule.</summary>
public static class MigrationRules
{
    public static IReadOnlyList<IHouseRule> All { get; } =
    [
        new ConstraintWithNoCheckRule(),
        new NoConstraintTrustInMigrationRule(),
        new GoAloneOnItsLineRule(),
        new NoScriptVariablesRule(),
        new MigrationNameAndHeaderRule(),
        new MigrationsHoldTransitionsOnlyRule(),
        new NoBackfillWithSchemaChangeRule(),
    ];

    /// <summary>True for <c>#temp</c> / <c>##global</c> temporary tables: they are never part of the schema.</summary>
    internal static bool IsTemporary(SchemaObjectName? name) =>
        name?.BaseIdentifier?.Value is { } value && value.StartsWith('#');

    /// <summary>
    /// The migration (repository-relative path) that first creates each table, in migration order:
    /// <c>[schema].[table]</c> (lower case, <see cref="SqlText.Key"/>) → file.
    /// </summary>
    internal static IReadOnlyDictionary<string, string> TableCreators(IEnumerable<ParsedScript> migrations)
    {
        var creators = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var migration in migrations)
        {
            if (migration.Fragment is null)
            {
                continue;
            }

            var visitor = new CreatedTables();
            migration.Fragment.Accept(visitor);
            foreach (var key in visitor.Keys)
            {
                creators.TryAdd(key, migration.File.RelativePath);
            }
        }

        return creators;
    }

    /// <summary>"ALTER TABLE" for every ALTER TABLE variant, otherwise <see cref="SqlText.StatementKind"/> ("CREATE INDEX", …).</summary>
    internal static string Kind(TSqlStatement statement) =>
        statement is AlterTableStatement ? "ALTER TABLE" : SqlText.StatementKind(statement);

    /// <summary>The first line of a statement as written, shortened to 80 characters, for messages.</summary>
    internal static string Snippet(TSqlFragment fragment)
    {
        var text = SqlText.TextOf(fragment);
        var line = text.Split('\n')[0].Trim();
        return line.Length <= 80 ? line : line[..79] + "…";
    }

    /// <summary>" (created by migrations/0005_….sql)" or " (no migration creates it)" for messages.</summary>
    internal static string CreatedBy(IReadOnlyDictionary<string, string> creators, SchemaObjectName table) =>
        creators.TryGetValue(SqlText.Key(table), out var file) ? $" (created by {file})" : " (not created by any migration)";

    private sealed class CreatedTables : TSqlFragmentVisitor
    {
        public List<string> Keys { get; } = [];

        public override void Visit(CreateTableStatement node)
        {
            if (!IsTemporary(node.SchemaObjectName))
            {
                Keys.Add(SqlText.Key(node.SchemaObjectName));
            }
        }
    }
}

/// <summary>What a character of a script is to a batch splitter.</summary>
internal enum SqlCharKind : byte
{
    Code,
    LineComment,
    BlockComment,
    String,
    Bracketed,
}

/// <summary>
/// Classifies every character of a script the way DbUp's splitter (<c>DbUp.Support.SqlParser</c>) reads it:
/// <c>-- …</c> to the end of the line, nested <c>/* … */</c>, <c>'…'</c> strings and <c>[…]</c> identifiers
/// (<c>]]</c> escapes). Double-quoted text is code to DbUp, and so it is here. Line-based text rules use it
/// to tell code from comments and strings without a full parse (they must also run on scripts that do not parse).
/// </summary>
internal static class SqlLexical
{
    public static SqlCharKind[] Classify(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kinds = new SqlCharKind[text.Length];
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            var next = i + 1 < text.Length ? text[i + 1] : '\0';
            if (c == '-' && next == '-')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    kinds[i++] = SqlCharKind.LineComment;
                }
            }
            else if (c == '/' && next == '*')
            {
                var depth = 0;
                while (i < text.Length)
                {
                    if (text[i] == '/' && i + 1 < text.Length && text[i + 1] == '*')
                    {
                        depth++;
                        kinds[i++] = SqlCharKind.BlockComment;
                        kinds[i++] = SqlCharKind.BlockComment;
                    }
                    else if (text[i] == '*' && i + 1 < text.Length && text[i + 1] == '/')
                    {
                        depth--;
                        kinds[i++] = SqlCharKind.BlockComment;
                        kinds[i++] = SqlCharKind.BlockComment;
                        if (depth == 0)
                        {
                            break;
                        }
                    }
                    else
                    {
                        kinds[i++] = SqlCharKind.BlockComment;
                    }
                }
            }
            else if (c == '\'')
            {
                kinds[i++] = SqlCharKind.String;
                while (i < text.Length)
                {
                    var end = text[i] == '\'';
                    kinds[i++] = SqlCharKind.String;
                    if (end)
                    {
                        break; // '' is read as two adjacent strings: the same characters are strings either way
                    }
                }
            }
            else if (c == '[')
            {
                kinds[i++] = SqlCharKind.Bracketed;
                while (i < text.Length)
                {
                    if (text[i] == ']' && i + 1 < text.Length && text[i + 1] == ']')
                    {
                        kinds[i++] = SqlCharKind.Bracketed;
                        kinds[i++] = SqlCharKind.Bracketed;
                        continue;
                    }

                    var end = text[i] == ']';
                    kinds[i++] = SqlCharKind.Bracketed;
                    if (end)
                    {
                        break;
                    }
                }
            }
            else
            {
                kinds[i++] = SqlCharKind.Code;
            }
        }

        return kinds;
    }

    /// <summary>The lines of <paramref name="text"/> as (1-based number, start offset, length without the line break).</summary>
    public static IEnumerable<(int Number, int Start, int Length)> Lines(string text)
    {
        var start = 0;
        var number = 1;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == '\n')
            {
                var length = i - start;
                if (length > 0 && text[start + length - 1] == '\r')
                {
                    length--;
                }

                yield return (number++, start, length);
                start = i + 1;
            }
        }
    }

    /// <summary>1-based line of <paramref name="offset"/> in <paramref name="text"/>.</summary>
    public static int LineOf(string text, int offset)
    {
        var line = 1;
        for (var i = 0; i < offset && i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                line++;
            }
        }

        return line;
    }

    public static string Describe(SqlCharKind kind) => kind switch
    {
        SqlCharKind.LineComment => "a -- comment",
        SqlCharKind.BlockComment => "a /* */ comment",
        SqlCharKind.String => "a string literal",
        SqlCharKind.Bracketed => "a [bracketed] identifier",
        _ => "code",
    };
}
