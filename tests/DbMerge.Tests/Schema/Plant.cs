using Xunit;
using DbMerge.Schema;

namespace DbMerge.Tests.Schema;

/// <summary>Plants a violation into a scratch copy of the repository, and finds the line a marker sits on.</summary>
internal static class Plant
{
    /// <summary>A procedure that follows every house rule; <paramref name="body"/> replaces its one statement.</summary>
    public static string Procedure(string name, string body, string setOptions = "SET NOCOUNT, XACT_ABORT ON;") => $"""
        SET ANSI_NULLS ON;
        SET QUOTED_IDENTIFIER ON;
        GO
        /*
          {name}
          Purpose:      planted by an offline test.
          Transaction:  none (reads only).
          Result set:   UserId int.
          Errors:       none.
          Example:      EXEC {name} @UserId = 1;
        */
        CREATE OR ALTER PROCEDURE {name}
            @UserId int
        AS
        BEGIN
            {setOptions}

            BEGIN TRY
                {body}
            END TRY
            BEGIN CATCH
                IF @@TRANCOUNT > 0 ROLLBACK;
                THROW;
            END CATCH;
        END;
        GO

        """;

    /// <summary>Writes <paramref name="text"/> to <paramref name="relativePath"/> in the copy; returns the path.</summary>
    public static string Write(RepositoryLayout copy, string relativePath, string text)
    {
        var path = Path.Combine(copy.Root, relativePath.Replace('/', Path.DirectorySeparatorChar));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    /// <summary>Replaces the one occurrence of <paramref name="from"/> in a file of the copy.</summary>
    public static void Replace(RepositoryLayout copy, string relativePath, string from, string to)
    {
        var path = Path.Combine(copy.Root, relativePath.Replace('/', Path.DirectorySeparatorChar));
        var text = File.ReadAllText(path);
        var at = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0 && text.IndexOf(from, at + 1, StringComparison.Ordinal) < 0,
            $"'{from}' must occur exactly once in {relativePath} for the plant to be unambiguous.");
        File.WriteAllText(path, text.Replace(from, to, StringComparison.Ordinal));
    }

    /// <summary>1-based line of the first line of a file of the copy that contains <paramref name="marker"/>.</summary>
    public static int LineOf(RepositoryLayout copy, string relativePath, string marker)
    {
        var lines = File.ReadAllText(Path.Combine(copy.Root, relativePath)).ReplaceLineEndings("\n").Split('\n');
        var index = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        Assert.True(index >= 0, $"'{marker}' is not in {relativePath}.");
        return index + 1;
    }

    /// <summary>Offline verification of the copy (code analysis off: the plants are about the model and the house rules).</summary>
    public static VerificationResult Verify(RepositoryLayout copy) =>
        SchemaVerifier.Verify(copy, new VerificationOptions { RunCodeAnalysis = false });

    public static string Describe(VerificationResult result) =>
        result.Findings.Count == 0 ? "(no findings)" : string.Join(Environment.NewLine, result.Findings);
}
