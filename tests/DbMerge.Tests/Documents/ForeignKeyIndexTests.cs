using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.SqlServer.Dac.Model;
using Xunit;
using Index = Microsoft.SqlServer.Dac.Model.Index;

namespace DbMerge.Tests.Documents;

/// <summary>
/// DESIGN §4 / issue 10: every foreign-key column of every app table has an index a delete or a lookup can seek on —
/// a primary key, unique constraint or index of its table whose leading key columns are the foreign key's columns,
/// unfiltered or filtered only on "&lt;column&gt; IS NOT NULL" (an equality on the column implies that filter; a filter on
/// another column does not). Deliberately exempt, as migration 0050 records: foreign keys to reference-data tables
/// (tables a migration seeds — the role lookups), whose few rows are never deleted and whose values are no predicate.
/// Read from the replayed model, so a foreign key a later migration adds is judged too.
/// </summary>
public sealed class ForeignKeyIndexTests
{
    public sealed record AppForeignKey(string Name, string Table, IReadOnlyList<string> Columns, string ReferencedSchema, string ReferencedTable);

    private sealed record KeyIndex(string Name, IReadOnlyList<string> Columns, string? Filter);

    private static readonly Lazy<TSqlModel> Model = new(() =>
    {
        var result = SchemaVerifier.Verify(Repo.Layout, VerificationOptions.ModelOnly);
        Assert.True(result.Model is not null && !result.HasErrors, "The offline model did not build:\n" + string.Join("\n", result.Findings));
        return result.Model;
    });

    public static IReadOnlyList<AppForeignKey> AppForeignKeys() => ForeignKeysOf(Model.Value);

    private static IReadOnlyList<AppForeignKey> ForeignKeysOf(TSqlModel model) =>
        [.. model.GetObjects(DacQueryScopes.UserDefined, ForeignKeyConstraint.TypeClass)
            .Select(fk => (fk, host: fk.GetReferenced(ForeignKeyConstraint.Host).Single(), referenced: fk.GetReferenced(ForeignKeyConstraint.ForeignTable).Single()))
            .Where(x => string.Equals(x.host.Name.Parts[0], "app", StringComparison.OrdinalIgnoreCase))
            .Select(x => new AppForeignKey(
                x.fk.Name.Parts[^1],
                x.host.Name.Parts[^1],
                [.. x.fk.GetReferenced(ForeignKeyConstraint.Columns).Select(c => c.Name.Parts[^1])],
                x.referenced.Name.Parts[0],
                x.referenced.Name.Parts[^1]))
            .OrderBy(f => f.Table, StringComparer.Ordinal).ThenBy(f => f.Name, StringComparer.Ordinal)];

    private static IReadOnlyList<KeyIndex> KeyIndexesOf(TSqlModel model, string table)
    {
        static bool On(TSqlObject host, string table) =>
            string.Equals(host.Name.Parts[0], "app", StringComparison.OrdinalIgnoreCase) && string.Equals(host.Name.Parts[^1], table, StringComparison.OrdinalIgnoreCase);

        static IReadOnlyList<string> Names(IEnumerable<TSqlObject> columns) => [.. columns.Select(c => c.Name.Parts[^1])];

        var result = new List<KeyIndex>();
        foreach (var index in model.GetObjects(DacQueryScopes.UserDefined, Index.TypeClass))
        {
            if (index.GetReferenced(Index.IndexedObject).SingleOrDefault() is { } host && On(host, table))
            {
                result.Add(new KeyIndex(index.Name.Parts[^1], Names(index.GetReferenced(Index.Columns)), FilterOf(index)));
            }
        }

        foreach (var key in model.GetObjects(DacQueryScopes.UserDefined, PrimaryKeyConstraint.TypeClass))
        {
            if (key.GetReferenced(PrimaryKeyConstraint.Host).SingleOrDefault() is { } host && On(host, table))
            {
                result.Add(new KeyIndex(key.Name.Parts[^1], Names(key.GetReferenced(PrimaryKeyConstraint.Columns)), null));
            }
        }

        foreach (var key in model.GetObjects(DacQueryScopes.UserDefined, UniqueConstraint.TypeClass))
        {
            if (key.GetReferenced(UniqueConstraint.Host).SingleOrDefault() is { } host && On(host, table))
            {
                result.Add(new KeyIndex(key.Name.Parts[^1], Names(key.GetReferenced(UniqueConstraint.Columns)), null));
            }
        }

        return result;
    }

    /// <summary>The WHERE of a filtered index, from its script (the model keeps the predicate as a script property), or null.</summary>
    private static string? FilterOf(TSqlObject index)
    {
        Assert.True(index.TryGetScript(out var script), $"no script for index {index.Name}");
        var match = System.Text.RegularExpressions.Regex.Match(script, @"\bWHERE\b(?<filter>.*?)(\bWITH\b|\bON\b\s*\[|;|$)",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.Singleline);
        return match.Success ? match.Groups["filter"].Value.Trim() : null;
    }

    /// <summary>The index that serves <paramref name="foreignKey"/>, or null.</summary>
    private static KeyIndex? Serving(TSqlModel model, AppForeignKey foreignKey) =>
        KeyIndexesOf(model, foreignKey.Table).FirstOrDefault(index =>
            index.Columns.Count >= foreignKey.Columns.Count
            && index.Columns.Take(foreignKey.Columns.Count).Order(StringComparer.OrdinalIgnoreCase)
                .SequenceEqual(foreignKey.Columns.Order(StringComparer.OrdinalIgnoreCase), StringComparer.OrdinalIgnoreCase)
            && (index.Filter is null || (foreignKey.Columns.Count == 1 && IsNotNullFilterOn(index.Filter, foreignKey.Columns[0]))));

    private static bool IsNotNullFilterOn(string filter, string column)
    {
        var compact = new string(filter.Where(c => !char.IsWhiteSpace(c) && c is not '(' and not ')' and not '[' and not ']').ToArray());
        return string.Equals(compact, column + "ISNOTNULL", StringComparison.OrdinalIgnoreCase);
    }

    private static IReadOnlyList<string> Unserved(TSqlModel model, RepositoryLayout layout)
    {
        var referenceData = ReferenceData.Tables(layout).Select(t => $"{t.Schema}.{t.Table}").ToHashSet(StringComparer.OrdinalIgnoreCase);
        return [.. ForeignKeysOf(model)
            .Where(fk => !referenceData.Contains($"{fk.ReferencedSchema}.{fk.ReferencedTable}"))
            .Where(fk => Serving(model, fk) is null)
            .Select(fk => $"{fk.Name} (app.{fk.Table}.{string.Join(", ", fk.Columns)} → {fk.ReferencedSchema}.{fk.ReferencedTable})")];
    }

    [Fact]
    public void Every_foreign_key_column_of_every_app_table_has_an_index_a_delete_or_lookup_can_seek_on()
    {
        var foreignKeys = AppForeignKeys();
        Assert.True(foreignKeys.Count >= 30, $"only {foreignKeys.Count} app foreign keys in the model: is the model complete?");

        var unserved = Unserved(Model.Value, Repo.Layout);

        Assert.True(unserved.Count == 0, "foreign keys without a usable index (add one in a migration, ONLINE like 0050):\n" + string.Join("\n", unserved));
    }

    [Fact]
    public void The_document_access_foreign_key_is_served_by_the_unfiltered_index_of_0050_not_by_a_filtered_one()
    {
        var foreignKey = AppForeignKeys().Single(f => f.Name == "FK_app_DocumentAccess_DocumentId_app_Document");

        Assert.Equal("IX_app_DocumentAccess_DocumentId", Serving(Model.Value, foreignKey)?.Name);
    }

    [Fact]
    public void The_only_exempt_foreign_keys_reference_seeded_reference_tables()
    {
        var referenceData = ReferenceData.Tables(Repo.Layout).Select(t => $"{t.Schema}.{t.Table}").ToHashSet(StringComparer.OrdinalIgnoreCase);
        var exempt = AppForeignKeys().Where(fk => referenceData.Contains($"{fk.ReferencedSchema}.{fk.ReferencedTable}")).ToList();

        Assert.NotEmpty(exempt);
        Assert.All(exempt, fk => Assert.EndsWith("Role", fk.ReferencedTable, StringComparison.Ordinal));
    }

    [Fact]
    public void A_planted_foreign_key_without_an_index_is_reported()
    {
        // Given a scratch copy of the repository with a new table whose foreign key to app.Document has no index
        var layout = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(layout.MigrationsDirectory, "0099_create_app_DocumentNote.sql"),
            "/*\n  0099_create_app_DocumentNote\n  Why:   planted.\n  Locks: a new table.\n*/\n" +
            "CREATE TABLE app.DocumentNote\n(\n    DocumentNoteId int IDENTITY(1, 1) NOT NULL,\n    DocumentId int NOT NULL,\n" +
            "    CONSTRAINT PK_app_DocumentNote PRIMARY KEY CLUSTERED (DocumentNoteId),\n" +
            "    CONSTRAINT FK_app_DocumentNote_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId)\n);\nGO\n");
        var result = SchemaVerifier.Verify(layout, VerificationOptions.ModelOnly);
        Assert.NotNull(result.Model);

        // When the coverage is checked, then exactly the planted foreign key is reported
        var unserved = Unserved(result.Model, layout);

        Assert.Equal(["FK_app_DocumentNote_DocumentId_app_Document (app.DocumentNote.DocumentId → app.Document)"], unserved);
    }
}
