namespace DbMerge.Schema;

/// <summary>
/// Where scenario procedures live and what they may be: demo and benchmark seed data as T-SQL, one procedure per file,
/// <c>src/DbMerge.Scenarios/Sql/scenario.&lt;Name&gt;.sql</c> holding <c>CREATE OR ALTER PROCEDURE scenario.&lt;Name&gt;</c>. The
/// files are embedded in DbMerge.Scenarios and deployed (with <see cref="CreateSchemaSql"/>) only into scratch databases,
/// after migration. Offline verification adds them to the replayed model, so DacFx validates them like database/
/// (a misspelled column is SQL71501 with file and line), runs code analysis over them and the house rules of
/// <see cref="HouseRules.ScenarioRules"/>; they are never part of the release's schema (dacpac, deploy script, migrate).
/// </summary>
public static class ScenarioScripts
{
    /// <summary>The schema of every scenario procedure.</summary>
    public const string Schema = "scenario";

    /// <summary>The folder of the scenario files, relative to the repository root.</summary>
    public const string Folder = "src/DbMerge.Scenarios/Sql";

    /// <summary>Creates the scenario schema in a scratch database (before the procedures) and in the offline model.</summary>
    public const string CreateSchemaSql = "CREATE SCHEMA [scenario] AUTHORIZATION [dbo];";

    /// <summary>True for a repository-relative path in <see cref="Folder"/>.</summary>
    public static bool IsScenarioPath(string relativePath) =>
        relativePath.StartsWith(Folder + "/", StringComparison.Ordinal);
}
