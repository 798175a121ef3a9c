using Xunit;
using DbMerge.Schema;

namespace DbMerge.Tests.Schema;

/// <summary>
/// Issue 2's acceptance for the offline layer: each planted mistake makes verification fail, naming the file and
/// the line. Every plant goes into a scratch copy of the repository, never into the repository itself.
/// </summary>
public sealed class OfflineVerificationTests
{
    private const string PlantedProcedure = "database/api/Procedures/api.Planted_Probe.sql";

    [Fact]
    public void The_repository_builds_a_valid_model_with_no_error_finding()
    {
        using var result = Plant.Verify(Repo.Layout);

        Assert.True(!result.HasErrors, Plant.Describe(result));
        Assert.NotNull(result.Model);
    }

    [Fact]
    public void A_procedure_referencing_a_column_that_does_not_exist_fails_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        const string file = "database/api/Procedures/api.User_Find.sql";
        Plant.Replace(copy, file, "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");
        var line = Plant.LineOf(copy, file, "u.DisplayNmae");

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "SQL71501" or "SQL71502", Severity: FindingSeverity.Error } &&
                                              f.File == file && f.Line == line && f.Message.Contains("DisplayNmae", StringComparison.Ordinal));
    }

    [Fact]
    public void A_procedure_referencing_a_table_no_migration_creates_fails_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, PlantedProcedure, Plant.Procedure("api.Planted_Probe",
            "SELECT n.UserId FROM app.NoSuchTable AS n WHERE n.UserId = @UserId;"));
        var line = Plant.LineOf(copy, PlantedProcedure, "app.NoSuchTable");

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "SQL71501" or "SQL71502", Severity: FindingSeverity.Error } &&
                                              f.File == PlantedProcedure && f.Line == line &&
                                              f.Message.Contains("[app].[NoSuchTable]", StringComparison.Ordinal));
    }

    [Fact]
    public void A_migration_adding_a_constraint_to_an_existing_table_WITH_CHECK_fails_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        const string file = "migrations/0099_add_CK_app_User_DisplayName_NotBlank.sql";
        Plant.Write(copy, file, """
            /*
              0099_add_CK_app_User_DisplayName_NotBlank
              Why:   planted by an offline test.
              Locks: Sch-M on app.User while every row is validated.
            */
            ALTER TABLE app.[User] WITH CHECK
                ADD CONSTRAINT CK_app_User_DisplayName_NotBlank CHECK (DisplayName <> N'');
            GO

            """);

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "DBM020", Severity: FindingSeverity.Error } &&
                                              f.File == file && f.Line == Plant.LineOf(copy, file, "ALTER TABLE"));
    }

    [Fact]
    public void A_procedure_without_SET_XACT_ABORT_ON_fails_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, PlantedProcedure, Plant.Procedure("api.Planted_Probe",
            "SELECT u.UserId FROM app.[User] AS u WHERE u.UserId = @UserId;", setOptions: "SET NOCOUNT ON;"));
        var create = Plant.LineOf(copy, PlantedProcedure, "CREATE OR ALTER PROCEDURE");
        var set = Plant.LineOf(copy, PlantedProcedure, "SET NOCOUNT ON;");

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "DBM001", Severity: FindingSeverity.Error } &&
                                              f.File == PlantedProcedure && f.Line >= create && f.Line <= set);
    }

    [Fact]
    public void A_procedure_using_MERGE_fails_with_its_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, PlantedProcedure, Plant.Procedure("api.Planted_Probe", """
            MERGE app.[User] AS t
                    USING (SELECT @UserId AS UserId) AS s ON t.UserId = s.UserId
                    WHEN MATCHED THEN UPDATE SET t.IsActive = 1;
            """));

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "DBM004", Severity: FindingSeverity.Error } &&
                                              f.File == PlantedProcedure && f.Line == Plant.LineOf(copy, PlantedProcedure, "MERGE app."));
    }

    [Theory]
    [InlineData("EXEC sys.sp_rename @objname = N'app.User.DisplayName', @newname = N'Name', @objtype = N'COLUMN';", "sp_rename")]
    [InlineData("ALTER TABLE app.[User] REBUILD PARTITION = ALL;", "REBUILD")]
    [InlineData("DBCC CHECKIDENT ('app.User', RESEED, 1000);", "DBCC")]
    public void A_migration_with_DDL_the_replayer_does_not_understand_fails_with_its_file_and_line(string statement, string marker)
    {
        var copy = Repo.ScratchCopy();
        const string file = "migrations/0099_change_app_User_planted.sql";
        Plant.Write(copy, file, $"""
            /*
              0099_change_app_User_planted
              Why:   planted by an offline test.
              Locks: whatever the statement takes.
            */
            {statement}
            GO

            """);

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "replay", Severity: FindingSeverity.Error } &&
                                              f.File == file && f.Line == Plant.LineOf(copy, file, marker));
    }

    [Fact]
    public void A_misspelled_column_of_an_app_table_joined_to_a_system_view_is_still_an_error()
    {
        var copy = Repo.ScratchCopy();
        Plant.Write(copy, PlantedProcedure, Plant.Procedure("api.Planted_Probe",
            "SELECT u.DisplayNmae, c.name FROM app.[User] AS u JOIN sys.columns AS c ON c.column_id = u.UserId WHERE u.UserId = @UserId;"));

        using var result = Plant.Verify(copy);

        Assert.Contains(result.Findings, f => f is { Rule: "SQL71501" or "SQL71502", Severity: FindingSeverity.Error } &&
                                              f.File == PlantedProcedure && f.Message.Contains("DisplayNmae", StringComparison.Ordinal));
    }

    // Messages exactly as DacFx 170.5.96 reports them for a model without a master.dacpac reference.
    [Theory]
    [InlineData("Procedure: [dbo].[P] has an unresolved reference to object [sys].[foreign_keys].", true)]
    [InlineData("Procedure: [dbo].[P] has an unresolved reference to object [sys].[sp_executesql].[@params].", true)]
    [InlineData("Procedure: [dbo].[P] contains an unresolved reference to an object. Either the object does not exist or the reference is ambiguous because it could refer to any of the following objects: [dbo].[T].[t]::[object_id], [sys].[foreign_keys].[t]::[object_id], [sys].[tables].[object_id] or [sys].[tables].[t]::[object_id].", true)]
    [InlineData("Procedure: [dbo].[P] contains an unresolved reference to an object. Either the object does not exist or the reference is ambiguous because it could refer to any of the following objects: [sys].[foreign_keys].[fk]::[parent_object_id], [sys].[foreign_keys].[parent_object_id] or [sys].[tables].[fk]::[parent_object_id].", true)]
    [InlineData("Procedure: [dbo].[P] contains an unresolved reference to an object. Either the object does not exist or the reference is ambiguous because it could refer to any of the following objects: [dbo].[T].[Idd], [dbo].[T].[x]::[Idd] or [sys].[columns].[x]::[Idd].", false)]
    [InlineData("Procedure: [dbo].[P] has an unresolved reference to object [app].[NoSuchTable].", false)]
    [InlineData("Procedure: [dbo].[P] contains an unresolved reference to an object. Either the object does not exist or the reference is ambiguous because it could refer to any of the following objects: [app].[User].[u]::[Nmae] or [app].[User].[Nmae].", false)]
    public void Only_references_bound_to_SQL_Servers_own_sys_objects_are_left_to_the_server(string message, bool system)
    {
        Assert.Equal(system, SchemaVerifier.IsSystemObjectReference(message));
    }

    [Fact]
    public void Error_numbers_thrown_only_by_the_generated_deploy_script_count_as_thrown()
    {
        var registry = new[] { 51001, 51002, 51003 };
        const string readme = "51001 51002 51003";

        using var without = SchemaVerifier.Verify(Repo.Layout, new VerificationOptions
        {
            RunCodeAnalysis = false, RunHouseRules = false, RunModelRules = false, RegistryNumbers = registry, ReadmeText = readme,
        });
        using var with = SchemaVerifier.Verify(Repo.Layout, new VerificationOptions
        {
            RunCodeAnalysis = false, RunHouseRules = false, RunModelRules = false, RegistryNumbers = registry, ReadmeText = readme,
            GeneratedScripts = [("(generated) deploy script", DbMerge.Deployment.DeployScriptGenerator.Build(Repo.Layout).TransactSql)],
        });

        Assert.Contains(without.Findings, f => f.Rule == ErrorNumberSync.RuleId && f.Message.Contains("51001", StringComparison.Ordinal));
        Assert.DoesNotContain(with.Findings, f => f.Rule == ErrorNumberSync.RuleId && f.Message.Contains("no procedure", StringComparison.Ordinal) &&
                                                  registry.Any(n => f.Message.Contains(n.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
    }

    [Fact]
    public void A_registered_error_number_missing_from_the_README_is_reported()
    {
        using var result = SchemaVerifier.Verify(Repo.Layout, new VerificationOptions
        {
            RunCodeAnalysis = false, RunHouseRules = false, RunModelRules = false,
            RegistryNumbers = [51001], ReadmeText = "no numbers here",
            GeneratedScripts = [("(generated) deploy script", DbMerge.Deployment.DeployScriptGenerator.Build(Repo.Layout).TransactSql)],
        });

        Assert.Contains(result.Findings, f => f is { Rule: ErrorNumberSync.RuleId, File: "README.md" } && f.Message.Contains("51001", StringComparison.Ordinal));
    }
}
