using System.Text.RegularExpressions;
using DbMerge.Deployment;
using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Deployment;

public sealed class DeployScriptGeneratorTests
{
    [Fact]
    public void The_deploy_script_parses_cleanly_with_the_SQL_Server_2019_grammar()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);

        var errors = Parse(script, out _);

        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => $"line {e.Line}: {e.Message}")));
    }

    [Fact]
    public void Every_migration_appears_exactly_once_with_its_guard_and_its_journal_record_and_checksum()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);

        foreach (var migration in Repo.Layout.Migrations())
        {
            var checksum = MigrationChecksums.ComputeFile(migration.FullPath);
            var name = Regex.Escape(migration.Name);
            Assert.Single(Regex.Matches(script, $@"^-- Migration {name} ", RegexOptions.Multiline));
            Assert.Single(Regex.Matches(script,
                $@"INSERT INTO dbo\.SchemaVersions \(ScriptName, Applied, Checksum\) VALUES \(N'{name}', GETUTCDATE\(\), '{checksum}'\);"));
            var batches = CountBatches(migration);
            // one guard per batch plus one for the journal record
            Assert.Equal(batches + 1, Regex.Matches(script, $@"^IF NOT EXISTS \(SELECT 1 FROM dbo\.SchemaVersions WHERE ScriptName = N'{name}'\)$", RegexOptions.Multiline).Count);
            // its checksum is verified against the journal
            Assert.Contains($"(N'{migration.Name}', '{checksum}')", script);
        }
    }

    [Fact]
    public void Every_batch_is_carried_verbatim_into_sp_executesql_or_as_plain_SET_statements()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);
        Assert.Empty(Parse(script, out var parsed));

        var carried = StatementLiterals(parsed).ToList();
        var expected = Repo.Layout.AllScripts().SelectMany(f => BatchTexts(f).Where(b => !IsSetOnly(b))).ToList();

        Assert.Equal(expected, carried);
    }

    [Fact]
    public void Already_applied_migrations_are_omitted_but_their_checksums_are_still_verified()
    {
        var migrations = Repo.Layout.Migrations();
        var applied = migrations.Take(3).Select(m => m.Name).ToList();

        var script = DeployScriptGenerator.Generate(Repo.Layout, applied);

        Assert.Empty(Parse(script, out _));
        foreach (var migration in migrations)
        {
            var journalInserts = Regex.Matches(script, $@"VALUES \(N'{Regex.Escape(migration.Name)}', GETUTCDATE\(\)").Count;
            Assert.Equal(applied.Contains(migration.Name) ? 0 : 1, journalInserts);
            Assert.Contains($"(N'{migration.Name}', '{MigrationChecksums.ComputeFile(migration.FullPath)}')", script);
        }
    }

    [Fact]
    public void The_script_takes_the_runners_deploy_lock_and_creates_the_runners_journal()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);

        Assert.Contains("sys.sp_getapplock @Resource = N'DbMerge.Deploy', @LockMode = 'Exclusive', @LockOwner = 'Session'", script);
        Assert.Contains(DeploymentJournal.EnsureSql.Replace("\r\n", "\n", StringComparison.Ordinal).Trim(), script);
        Assert.Contains("SET XACT_ABORT ON;", script);
        Assert.Contains("THROW 51001", script);
        Assert.True(script.IndexOf("sp_getapplock", StringComparison.Ordinal) < script.IndexOf("CREATE TABLE dbo.SchemaVersions", StringComparison.Ordinal),
            "the lock must be taken before the journal is created");
    }

    [Fact]
    public void A_lock_timeout_batch_and_quotes_and_sqlcmd_variable_lookalikes_survive_generation()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9991_alter_app_User_planted.sql"),
            "/* header */\nSET LOCK_TIMEOUT 1000;\nGO\nUPDATE app.[User] SET DisplayName = N'O''Brien $(not a variable)' WHERE UserId = -1;\nGO\n");

        var script = DeployScriptGenerator.Generate(scratch);

        Assert.Empty(Parse(script, out var parsed));
        Assert.DoesNotContain("$(", script);
        Assert.Contains("    SET LOCK_TIMEOUT 1000;\n", script);
        Assert.Contains("UPDATE app.[User] SET DisplayName = N'O''Brien $(not a variable)' WHERE UserId = -1;", StatementLiterals(parsed));
    }

    [Fact]
    public void Non_ASCII_text_is_carried_exactly_while_the_script_stays_pure_ASCII()
    {
        var scratch = Repo.ScratchCopy();
        const string statement = "UPDATE app.[User] SET DisplayName = N'Zo\u00eb \u2026 \U0001F600 caf\u00e9' WHERE UserId = -1; -- \u00fcber";
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9997_alter_app_User_planted.sql"),
            "/* R\u00e9sum\u00e9 of the change */\n" + statement + "\nGO\n");

        var script = DeployScriptGenerator.Generate(scratch);

        Assert.All(script, c => Assert.True(c <= '~', $"non-ASCII U+{(int)c:X4} in the script"));
        Assert.Empty(Parse(script, out var parsed));
        Assert.Contains("/* R\u00e9sum\u00e9 of the change */\n" + statement, StatementLiterals(parsed));
    }

    [Fact]
    public void A_migration_line_that_sqlcmd_would_execute_is_refused_with_file_and_line()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9992_alter_app_User_planted.sql"),
            "UPDATE app.[User]\n:r other.sql\nSET DisplayName = NULL WHERE UserId = -1;\nGO\n");

        // ScriptDom does not parse ':r' either; either way the generator must name the file and line.
        var error = Assert.Throws<InvalidOperationException>(() => DeployScriptGenerator.Generate(scratch));

        Assert.Contains("migrations/9992_alter_app_User_planted.sql:2", error.Message);
    }

    [Theory]
    [InlineData("/* setup\n:setvar Target prod\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("SELECT 1 AS One\n/*\n  exit\n*/;\nGO\n", 3)]
    [InlineData("/*\n   go\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    public void A_comment_line_that_sqlcmd_would_execute_is_refused_with_file_and_line(string sql, int line)
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9994_alter_app_User_planted.sql"), sql);

        var error = Assert.Throws<InvalidOperationException>(() => DeployScriptGenerator.Generate(scratch));

        Assert.Contains($"migrations/9994_alter_app_User_planted.sql:{line}:", error.Message);
        Assert.Contains("sqlcmd", error.Message);
    }

    [Fact]
    public void A_temp_table_used_across_GO_batches_is_refused_because_each_batch_runs_in_its_own_scope()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9995_alter_app_User_planted.sql"),
            "CREATE TABLE #Ids (Id int NOT NULL);\nINSERT INTO #Ids (Id) VALUES (1);\nGO\nUPDATE u SET DisplayName = NULL FROM app.[User] AS u JOIN #Ids AS i ON i.Id = u.UserId;\nGO\n");

        var error = Assert.Throws<InvalidOperationException>(() => DeployScriptGenerator.Generate(scratch));

        Assert.Contains("migrations/9995_alter_app_User_planted.sql:4:", error.Message);
        Assert.Contains("#Ids", error.Message);
    }

    [Fact]
    public void A_temp_table_used_within_its_own_batch_is_fine()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9996_alter_app_User_planted.sql"),
            "CREATE TABLE #Ids (Id int NOT NULL);\nINSERT INTO #Ids (Id) VALUES (1);\nUPDATE u SET DisplayName = NULL FROM app.[User] AS u JOIN #Ids AS i ON i.Id = u.UserId;\nGO\n");

        Assert.Empty(Parse(DeployScriptGenerator.Generate(scratch), out _));
    }

    [Fact]
    public void A_comment_only_migration_is_still_guarded_ordered_and_journaled()
    {
        var scratch = Repo.ScratchCopy();
        var previous = scratch.Migrations()[^1].Name;
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9998_alter_app_User_empty.sql"), "/*\n  nothing yet\n*/\n");

        var script = DeployScriptGenerator.Generate(scratch);

        Assert.Empty(Parse(script, out _));
        var block = script[script.IndexOf("-- Migration 9998_alter_app_User_empty.sql", StringComparison.Ordinal)..];
        Assert.Contains($"WHERE ScriptName = N'{previous}') THROW 51002", block);
        Assert.Contains("BEGIN TRANSACTION;", block);
        Assert.Contains("VALUES (N'9998_alter_app_User_empty.sql', GETUTCDATE()", block);
    }

    [Fact]
    public void Database_objects_are_only_created_once_the_last_migration_is_journaled()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);
        var last = Repo.Layout.Migrations()[^1].Name;
        var objects = script[script.IndexOf("-- Re-runnable objects", StringComparison.Ordinal)..];

        var executions = Regex.Matches(objects, @"^ *EXEC sys\.sp_executesql @stmt = @Statement;$", RegexOptions.Multiline).Count;
        var guards = Regex.Matches(objects, $@"IF EXISTS \(SELECT 1 FROM dbo\.SchemaVersions WHERE ScriptName = N'{Regex.Escape(last)}'\)\nBEGIN\n    DECLARE @Statement").Count;

        Assert.True(executions > 0);
        Assert.Equal(executions, guards);
    }

    [Fact]
    public void The_header_says_how_to_run_the_script()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout, null, new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

        Assert.StartsWith("/*\n  DbMerge deploy script\n  Generated: 2026-11-23 12:00:00Z", script);
        Assert.Contains("sqlcmd -b", script);
        Assert.Contains(Repo.Layout.Migrations()[0].Name, script[..script.IndexOf("*/", StringComparison.Ordinal)]);
    }

    internal static IList<ParseError> Parse(string script, out TSqlFragment fragment)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(script);
        fragment = parser.Parse(reader, out var errors);
        return errors;
    }

    /// <summary>The values assigned to @Statement (what sp_executesql runs), in script order.</summary>
    private static IEnumerable<string> StatementLiterals(TSqlFragment fragment)
    {
        var visitor = new StatementVisitor();
        fragment.Accept(visitor);
        return visitor.Values;
    }

    private static int CountBatches(SqlScriptFile file) => BatchTexts(file).Count;

    /// <summary>The text between GO lines, as DbUp sends it (independent of the generator's ScriptDom split).</summary>
    private static List<string> BatchTexts(SqlScriptFile file) =>
        Regex.Split(file.Text, @"^[ \t]*GO[ \t]*\r?$", RegexOptions.Multiline | RegexOptions.IgnoreCase)
            .Select(b => b.Trim())
            .Where(b => b.Length > 0)
            .ToList();

    private static bool IsSetOnly(string batch)
    {
        Assert.Empty(Parse(batch, out var fragment));
        return ((TSqlScript)fragment).Batches.SelectMany(b => b.Statements)
            .All(s => s is PredicateSetStatement or SetCommandStatement or SetTransactionIsolationLevelStatement);
    }

    private sealed class StatementVisitor : TSqlFragmentVisitor
    {
        public List<string> Values { get; } = [];

        public override void Visit(DeclareVariableElement node)
        {
            if (node.VariableName.Value == "@Statement" && node.Value is not null)
            {
                Values.Add(Evaluate(node.Value));
            }
        }

        private static string Evaluate(ScalarExpression expression) => expression switch
        {
            StringLiteral literal => literal.Value,
            BinaryExpression { BinaryExpressionType: BinaryExpressionType.Add } add => Evaluate(add.FirstExpression) + Evaluate(add.SecondExpression),
            ConvertCall convert => Evaluate(convert.Parameter),
            FunctionCall { FunctionName.Value: "NCHAR", Parameters: [IntegerLiteral code] } => ((char)int.Parse(code.Value, System.Globalization.CultureInfo.InvariantCulture)).ToString(),
            ParenthesisExpression parenthesis => Evaluate(parenthesis.Expression),
            _ => throw new InvalidOperationException($"Unexpected expression {expression.GetType().Name} in @Statement."),
        };
    }
}
