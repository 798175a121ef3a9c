using Xunit;
using System.Text.Json;
using DbMerge.Schema;
using DbMerge.Tests.Runner;

namespace DbMerge.Tests.Schema;

/// <summary><c>dbmerge validate</c>: offline, exit 0 when clean, exit 1 with every finding as file:line otherwise.</summary>
public sealed class ValidateVerbTests
{
    [Fact]
    public async Task Validate_exits_0_on_the_repository()
    {
        var result = await CliHarness.RunAsync(["validate", "--repo", Repo.Layout.Root]);

        Assert.True(result.ExitCode == 0, result.Out + result.Error);
        Assert.Contains("0 error(s)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_exits_1_and_prints_the_file_and_line_of_a_planted_mistake()
    {
        var copy = Repo.ScratchCopy();
        const string file = "database/api/Procedures/api.User_Find.sql";
        Plant.Replace(copy, file, "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");
        var line = Plant.LineOf(copy, file, "u.DisplayNmae");

        var result = await CliHarness.RunAsync(["validate", "--repo", copy.Root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape($"{file}:{line}: error ")}SQL7150[12]: .*DisplayNmae", result.Out);
    }

    [Fact]
    public async Task Validate_json_lists_the_findings_for_machines()
    {
        var copy = Repo.ScratchCopy();
        const string file = "database/api/Procedures/api.User_Find.sql";
        Plant.Replace(copy, file, "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");

        var result = await CliHarness.RunAsync(["validate", "--json", "--repo", copy.Root]);

        Assert.Equal(1, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        var findings = json.RootElement.GetProperty("findings").EnumerateArray().ToList();
        Assert.Contains(findings, f => f.GetProperty("file").GetString() == file && f.GetProperty("rule").GetString() is "SQL71501" or "SQL71502" &&
                                       f.GetProperty("line").GetInt32() == Plant.LineOf(copy, file, "u.DisplayNmae"));
        Assert.True(json.RootElement.GetProperty("errors").GetInt32() >= 1);
    }

    // ---- validate never crashes: each input below is a finding with file and line (exit 1, JSON too) ----------

    private const string Header = "/*\n  planted\n  Why:   planted by an offline test.\n  Locks: none.\n*/\n";

    /// <summary>Planted inputs: the file, its text, and the (line, rule) findings validate must report for it.</summary>
    public static TheoryData<string, string, string, int, string> Inputs => new()
    {
        { "a migration that does not parse", "migrations/0055_create_app_Broken.sql", Header + "CREATE TABLE app.Broken (Id int NOT NULL\nGO\n", 7, "parse" },
        { "a comment line reading '  go'", "migrations/0055_alter_app_User_planted.sql", Header.Replace("  Locks: none.", "  Locks: none.\n  go", StringComparison.Ordinal) + "SELECT 1 AS One;\nGO\n", 5, "script" },
        { "GO with a count", "migrations/0055_alter_app_User_planted.sql", Header + "PRINT N'twice';\nGO 2\n", 7, "DBM022" },
        { "a :r line", "migrations/0055_alter_app_User_planted.sql", Header + "PRINT N'one';\n:r other.sql\nGO\n", 7, "script" },
        { "a :setvar line in a comment", "migrations/0055_alter_app_User_planted.sql", Header + "/*\n:setvar Target prod\n*/\nPRINT N'one';\nGO\n", 7, "script" },
        { "a temp table used across GO batches", "migrations/0055_alter_app_User_planted.sql",
            Header + "CREATE TABLE #Ids (Id int NOT NULL);\nGO\nSELECT i.Id FROM #Ids AS i;\nGO\n", 8, "script" },
        { "SET NOEXEC in a migration", "migrations/0055_alter_app_User_planted.sql", Header + "SET NOEXEC ON;\nGO\n", 6, "script" },
        { "a COMMIT in a migration", "migrations/0055_alter_app_User_planted.sql", Header + "PRINT N'one';\nCOMMIT;\nGO\n", 7, "script" },
        { "a comment line starting 'exit ...'", "migrations/0055_alter_app_User_planted.sql", Header + "/*\n  exit the loop when done\n*/\nPRINT N'one';\nGO\n", 7, "script" },
    };

    [Fact]
    public async Task A_repository_file_that_cannot_be_read_is_one_usage_line_naming_it_not_an_unexpected_error()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "symbolic links need privileges on Windows");
        var copy = Repo.ScratchCopy();
        File.CreateSymbolicLink(Path.Combine(copy.MigrationsDirectory, "0055_alter_app_User_planted.sql"), Path.Combine(copy.Root, "no-such-file.sql"));

        var result = await CliHarness.RunAsync(["validate", "--json", "--repo", copy.Root]);

        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}\n{result.Error}");
        Assert.DoesNotContain("unexpected error", result.Error, StringComparison.Ordinal);
        Assert.Contains("0055_alter_app_User_planted.sql", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task Validate_json_reports_each_planted_input_as_a_finding_with_file_and_line_and_exits_1(
        string input, string file, string text, int line, string rule)
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, file, text);

        var result = await CliHarness.RunAsync(["validate", "--json", "--repo", copy.Root]);

        Assert.True(result.ExitCode == 1, $"{input}: exit {result.ExitCode}\n{result.Error}");
        Assert.DoesNotContain("unexpected error", result.Error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(result.Out);
        var findings = json.RootElement.GetProperty("findings").EnumerateArray()
            .Select(f => (File: f.GetProperty("file").GetString(), Line: f.GetProperty("line").GetInt32(), Rule: f.GetProperty("rule").GetString(),
                Severity: f.GetProperty("severity").GetString()))
            .ToList();
        Assert.True(findings.Contains((file, line, rule, "error")), $"{input}: no {rule} error at {file}:{line} in\n{result.Out}");
        Assert.True(json.RootElement.GetProperty("errors").GetInt32() >= 1);
    }

    [Fact]
    public async Task A_migration_that_does_not_parse_is_reported_and_every_other_rule_still_reports_on_what_could_be_modelled()
    {
        // Given a migration that does not parse, a new table whose foreign key to app.User has no merge policy, and a
        // procedure that reads with NOLOCK
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, "migrations/0055_create_app_Broken.sql", Header + "CREATE TABLE app.Broken (Id int NOT NULL\nGO\n");
        Plant.Write(copy, "migrations/0056_create_app_Note.sql", Header +
            "CREATE TABLE app.Note\n(\n    NoteId   int NOT NULL CONSTRAINT PK_app_Note PRIMARY KEY,\n" +
            "    AuthorId int NOT NULL CONSTRAINT FK_app_Note_AuthorId_app_User REFERENCES app.[User] (UserId)\n);\nGO\n" +
            "CREATE INDEX IX_app_Note_AuthorId ON app.Note (AuthorId);\nGO\n");
        const string procedure = "database/api/Procedures/api.MergeRun_List.sql";
        Plant.Replace(copy, procedure, "FROM dbmerge.MergeRun AS r", "FROM dbmerge.MergeRun AS r WITH (NOLOCK)");

        // When it is validated
        var result = await CliHarness.RunAsync(["validate", "--repo", copy.Root]);

        // Then the parse error, the batch left out of the model, the missing policy and the house rule are all reported
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("migrations/0055_create_app_Broken.sql:7: error parse: ", result.Out);
        Assert.Contains("migrations/0055_create_app_Broken.sql:1: warning parse: lines 1-6 (one GO batch) do not parse and were left out of the offline model", result.Out);
        Assert.Matches(@"(?m)^migrations/0056_create_app_Note\.sql:\d+: error DBM040: Foreign key FK_app_Note_AuthorId_app_User", result.Out);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(procedure)}:{Plant.LineOf(copy, procedure, "WITH (NOLOCK)")}: error DBM006: ", result.Out);
        Assert.Equal(string.Empty, result.Error);
    }

    [Fact]
    public async Task A_database_file_with_a_typo_is_reported_with_its_line_and_the_other_files_are_still_validated_against_the_model()
    {
        // Given a procedure with a syntax error and another one with a misspelled column
        var copy = Repo.ScratchCopy();
        const string broken = "database/api/Procedures/api.User_Find.sql";
        const string misspelled = "database/api/Procedures/api.MergeRun_List.sql";
        Plant.Replace(copy, broken, "        FROM app.[User] AS u\n", "        FORM app.[User] AS u\n");
        Plant.Replace(copy, misspelled, "r.RequestedBy, r.Reason", "r.RequestedBy, r.Raeson");

        // When it is validated
        var result = await CliHarness.RunAsync(["validate", "--repo", copy.Root]);

        // Then both are reported with their lines, and api.User_Find's error numbers still count as thrown
        Assert.Equal(1, result.ExitCode);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(broken)}:{Plant.LineOf(copy, broken, "FORM app.[User]")}: error parse: ", result.Out);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape(misspelled)}:{Plant.LineOf(copy, misspelled, "r.Raeson")}: error SQL7150[12]: .*Raeson", result.Out);
        Assert.DoesNotMatch(@"error DBM030: error \d+ is in the client's registry but no procedure", result.Out);
    }

    [Fact]
    public async Task Validate_of_a_folder_that_is_not_a_repository_is_a_usage_error()
    {
        var empty = ScratchDirectory.Create("dbmerge-empty-");

        var result = await CliHarness.RunAsync(["validate", "--repo", empty]);

        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
