using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Xunit;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>Builds in-memory database/ scripts and runs one procedure house rule over them.</summary>
internal static class ProcedureRuleHarness
{
    public const string DefaultPath = "database/api/Procedures/api.X_Y.sql";

    public const string CleanWork = """
                IF @Id IS NULL
                BEGIN
                    SET @Message = FORMATMESSAGE(N'api.X_Y: @Id is required (got %s).', N'NULL');
                    THROW 51000, @Message, 1;
                END;

                BEGIN TRANSACTION;

                UPDATE app.Document SET Title = N'x' WHERE DocumentId = @Id;

                COMMIT TRANSACTION;

                SELECT d.DocumentId, d.Title FROM app.Document AS d WHERE d.DocumentId = @Id;
        """;

    public const string CleanCatch = """
                IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
                THROW;
        """;

    public const string CleanPrologue = """
            SET NOCOUNT, XACT_ABORT ON;

            DECLARE @Message nvarchar(2048);
        """;

    /// <summary>
    /// <see cref="CleanPrologue"/> plus the refusal guard DBM013 requires of a procedure that issues BEGIN TRANSACTION
    /// (throws 51001: pass errors that list it).
    /// </summary>
    public const string GuardedPrologue = """
            SET NOCOUNT, XACT_ABORT ON;

            IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
            BEGIN
                SET XACT_ABORT OFF;
                DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.X_Y: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (%d); call it outside one.', @@TRANCOUNT);
                THROW 51001, @OpenMessage, 1;
            END;

            DECLARE @Message nvarchar(2048);
        """;

    public const string GuardedErrors = "51000  @Id is missing, 51001  called inside an open transaction";

    /// <summary>A procedure file that follows every house rule unless a part is replaced (DBM013 also needs <see cref="GuardedPrologue"/>).</summary>
    public static string Procedure(
        string? work = null,
        string? catchBlock = null,
        string? prologue = null,
        string name = "api.X_Y",
        string parameters = "@Id int",
        string errors = "51000  @Id is missing",
        string epilogue = "") =>
        $"""
        SET ANSI_NULLS ON;
        SET QUOTED_IDENTIFIER ON;
        GO
        /*
          {name}
          Purpose:     a test procedure.
          Transaction: owns its transaction.
          Result set:  DocumentId int, Title nvarchar(255)
          Errors:      {errors}
          Example:     EXEC {name} @Id = 1;
        */
        CREATE OR ALTER PROCEDURE {name}
            {parameters}
        AS
        BEGIN
        {prologue ?? CleanPrologue}

            BEGIN TRY
        {work ?? CleanWork}
            END TRY
            BEGIN CATCH
        {catchBlock ?? CleanCatch}
            END CATCH;
        {epilogue}
        END;
        GO

        """;

    public static ParsedScript Parse(string text, string path = DefaultPath)
    {
        var findings = new List<Finding>();
        var script = SqlText.Parse(new SqlScriptFile(path, "/irrelevant/" + path, text), findings);
        Assert.True(script.Fragment is not null, "the planted script does not parse: " + string.Join("; ", findings) + "\n" + text);
        return script;
    }

    public static IReadOnlyList<Finding> Run(IHouseRule rule, string text, string path = DefaultPath) =>
        rule.Check(new HouseRuleContext(Repo.Layout, [Parse(text, path)])).ToList();

    /// <summary>1-based line of the first line of <paramref name="text"/> that contains <paramref name="marker"/>.</summary>
    public static int LineOf(string text, string marker)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var index = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        Assert.True(index >= 0, $"marker '{marker}' is not in the planted script");
        return index + 1;
    }

    /// <summary>Asserts exactly one finding, of <paramref name="rule"/>, at the line of <paramref name="marker"/>, naming <paramref name="objectName"/>.</summary>
    public static Finding AssertSingle(IReadOnlyList<Finding> findings, string rule, string text, string marker, string objectName = "api.X_Y")
    {
        var finding = Assert.Single(findings);
        AssertFinding(finding, rule, text, marker, objectName);
        return finding;
    }

    public static void AssertFinding(Finding finding, string rule, string text, string marker, string objectName = "api.X_Y")
    {
        Assert.Equal(rule, finding.Rule);
        Assert.Equal(LineOf(text, marker), finding.Line);
        Assert.Contains(objectName, finding.Message, StringComparison.Ordinal);
    }

    public static void AssertClean(IReadOnlyList<Finding> findings) =>
        Assert.True(findings.Count == 0, "unexpected findings:\n" + string.Join("\n", findings));
}
