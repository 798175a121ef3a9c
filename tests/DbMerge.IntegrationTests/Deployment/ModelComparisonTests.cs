using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.Schema;
using Microsoft.Data.SqlClient;
using Microsoft.SqlServer.Dac;
using Microsoft.SqlServer.Dac.Model;
using Xunit;

namespace DbMerge.IntegrationTests.Deployment;

/// <summary>
/// The offline model (migrations replayed into a DacFx TSqlModel, plus database/) must be identical to what
/// the migrations really build: extract the migrated test database with DacFx and compare.
/// </summary>
public sealed class ModelComparisonTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private static readonly string[] Schemas = ["app", "dbmerge", "api"];

    private static readonly ModelTypeClass[] ComparedTypes =
    [
        ModelSchema.Schema, ModelSchema.Role, ModelSchema.Table, ModelSchema.View, ModelSchema.Procedure,
        ModelSchema.ScalarFunction, ModelSchema.TableValuedFunction, ModelSchema.TableType, ModelSchema.Index,
        ModelSchema.PrimaryKeyConstraint, ModelSchema.UniqueConstraint, ModelSchema.ForeignKeyConstraint,
        ModelSchema.CheckConstraint, ModelSchema.DefaultConstraint,
    ];

    [Fact]
    public async Task The_migrated_database_extracted_with_DacFx_equals_the_replayed_offline_model()
    {
        var cancel = TestContext.Current.CancellationToken;

        // Given the migrated test database, extracted to a dacpac
        var database = new SqlConnectionStringBuilder(ConnectionString).InitialCatalog;
        var dacpac = Path.Combine(ScratchDirectory.Create("dbmerge-extract-"), "extracted.dacpac");
        await Task.Run(() => new DacServices(ConnectionString).Extract(
            dacpac, database, "DbMergeTest", new Version(1, 0), extractOptions: new DacExtractOptions { ExtractAllTableData = false }, cancellationToken: cancel), cancel);
        using var extracted = TSqlModel.LoadFromDacpac(dacpac, new ModelLoadOptions { LoadAsScriptBackedModel = false }, cancel);

        // And the model replayed offline from the same repository
        var replayed = ReplayedModel(Fixture.Layout);

        // Then both hold the same objects (names and kinds) and the same column definitions
        var expected = Describe(replayed);
        var actual = Describe(extracted);
        Output.WriteLine("-- only in the replayed model:\n" + string.Join("\n", expected.Except(actual)));
        Output.WriteLine("-- only in the database:\n" + string.Join("\n", actual.Except(expected)));
        Assert.Contains(actual, l => l.StartsWith("Table app.User", StringComparison.Ordinal));
        Assert.Equal(expected, actual);
    }

    /// <summary>One sorted line per object (kind + name) and per column (type, length, nullability, identity, collation, computed).</summary>
    internal static List<string> Describe(TSqlModel model)
    {
        var lines = new List<string>();
        // A column collation equal to the database default is noise (one side may spell it out, the other not).
        var defaultCollation = model.GetObjects(DacQueryScopes.All, ModelSchema.DatabaseOptions)
            .Select(o => o.GetProperty<string>(DatabaseOptions.Collation))
            .FirstOrDefault(c => !string.IsNullOrEmpty(c));
        foreach (var item in model.GetObjects(DacQueryScopes.UserDefined, ComparedTypes))
        {
            var parts = item.Name.Parts;
            var inScope = item.ObjectType == ModelSchema.Role
                ? parts.Count > 0 && parts[0].StartsWith("DbMerge", StringComparison.Ordinal)
                : parts.Count > 0 && Schemas.Contains(parts[0], StringComparer.OrdinalIgnoreCase);
            if (!inScope || !item.Name.HasName)
            {
                continue;
            }

            lines.Add($"{item.ObjectType.Name} {string.Join('.', parts)}");
            if (item.ObjectType != ModelSchema.Table)
            {
                continue;
            }

            foreach (var column in item.GetReferenced(Table.Columns))
            {
                var type = column.GetReferenced(Column.DataType).FirstOrDefault()?.Name.Parts.LastOrDefault() ?? "-";
                var computed = column.GetMetadata<ColumnType>(Column.ColumnType) == ColumnType.ComputedColumn;
                var collation = column.GetProperty<string>(Column.Collation);
                if (string.IsNullOrEmpty(collation) || string.Equals(collation, defaultCollation, StringComparison.OrdinalIgnoreCase))
                {
                    collation = "-";
                }

                lines.Add(
                    $"Column {string.Join('.', column.Name.Parts)} {type.ToLowerInvariant()}" +
                    $" len={column.GetProperty<int>(Column.Length)} max={column.GetProperty<bool>(Column.IsMax)}" +
                    $" p={column.GetProperty<int>(Column.Precision)} s={column.GetProperty<int>(Column.Scale)}" +
                    $" null={column.GetProperty<bool>(Column.Nullable)} identity={column.GetProperty<bool>(Column.IsIdentity)}" +
                    $" collation={collation} computed={computed}");
            }
        }

        return lines.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The offline model: migrations/ replayed plus database/, exactly as <c>dbmerge validate</c> builds it.</summary>
    private static TSqlModel ReplayedModel(RepositoryLayout layout)
    {
        var verification = SchemaVerifier.Verify(layout, VerificationOptions.ModelOnly);
        Assert.True(verification.Model is not null && !verification.HasErrors,
            "The offline model did not build:\n" + string.Join("\n", verification.Findings));
        return verification.Model;
    }
}
