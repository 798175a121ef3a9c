namespace DbMerge.Schema;

/// <summary>
/// Where DbMerge's SQL lives: <c>migrations/</c> (one-time, append-only) and <c>database/</c>
/// (re-runnable objects). Paths reported to users are relative to <see cref="Root"/> with '/' separators.
/// </summary>
public sealed class RepositoryLayout
{
    /// <summary>
    /// The order in which <c>database/</c> object kinds are deployed: dependencies first (DESIGN §2). Table types are
    /// not here: like tables they live only in migrations/ (DBM010 reports a CREATE TYPE under database/).
    /// </summary>
    public static readonly IReadOnlyList<string> DatabaseObjectOrder =
        ["Functions", "Views", "Procedures", "permissions"];

    /// <summary>The folder, next to the dbmerge tool's assemblies, that holds the release it was packed from.</summary>
    public const string PackagedReleaseFolder = "release";

    public RepositoryLayout(string root)
        : this(root, isPackagedRelease: false)
    {
    }

    private RepositoryLayout(string root, bool isPackagedRelease)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        IsPackagedRelease = isPackagedRelease;
        if (!Directory.Exists(MigrationsDirectory))
        {
            throw new DirectoryNotFoundException(
                $"'{Root}' is not a DbMerge repository: it has no migrations/ folder. Pass the folder that holds DbMerge.sln.");
        }
    }

    public string Root { get; }

    /// <summary>
    /// True for the copy of migrations/, database/ and README.md packed into the dbmerge tool (<see cref="PackagedReleaseFolder"/>):
    /// used only when no repository is found (<see cref="Discover"/>).
    /// </summary>
    public bool IsPackagedRelease { get; }

    public string MigrationsDirectory => Path.Combine(Root, "migrations");

    public string DatabaseDirectory => Path.Combine(Root, "database");

    public string ChecksumsFile => Path.Combine(MigrationsDirectory, "checksums.txt");

    /// <summary>
    /// The demo and benchmark seed procedures (<see cref="ScenarioScripts"/>): <c>src/DbMerge.Scenarios/Sql/</c>, validated
    /// offline against the model like database/ but deployed only into scratch databases.
    /// </summary>
    public string ScenariosDirectory => Path.Combine(Root, ScenarioScripts.Folder.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>
    /// Finds the migrations to use. With <paramref name="start"/>: the first folder holding <c>DbMerge.sln</c> and
    /// <c>migrations/</c> at or above it. Without: walking up from the current directory (a checkout you are in always
    /// wins), then from the application's base directory (a runner built inside a checkout), and last the release
    /// packaged with the dbmerge tool (<c>&lt;tool&gt;/release/</c>, <see cref="IsPackagedRelease"/>).
    /// </summary>
    public static RepositoryLayout Discover(string? start = null) =>
        start is null
            ? Discover(Directory.GetCurrentDirectory(), AppContext.BaseDirectory)
            : Discover([start], packagedRelease: null, shownStart: start);

    /// <summary><see cref="Discover(string?)"/> without a start, from explicit current and base directories (testable).</summary>
    internal static RepositoryLayout Discover(string currentDirectory, string baseDirectory) =>
        Discover([currentDirectory, baseDirectory], Path.Combine(baseDirectory, PackagedReleaseFolder), currentDirectory);

    private static RepositoryLayout Discover(string[] candidates, string? packagedRelease, string shownStart)
    {
        foreach (var candidate in candidates)
        {
            for (var dir = new DirectoryInfo(Path.GetFullPath(candidate)); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "DbMerge.sln")) &&
                    Directory.Exists(Path.Combine(dir.FullName, "migrations")))
                {
                    return new RepositoryLayout(dir.FullName);
                }
            }
        }

        if (packagedRelease is not null && Directory.Exists(Path.Combine(packagedRelease, "migrations")))
        {
            return new RepositoryLayout(packagedRelease, isPackagedRelease: true);
        }

        throw new DirectoryNotFoundException(
            "Could not find the DbMerge repository (a folder holding DbMerge.sln and migrations/) above " +
            $"'{shownStart}'. Run from inside the repository or pass --repo.");
    }

    /// <summary>
    /// "the repository /src/dbmerge" or "the release packaged with dbmerge (migrations up to 0039_…)": what a verb says
    /// it is using.
    /// </summary>
    public string Describe()
    {
        if (!IsPackagedRelease)
        {
            return $"the repository {Root}";
        }

        var last = Directory.EnumerateFiles(MigrationsDirectory, "*.sql").Select(Path.GetFileName).Max(StringComparer.Ordinal);
        return $"the release packaged with this dbmerge ({Root}; migrations up to {last ?? "(none)"})";
    }

    /// <summary>Migration scripts in the order DbUp applies them (ordinal by file name).</summary>
    public IReadOnlyList<SqlScriptFile> Migrations() =>
        Directory.EnumerateFiles(MigrationsDirectory, "*.sql", SearchOption.TopDirectoryOnly)
            .OrderBy(Path.GetFileName, StringComparer.Ordinal)
            .Select(Load)
            .ToList();

    /// <summary>
    /// Re-runnable scripts in deployment order: by kind (<see cref="DatabaseObjectOrder"/>), then by path.
    /// Kinds are the folder directly under the schema folder (<c>database/api/Procedures/…</c>), or the
    /// top folder for <c>database/permissions/</c>.
    /// </summary>
    public IReadOnlyList<SqlScriptFile> DatabaseObjects()
    {
        if (!Directory.Exists(DatabaseDirectory))
        {
            return [];
        }

        return Directory.EnumerateFiles(DatabaseDirectory, "*.sql", SearchOption.AllDirectories)
            .Select(Load)
            .OrderBy(f => KindRank(f.RelativePath))
            .ThenBy(f => f.RelativePath, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The scenario scripts (<c>scenario.&lt;Name&gt;.sql</c>) by path; empty when the folder is absent (a packaged release).</summary>
    public IReadOnlyList<SqlScriptFile> Scenarios() =>
        Directory.Exists(ScenariosDirectory)
            ? Directory.EnumerateFiles(ScenariosDirectory, "*.sql", SearchOption.TopDirectoryOnly)
                .Select(Load)
                .OrderBy(f => f.RelativePath, StringComparer.Ordinal)
                .ToList()
            : [];

    /// <summary>Every script: migrations first, then database objects.</summary>
    public IReadOnlyList<SqlScriptFile> AllScripts() => [.. Migrations(), .. DatabaseObjects()];

    public string Relative(string fullPath) =>
        Path.GetRelativePath(Root, fullPath).Replace(Path.DirectorySeparatorChar, '/');

    private SqlScriptFile Load(string fullPath) =>
        new(Relative(fullPath), fullPath, File.ReadAllText(fullPath));

    private static int KindRank(string relativePath)
    {
        // database/<schema>/<Kind>/<file>.sql or database/permissions/<file>.sql
        var parts = relativePath.Split('/');
        var kind = parts.Length >= 4 ? parts[2] : parts.Length >= 2 ? parts[1] : string.Empty;
        for (var i = 0; i < DatabaseObjectOrder.Count; i++)
        {
            if (string.Equals(DatabaseObjectOrder[i], kind, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return DatabaseObjectOrder.Count;
    }
}

/// <summary>One SQL script of the repository.</summary>
/// <param name="RelativePath">Path relative to the repository root, '/'-separated (e.g. <c>migrations/0002_create_app_User.sql</c>).</param>
/// <param name="FullPath">Absolute path on disk.</param>
/// <param name="Text">The script's text.</param>
public sealed record SqlScriptFile(string RelativePath, string FullPath, string Text)
{
    /// <summary>The file name, which is also the DbUp script name for migrations.</summary>
    public string Name => Path.GetFileName(RelativePath);
}
