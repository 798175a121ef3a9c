using DbMerge.Schema;
using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// A small stand-in for the schema work's SchemaVerifier: parses every script and builds a DacFx model from the
/// migrations folded into final CREATE statements (DML skipped, as the replay does), enough for the model rules.
/// </summary>
internal static class OfflineModel
{
    public static ModelRuleContext Build(RepositoryLayout layout)
    {
        // DacFx loads collation cultures by LCID, which globalization-invariant mode forbids. The schema work sets
        // InvariantGlobalization=false in Directory.Build.props; until that lands these tests cannot run here.
        Xunit.Assert.SkipWhen(
            AppContext.TryGetSwitch("System.Globalization.Invariant", out var invariant) && invariant,
            "DacFx needs culture data: build with InvariantGlobalization=false (dotnet test -p:InvariantGlobalization=false).");
        var scripts = layout.AllScripts().Select(Parse).ToList();
        var model = new TSqlModel(SqlServerVersion.Sql150, new TSqlModelOptions());
        var generator = new Sql150ScriptGenerator();
        foreach (var statement in Replay(scripts.Where(s => s.File.RelativePath.StartsWith("migrations/", StringComparison.Ordinal))))
        {
            generator.GenerateScript(statement, out var text);
            model.AddObjects(text);
        }

        return new ModelRuleContext(layout, model, scripts);
    }

    /// <summary>
    /// Folds the migrations into final CREATE statements: ALTER TABLE ADD columns/constraints are appended to the
    /// CREATE TABLE, DROP CONSTRAINT removes, ALTER COLUMN is ignored (names matter here, not types), indexes,
    /// SET, IF blocks and DML are skipped.
    /// </summary>
    private static IEnumerable<TSqlStatement> Replay(IEnumerable<ParsedScript> migrations)
    {
        var objects = new List<TSqlStatement>();
        var tables = new Dictionary<string, CreateTableStatement>(StringComparer.OrdinalIgnoreCase);
        foreach (var migration in migrations)
        {
            // A fresh parse: the fold edits the trees, and the rules must see the scripts as written.
            var fragment = Parse(migration.File).Fragment;
            Xunit.Assert.True(fragment is not null, $"{migration.File.RelativePath} does not parse");
            foreach (var batch in ((TSqlScript)fragment!).Batches)
            {
                foreach (var statement in batch.Statements)
                {
                    switch (statement)
                    {
                        case CreateTableStatement create:
                            tables[Name(create.SchemaObjectName)] = create;
                            objects.Add(create);
                            break;
                        case AlterTableAddTableElementStatement add:
                            var table = tables[Name(add.SchemaObjectName)];
                            foreach (var column in add.Definition.ColumnDefinitions)
                            {
                                table.Definition.ColumnDefinitions.Add(column);
                            }

                            foreach (var constraint in add.Definition.TableConstraints)
                            {
                                table.Definition.TableConstraints.Add(constraint);
                            }

                            break;
                        case AlterTableDropTableElementStatement drop:
                            var target = tables[Name(drop.SchemaObjectName)];
                            foreach (var element in drop.AlterTableDropTableElements)
                            {
                                var name = element.Name.Value;
                                RemoveAll(target.Definition.TableConstraints, c => string.Equals(c.ConstraintIdentifier?.Value, name, StringComparison.OrdinalIgnoreCase));
                                RemoveAll(target.Definition.ColumnDefinitions, c => string.Equals(c.ColumnIdentifier.Value, name, StringComparison.OrdinalIgnoreCase));
                                foreach (var column in target.Definition.ColumnDefinitions)
                                {
                                    RemoveAll(column.Constraints, c => string.Equals(c.ConstraintIdentifier?.Value, name, StringComparison.OrdinalIgnoreCase));
                                }
                            }

                            break;
                        case CreateSchemaStatement or CreateRoleStatement or CreateSequenceStatement:
                            objects.Add(statement);
                            break;
                    }
                }
            }
        }

        return objects;
    }

    private static void RemoveAll<T>(IList<T> list, Func<T, bool> predicate)
    {
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (predicate(list[i]))
            {
                list.RemoveAt(i);
            }
        }
    }

    private static string Name(SchemaObjectName name) => $"{name.SchemaIdentifier?.Value ?? "dbo"}.{name.BaseIdentifier.Value}";

    public static ParsedScript Parse(SqlScriptFile file)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(file.Text);
        var fragment = parser.Parse(reader, out var errors);
        return new ParsedScript(file, errors.Count == 0 ? fragment : null);
    }
}
