using DbMerge.Deployment;
using DbMerge.Scenarios;
using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using DbMerge.Tests.Schema;
using Xunit;

namespace DbMerge.Tests.Scenarios;

/// <summary>
/// Scenario procedures (src/DbMerge.Scenarios/Sql/scenario.&lt;Name&gt;.sql) are validated offline against the replayed
/// model like database/, follow the scenario house rules (ScenarioRules), are embedded exactly as validated, and never
/// become part of the release (deploy script, migrate, dacpac). Plants go into scratch copies.
/// </summary>
public sealed class ScenarioVerificationTests
{
    private const string DemoFile = ScenarioScripts.Folder + "/scenario.DemoMerge.sql";
    private const string PlantedFile = ScenarioScripts.Folder + "/scenario.Planted.sql";

    private static string Scenario(string body, string name = "scenario.Planted", string header = "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n") =>
        header + $"""
        /*
          {name}
          Purpose:     planted by an offline test.
          Result set:  one row: UserId int.
          Example:     EXEC {name};
        */
        CREATE OR ALTER PROCEDURE {name}
        AS
        BEGIN
            SET NOCOUNT, XACT_ABORT ON;

            {body}
        END;
        GO

        """;

    [Fact]
    public void The_repository_has_the_demo_and_benchmark_scenarios_and_each_is_embedded_exactly_as_its_file()
    {
        var files = Repo.Layout.Scenarios();
        Assert.Equal(["BenchMerge", "BenchMergeWrite", "BenchMove", "BenchMoveForest", "DemoMerge", "DemoReconciliation"], ScenarioCatalog.All.Select(s => s.Name));

        Assert.Equal(files.Select(f => f.RelativePath), ScenarioCatalog.All.Select(s => s.RelativePath));
        foreach (var scenario in ScenarioCatalog.All)
        {
            var file = Assert.Single(files, f => f.RelativePath == scenario.RelativePath);
            Assert.Equal(file.Text.ReplaceLineEndings("\n"), scenario.Text.ReplaceLineEndings("\n"));
        }
    }

    [Fact]
    public void The_repository_scenarios_pass_the_scenario_rules_and_the_model()
    {
        var scenarios = Repo.Layout.Scenarios().Select(f => SqlText.Parse(f)).ToList();
        Assert.NotEmpty(scenarios);

        Assert.Empty(ScenarioRules.Check(Repo.Layout, scenarios));
        using var result = Plant.Verify(Repo.Layout);
        Assert.DoesNotContain(result.Findings, f => ScenarioScripts.IsScenarioPath(f.File));
        Assert.Equal(scenarios.Count, result.Scripts.Count(s => ScenarioScripts.IsScenarioPath(s.File.RelativePath)));
    }

    [Fact]
    public void A_scenario_referencing_a_misspelled_column_fails_validation_with_SQL71501_at_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        Plant.Replace(copy, DemoFile, "INSERT INTO app.Collection (Name, OwnerUserId)", "INSERT INTO app.Collection (Name, OwnerUsrId)");
        var line = Plant.LineOf(copy, DemoFile, "OwnerUsrId");

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "SQL71501", Severity: FindingSeverity.Error } &&
                                              f.File == DemoFile && f.Line == line && f.Message.Contains("OwnerUsrId", StringComparison.Ordinal));
        Assert.True(result.HasErrors);
    }

    [Fact]
    public void A_scenario_referencing_a_table_no_migration_creates_fails_validation_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, PlantedFile, Scenario("SELECT n.UserId FROM app.NoSuchTable AS n;"));
        var line = Plant.LineOf(copy, PlantedFile, "app.NoSuchTable");

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "SQL71501" or "SQL71502", Severity: FindingSeverity.Error } &&
                                              f.File == PlantedFile && f.Line == line && f.Message.Contains("[app].[NoSuchTable]", StringComparison.Ordinal));
    }

    [Fact]
    public void A_scenario_is_checked_by_the_safety_rules_but_not_by_the_api_contract_rules()
    {
        // Given a scenario with SELECT * (DBM005 applies), no TRY/CATCH (DBM002 does not) and an unguarded transaction (DBM013 does not)
        var text = Scenario("BEGIN TRANSACTION;\n    SELECT * FROM app.[User];\n    COMMIT TRANSACTION;");

        var findings = ScenarioRules.Check(Repo.Layout, [Parse(text)]).ToList();

        var finding = Assert.Single(findings);
        Assert.Equal(NoSelectStarRule.RuleId, finding.Rule);
        Assert.Equal(PlantedFile, finding.File);
    }

    [Theory]
    [InlineData("wrong name", "scenario.Other")]
    [InlineData("wrong schema", "dbo.Planted")]
    public void A_scenario_file_whose_procedure_is_not_named_after_it_is_reported(string _, string name)
    {
        var text = Scenario("SELECT 1 AS UserId;", name: name);

        var finding = Assert.Single(ScenarioRules.Check(Repo.Layout, [Parse(text)]), f => f.Rule == ScenarioLayoutRule.RuleId);

        Assert.Contains($"creates procedure {name}", finding.Message, StringComparison.Ordinal);
        Assert.Equal(ProcedureLine(text), finding.Line);
    }

    [Fact]
    public void A_scenario_file_with_a_second_procedure_is_reported()
    {
        var text = Scenario("SELECT 1 AS UserId;") + Scenario("SELECT 2 AS UserId;", name: "scenario.Second", header: string.Empty);

        var finding = Assert.Single(ScenarioRules.Check(Repo.Layout, [Parse(text)]), f => f.Rule == ScenarioLayoutRule.RuleId);

        Assert.Contains("one procedure per file", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scenario_that_throws_a_number_of_the_api_block_is_reported()
    {
        var text = Scenario("THROW 51999, N'scenario.Planted: no.', 1;");

        var finding = Assert.Single(ScenarioRules.Check(Repo.Layout, [Parse(text)]), f => f.Rule == ScenarioLayoutRule.RuleId);

        Assert.Contains("51000-51999 is the api's block", finding.Message, StringComparison.Ordinal);
        Assert.Equal(LineOfText(text, "THROW 51999"), finding.Line);
    }

    [Fact]
    public void A_scenario_file_without_the_SET_header_is_reported_at_line_1()
    {
        var text = Scenario("SELECT 1 AS UserId;", header: string.Empty);

        var finding = Assert.Single(ScenarioRules.Check(Repo.Layout, [Parse(text)]), f => f.Rule == ScenarioLayoutRule.RuleId);

        Assert.Equal(1, finding.Line);
    }

    [Fact]
    public void A_scenario_file_named_outside_the_convention_is_reported()
    {
        var text = Scenario("SELECT 1 AS UserId;", name: "scenario.planted_seed");

        var finding = Assert.Single(ScenarioRules.Check(Repo.Layout, [Parse(text, ScenarioScripts.Folder + "/scenario.planted_seed.sql")]),
            f => f.Rule == ScenarioLayoutRule.RuleId);

        Assert.Contains("scenario.<Name>.sql", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Scenarios_are_never_part_of_the_release_deploy_script_migrate_or_dacpac()
    {
        var script = DeployScriptGenerator.Generate(Repo.Layout);
        var createScript = SchemaArtifacts.GenerateCreateScript(Repo.Layout, "DbMerge");

        Assert.DoesNotContain("scenario.", script, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("[scenario]", createScript, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Repo.Layout.DatabaseObjects(), f => ScenarioScripts.IsScenarioPath(f.RelativePath));
        Assert.DoesNotContain(Repo.Layout.AllScripts(), f => ScenarioScripts.IsScenarioPath(f.RelativePath));
    }

    private static ParsedScript Parse(string text, string path = PlantedFile)
    {
        var findings = new List<Finding>();
        var script = SqlText.Parse(new SqlScriptFile(path, "/irrelevant/" + path, text), findings);
        Assert.True(script.Fragment is not null, "the planted scenario does not parse: " + string.Join("; ", findings));
        return script;
    }

    private static int ProcedureLine(string text) => LineOfText(text, "CREATE OR ALTER PROCEDURE");

    private static int LineOfText(string text, string marker) =>
        Array.FindIndex(text.ReplaceLineEndings("\n").Split('\n'), l => l.Contains(marker, StringComparison.Ordinal)) + 1;
}
