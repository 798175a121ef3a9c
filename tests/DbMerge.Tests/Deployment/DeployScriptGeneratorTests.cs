using System.Text.RegularExpressions;
using DbMerge.Deployment;
using DbMerge.Schema;
using DbMerge.Tests.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Deployment;

/// <summary>The generated deploy script: what it carries, and (in <see cref="DeployScriptGuardTests"/>) its guards.</summary>
public sealed class DeployScriptGeneratorTests
{
    [Fact]
    public void The_deploy_script_parses_cleanly_with_the_SQL_Server_2019_grammar()
    {
        var script = DeployScriptGenerator.Build(Repo.Layout);

        var errors = Parse(script.TransactSql, out _);

        Assert.True(script.IsValid, string.Join("\n", script.Problems));
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
                $@"EXEC sys\.sp_executesql @stmt = N'INSERT INTO dbo\.SchemaVersions \(ScriptName, Applied, Checksum\) VALUES \(@ScriptName, GETUTCDATE\(\), @Checksum\);', @params = N'@ScriptName nvarchar\(255\), @Checksum char\(64\)', @ScriptName = N'{name}', @Checksum = '{checksum}';"));
            var batches = CountBatches(migration);
            // one guard per batch plus one for the journal record
            Assert.Equal(batches + 1, Regex.Matches(script,
                $@"^IF SESSION_CONTEXT\(N'DbMerge\.Deploy\.Stopped'\) IS NULL\nIF NOT EXISTS \(SELECT 1 FROM dbo\.SchemaVersions WHERE ScriptName = N'{name}'\)$",
                RegexOptions.Multiline).Count);
            // its checksum is verified against the journal
            Assert.Contains($"(N'{migration.Name}', '{checksum}')", script);
        }
    }

    [Fact]
    public void Every_batch_is_carried_verbatim_into_sp_executesql_or_as_plain_SET_statements()
    {
        var script = DeployScriptGenerator.Build(Repo.Layout);
        Assert.Empty(Parse(script.TransactSql, out var parsed));

        var carried = StatementLiterals(parsed).ToList();
        var expected = Repo.Layout.AllScripts().SelectMany(f => BatchTexts(f).Where(b => !IsSetOnly(b))).ToList();

        Assert.Equal(expected, carried);
    }

    [Fact]
    public void Already_applied_migrations_are_omitted_but_their_checksums_are_still_verified()
    {
        var migrations = Repo.Layout.Migrations();
        var applied = migrations.Take(3).Select(m => m.Name).ToList();

        var script = DeployScriptGenerator.Build(Repo.Layout, applied);

        Assert.Empty(Parse(script.TransactSql, out _));
        Assert.Equal(migrations.Skip(3).Select(m => m.Name), script.Migrations);
        foreach (var migration in migrations)
        {
            var journalInserts = Regex.Matches(script.Text, $@"@ScriptName = N'{Regex.Escape(migration.Name)}', @Checksum").Count;
            Assert.Equal(applied.Contains(migration.Name) ? 0 : 1, journalInserts);
            Assert.Contains($"(N'{migration.Name}', '{MigrationChecksums.ComputeFile(migration.FullPath)}')", script.Text);
        }
    }

    [Fact]
    public void The_script_takes_the_runners_deploy_lock_and_creates_the_runners_journal()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);

        Assert.Contains("sys.sp_getapplock @Resource = N'DbMerge.Deploy', @LockMode = 'Exclusive', @LockOwner = 'Session'", script);
        var ensure = DeploymentJournal.EnsureSql.Replace("\r\n", "\n", StringComparison.Ordinal).Trim().Split('\n')
            .Select(l => "    " + l + "\n");
        Assert.Contains(string.Concat(ensure), script);
        Assert.Contains("SET XACT_ABORT ON;", script);
        Assert.True(script.IndexOf("sp_getapplock", StringComparison.Ordinal) < script.IndexOf("CREATE TABLE dbo.SchemaVersions", StringComparison.Ordinal),
            "the lock must be taken before the journal is created");
    }

    [Fact]
    public void A_lock_timeout_batch_and_quotes_and_sqlcmd_variable_lookalikes_survive_generation()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9991_alter_app_User_planted.sql"),
            "/* header */\nSET LOCK_TIMEOUT 1000;\nGO\nUPDATE app.[User] SET DisplayName = N'O''Brien $(not a variable)' WHERE UserId = -1;\nGO\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.True(script.IsValid, string.Join("\n", script.Problems));
        Assert.Empty(Parse(script.TransactSql, out var parsed));
        Assert.Single(Regex.Matches(script.Text, Regex.Escape("$(")));
        Assert.Contains("    SET LOCK_TIMEOUT 1000;\n", script.Text);
        Assert.Contains("UPDATE app.[User] SET DisplayName = N'O''Brien $(not a variable)' WHERE UserId = -1;", StatementLiterals(parsed));
    }

    [Fact]
    public void Non_ASCII_text_is_carried_exactly_while_the_script_stays_pure_ASCII()
    {
        var scratch = Repo.ScratchCopy();
        const string statement = "UPDATE app.[User] SET DisplayName = N'Zo\u00eb \u2026 \U0001F600 caf\u00e9' WHERE UserId = -1; -- \u00fcber";
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9997_alter_app_User_planted.sql"),
            "/* R\u00e9sum\u00e9 of the change \u2192 Why/Locks */\n" + statement + "\nGO\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.True(script.IsValid, string.Join("\n", script.Problems));
        Assert.All(script.Text, c => Assert.True(c <= '~', $"non-ASCII U+{(int)c:X4} in the script"));
        Assert.Empty(Parse(script.TransactSql, out var parsed));
        Assert.Contains("/* R\u00e9sum\u00e9 of the change \u2192 Why/Locks */\n" + statement, StatementLiterals(parsed));
        Assert.Contains("--   R?sum? of the change -> Why/Locks\n", script.Text);
    }

    [Fact]
    public void Backslashes_are_carried_exactly_while_the_script_holds_none()
    {
        // A backslash before a line end is a line continuation inside a T-SQL literal: carried raw, the comment line
        // "-- exported to C:\temp\" would swallow the UPDATE after it. And go-sqlcmd treats a backslash in quotes as an escape.
        var scratch = Repo.ScratchCopy();
        const string body = "-- exported to C:\\temp\\\nUPDATE app.[User] SET DisplayName = N'C:\\' WHERE UserId = -1 AND Email LIKE N'%\\_%' ESCAPE N'\\';";
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9989_alter_app_User_planted.sql"), "/* header \\ */\n" + body + "\nGO\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.True(script.IsValid, string.Join("\n", script.Problems));
        Assert.DoesNotContain('\\', script.Text);
        Assert.Empty(Parse(script.TransactSql, out var parsed));
        Assert.Contains("/* header \\ */\n" + body, StatementLiterals(parsed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Go_sqlcmd_cuts_the_script_at_exactly_its_GO_lines_and_sees_no_other_command_than_its_two(bool planted)
    {
        var layout = Repo.Layout;
        if (planted)
        {
            // Carried text that trips a naive batch scanner: backslashes before quotes and line ends, quotes and comment
            // markers inside strings, a dollar sign before a parenthesis.
            layout = Repo.ScratchCopy();
            File.WriteAllText(Path.Combine(layout.MigrationsDirectory, "9988_alter_app_User_planted.sql"),
                "/* it's \"quoted\" \\ */\n-- C:\\dir\\\nUPDATE app.[User] SET DisplayName = N'a\\' + N'/* -- $' + N'(x) \"' WHERE UserId = -1;\nGO\n" +
                "UPDATE app.[User] SET DisplayName = N'it''s\\''' WHERE UserId = -2;\nGO\n");
        }

        var script = DeployScriptGenerator.Build(layout);
        Assert.True(script.IsValid, string.Join("\n", script.Problems));
        Assert.Empty(Parse(script.TransactSql, out var parsed));
        var separators = parsed.ScriptTokenStream.Where(t => t.TokenType == TSqlTokenType.Go).Select(t => t.Line).ToList();

        var scan = GoSqlcmdScanner.Read(script.Text);

        Assert.Null(scan.Error);
        Assert.False(scan.EndsInsideQuoteOrComment);
        Assert.Equal(separators, scan.Commands.Where(c => c.Text == "GO").Select(c => c.Line));
        Assert.Equal([":on error exit", ":setvar DbMergeSqlcmdMode \"on\""], scan.Commands.Where(c => c.Text != "GO").Select(c => c.Text));
    }

    [Fact]
    public void Each_migrations_Why_and_Locks_header_is_repeated_as_comments_above_its_block()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);

        foreach (var migration in Repo.Layout.Migrations())
        {
            var start = script.IndexOf($"-- Migration {migration.Name} ", StringComparison.Ordinal);
            var end = script.IndexOf("\nIF SESSION_CONTEXT", start, StringComparison.Ordinal);
            var comments = script[start..end];
            Assert.Matches(@"(?m)^--   Why:", comments);
            Assert.Matches(@"(?m)^--   Locks:", comments);
            var firstWhyLine = migration.Text.Split('\n').First(l => l.TrimStart().StartsWith("Why:", StringComparison.Ordinal)).Trim();
            var asciiPrefix = new string(firstWhyLine.TakeWhile(c => c <= '~').ToArray());
            Assert.Contains("--   " + asciiPrefix, comments);
        }
    }

    [Fact]
    public void A_migration_line_that_sqlcmd_would_execute_is_a_problem_with_file_and_line_and_no_script_is_generated()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9992_alter_app_User_planted.sql"),
            "UPDATE app.[User]\n:r other.sql\nSET DisplayName = NULL WHERE UserId = -1;\nGO\n");

        // ScriptDom does not parse ':r' either: both are findings, and nothing throws.
        var script = DeployScriptGenerator.Build(scratch);

        Assert.False(script.IsValid);
        Assert.Contains(script.Problems, p => p is { File: "migrations/9992_alter_app_User_planted.sql", Line: 2, Rule: DeployScriptGenerator.RuleId });
        Assert.Contains(script.Problems, p => p is { File: "migrations/9992_alter_app_User_planted.sql", Rule: "parse" });
        var thrown = Assert.Throws<DeployScriptInvalidException>(() => DeployScriptGenerator.Generate(scratch));
        Assert.Equal(script.Problems, thrown.Problems);
    }

    [Theory]
    [InlineData("/* setup\n:setvar Target prod\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("SELECT 1 AS One\n/*\n  exit\n*/;\nGO\n", 3)]
    [InlineData("/*\n   go\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n   GO 2\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("SELECT N'\n!! rm -rf /\n' AS One;\nGO\n", 2)]
    [InlineData("/*\n exit the loop when done\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n  go on with the next step\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n on error the CATCH rolls back\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n quit early\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n ed notes\n*/\nSELECT 1 AS One;\nGO\n", 2)]
    [InlineData("/*\n goto\n exited\n editing\n online errors\n on errors\n*/\nSELECT 1 AS One;\nGO\n", 0)]
    [InlineData("-- fine\nSELECT 1 AS One;\n  go\n/* fine */\n", 0)]
    public void A_line_that_sqlcmd_would_execute_is_a_problem_with_file_and_line(string sql, int line)
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9994_alter_app_User_planted.sql"), sql);

        var script = DeployScriptGenerator.Build(scratch);

        if (line == 0)
        {
            Assert.True(script.IsValid, string.Join("\n", script.Problems)); // a real GO separator, indented, is no problem
            return;
        }

        var problem = Assert.Single(script.Problems);
        Assert.Equal(("migrations/9994_alter_app_User_planted.sql", line, DeployScriptGenerator.RuleId), (problem.File, problem.Line, problem.Rule));
        Assert.Contains("sqlcmd", problem.Message);
    }

    [Theory]
    [InlineData("SET NOEXEC ON;\nGO\nSELECT 1 AS One;\nGO\n", "NOEXEC")]
    [InlineData("SET PARSEONLY OFF;\nGO\n", "PARSEONLY")]
    [InlineData("SET IMPLICIT_TRANSACTIONS ON;\nSELECT 1 AS One;\nGO\n", "IMPLICIT_TRANSACTIONS")]
    public void A_session_option_the_stop_guard_relies_on_is_a_problem(string sql, string option)
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9993_alter_app_User_planted.sql"), sql);

        var problem = Assert.Single(DeployScriptGenerator.Build(scratch).Problems);

        Assert.Equal(("migrations/9993_alter_app_User_planted.sql", 1), (problem.File, problem.Line));
        Assert.Contains(option, problem.Message);
    }

    [Theory]
    [InlineData("UPDATE app.[User] SET DisplayName = NULL WHERE UserId = -1;\nCOMMIT;\nGO\n", "COMMIT", 2)]
    [InlineData("BEGIN TRANSACTION;\nUPDATE app.[User] SET DisplayName = NULL WHERE UserId = -1;\nCOMMIT TRANSACTION;\nGO\n", "BEGIN TRANSACTION", 1)]
    [InlineData("BEGIN TRY\n    UPDATE app.[User] SET DisplayName = NULL WHERE UserId = -1;\nEND TRY\nBEGIN CATCH\n    IF @@TRANCOUNT > 0 ROLLBACK;\n    THROW;\nEND CATCH;\nGO\n", "ROLLBACK", 5)]
    public void Transaction_control_in_a_migration_is_a_problem_because_the_deployment_owns_its_transaction(string sql, string statement, int line)
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9987_alter_app_User_planted.sql"), sql);

        var problems = DeployScriptGenerator.Build(scratch).Problems;

        var problem = problems.First(p => p.File == "migrations/9987_alter_app_User_planted.sql");
        Assert.Equal((line, DeployScriptGenerator.RuleId), (problem.Line, problem.Rule));
        Assert.StartsWith(statement + " in a migration", problem.Message);
    }

    [Fact]
    public void A_savepoint_in_a_migration_and_transactions_inside_database_procedures_are_fine()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9986_alter_app_User_planted.sql"),
            "SAVE TRANSACTION BeforeUpdate;\nUPDATE app.[User] SET DisplayName = NULL WHERE UserId = -1;\nIF @@ROWCOUNT > 1 ROLLBACK TRANSACTION BeforeUpdate;\nGO\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.True(script.IsValid, string.Join("\n", script.Problems)); // the repository's procedures BEGIN and COMMIT their own transactions
    }

    [Fact]
    public void A_temp_table_used_across_GO_batches_is_a_problem_because_each_batch_runs_in_its_own_scope()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9995_alter_app_User_planted.sql"),
            "CREATE TABLE #Ids (Id int NOT NULL);\nINSERT INTO #Ids (Id) VALUES (1);\nGO\nUPDATE u SET DisplayName = NULL FROM app.[User] AS u JOIN #Ids AS i ON i.Id = u.UserId;\nGO\n");

        var problem = Assert.Single(DeployScriptGenerator.Build(scratch).Problems);

        Assert.Equal(("migrations/9995_alter_app_User_planted.sql", 4), (problem.File, problem.Line));
        Assert.Contains("#Ids", problem.Message);
    }

    [Fact]
    public void A_temp_table_used_within_its_own_batch_is_fine()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9996_alter_app_User_planted.sql"),
            "CREATE TABLE #Ids (Id int NOT NULL);\nINSERT INTO #Ids (Id) VALUES (1);\nUPDATE u SET DisplayName = NULL FROM app.[User] AS u JOIN #Ids AS i ON i.Id = u.UserId;\nGO\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.True(script.IsValid, string.Join("\n", script.Problems));
        Assert.Empty(Parse(script.TransactSql, out _));
    }

    [Fact]
    public void A_file_that_does_not_parse_is_a_parse_finding_with_its_line_never_an_exception()
    {
        var scratch = Repo.ScratchCopy();
        Plant.Write(scratch, "database/api/Procedures/api.User_Find.sql",
            File.ReadAllText(Path.Combine(scratch.Root, "database/api/Procedures/api.User_Find.sql"))
                .Replace("u.Email, u.DisplayName, u.IsActive", "u.Email u.DisplayName,, u.IsActive", StringComparison.Ordinal));
        var line = Plant.LineOf(scratch, "database/api/Procedures/api.User_Find.sql", "u.Email u.DisplayName,,");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.Contains(script.Problems, p => p is { File: "database/api/Procedures/api.User_Find.sql", Rule: "parse" } && p.Line == line);
        Assert.Empty(Parse(script.TransactSql, out _)); // what could be written still parses (its THROW numbers are checked by DBM030)
    }

    [Fact]
    public void A_comment_only_migration_is_still_guarded_ordered_and_journaled()
    {
        var scratch = Repo.ScratchCopy();
        var previous = scratch.Migrations()[^1].Name;
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9998_alter_app_User_empty.sql"), "/*\n  nothing yet\n*/\n");

        var script = DeployScriptGenerator.Build(scratch);

        Assert.Empty(Parse(script.TransactSql, out _));
        var block = script.Text[script.Text.IndexOf("-- Migration 9998_alter_app_User_empty.sql", StringComparison.Ordinal)..];
        Assert.Contains($"IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = N'{previous}')", block);
        Assert.Contains("THROW 51002", block);
        Assert.Contains("BEGIN TRANSACTION;", block);
        Assert.Contains("@ScriptName = N'9998_alter_app_User_empty.sql', @Checksum", block);
    }

    [Fact]
    public void The_header_says_how_to_run_the_script_and_what_it_refuses()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout, null, new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));
        var header = script[..script.IndexOf("*/", StringComparison.Ordinal)];

        Assert.StartsWith("/*\n  DbMerge deploy script\n  Generated: 2026-11-23 12:00:00Z", script);
        Assert.Contains("sqlcmd -S <server> -d <database>", header);
        Assert.Contains("SQLCMD Mode", header);
        Assert.Contains(Repo.Layout.Migrations()[0].Name, header);
        foreach (var number in new[] { 51001, 51003, 51004, 51005, 51006, 51007, 51008 })
        {
            Assert.Contains(number.ToString(System.Globalization.CultureInfo.InvariantCulture), header);
        }
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
