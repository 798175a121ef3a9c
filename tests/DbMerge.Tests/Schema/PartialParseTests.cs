using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests.Schema;

/// <summary>A file that does not parse: its batches that do parse are still modelled, the others are named.</summary>
public sealed class PartialParseTests
{
    [Fact]
    public void The_batches_of_a_file_that_parse_keep_their_own_lines_and_offsets_and_the_failing_one_is_listed()
    {
        const string text = "CREATE TABLE app.Good (Id int NOT NULL);\nGO\nCREATE TABLE app.Bad (Id int NOT NULL\nGO\nCREATE TABLE app.Also (Id int NOT NULL);\nGO\n";
        var findings = new List<Finding>();

        var parsed = SqlText.Parse(new SqlScriptFile("migrations/x.sql", "x.sql", text), findings);

        Assert.Null(parsed.Fragment);
        Assert.Equal([new SkippedBatch(3, 3)], parsed.Skipped);
        Assert.Contains(findings, f => f is { Rule: "parse", Line: 4 });
        var statements = ((Microsoft.SqlServer.TransactSql.ScriptDom.TSqlScript)parsed.PartialFragment!).Batches.SelectMany(b => b.Statements).ToList();
        Assert.Equal([1, 5], statements.Select(s => s.StartLine));
        Assert.Equal("CREATE TABLE app.Also (Id int NOT NULL);", text.Substring(statements[1].StartOffset, statements[1].FragmentLength));
    }

    [Fact]
    public void Objects_a_migration_creates_in_its_batches_that_parse_are_in_the_model_so_only_the_broken_batch_is_missing()
    {
        // Given a migration whose first batch creates a table and whose second batch does not parse, and a procedure
        // that reads the table
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, "migrations/0055_create_app_Note.sql",
            "/*\n  0055_create_app_Note\n  Why:   planted.\n  Locks: creates new tables.\n*/\n" +
            "CREATE TABLE app.Note (NoteId int NOT NULL CONSTRAINT PK_app_Note PRIMARY KEY, Body nvarchar(100) NULL);\nGO\n" +
            "CREATE TABLE app.Broken (Id int NOT NULL\nGO\n");
        Plant.Write(copy, "database/api/Procedures/api.Note_Get.sql", Plant.Procedure("api.Note_Get",
            "SELECT n.NoteId, n.Body FROM app.Note AS n WHERE n.NoteId = @UserId;"));

        // When it is verified
        using var result = Plant.Verify(copy);

        // Then the parse error and the skipped batch are reported, and the procedure's reference to app.Note resolves
        Assert.Contains(result.Findings, f => f is { File: "migrations/0055_create_app_Note.sql", Rule: "parse", Severity: FindingSeverity.Error });
        Assert.Contains(result.Findings, f => f is { File: "migrations/0055_create_app_Note.sql", Line: 8, Rule: "parse", Severity: FindingSeverity.Warning });
        Assert.DoesNotContain(result.Findings, f => f.File == "database/api/Procedures/api.Note_Get.sql" && f.Rule.StartsWith("SQL715", StringComparison.Ordinal));
    }
}
