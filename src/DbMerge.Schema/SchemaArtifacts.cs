using Microsoft.SqlServer.Dac;
using Microsoft.SqlServer.Dac.Model;

namespace DbMerge.Schema;

/// <summary>The model is invalid: an artifact cannot be built. <see cref="Findings"/> says why.</summary>
public sealed class SchemaInvalidException(IReadOnlyList<Finding> findings)
    : Exception($"The offline model has {findings.Count(f => f.Severity == FindingSeverity.Error)} error(s); first: {findings.FirstOrDefault(f => f.Severity == FindingSeverity.Error)}")
{
    public IReadOnlyList<Finding> Findings { get; } = findings;
}

/// <summary>Artifacts built from the offline model: a dacpac and a full CREATE script.</summary>
public static class SchemaArtifacts
{
    /// <summary>
    /// Builds the model (parse, replay, database/, DacFx validation — no code analysis or house rules) and
    /// writes it as a dacpac to <paramref name="path"/>. Throws <see cref="SchemaInvalidException"/> when the
    /// model has errors.
    /// </summary>
    public static void WriteDacpac(RepositoryLayout layout, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var model = BuildValidModel(layout);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        DacPackageExtensions.BuildPackage(path, model, Metadata());
    }

    /// <summary>
    /// The T-SQL script that creates the whole modelled database named <paramref name="databaseName"/> from
    /// nothing (DacServices.GenerateCreateScript over the built package). For review and diffing; deployments
    /// use DbUp. Throws <see cref="SchemaInvalidException"/> when the model has errors.
    /// </summary>
    public static string GenerateCreateScript(RepositoryLayout layout, string databaseName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databaseName);
        using var model = BuildValidModel(layout);
        using var stream = new MemoryStream();
        DacPackageExtensions.BuildPackage(stream, model, Metadata());
        stream.Position = 0;
        using var package = DacPackage.Load(stream);
        return DacServices.GenerateCreateScript(package, databaseName, new DacDeployOptions());
    }

    private static TSqlModel BuildValidModel(RepositoryLayout layout)
    {
        var result = SchemaVerifier.Verify(layout, VerificationOptions.ModelOnly);
        if (result.HasErrors || result.Model is null)
        {
            result.Dispose();
            throw new SchemaInvalidException(result.Findings);
        }

        return result.Model; // the caller disposes it (DacFx keeps the model's scripts in temp files until then)
    }

    private static PackageMetadata Metadata() => new()
    {
        Name = "DbMerge",
        Description = "DbMerge schema replayed from migrations/ plus database/ (offline model).",
        Version = "1.0.0",
    };
}
