using System.Security.Cryptography;
using System.Text;
using DbMerge.Schema;

namespace DbMerge.Deployment;

/// <summary>
/// SHA-256 checksums of migration files (raw file bytes, lowercase hex — the same value
/// <c>sha256sum</c> prints) and the <c>migrations/checksums.txt</c> list that pins them.
/// Used by the Migrator's journal, the deploy-script generator, the offline test and
/// <c>scripts/new-migration.sh</c>.
/// </summary>
public static class MigrationChecksums
{
    /// <summary>What to do when a recorded migration changed (shown by the test and the runner).</summary>
    public const string AppendOnlyAdvice =
        "Migrations are append-only: restore the file to its recorded content and write the next migration " +
        "(scripts/new-migration.sh \"verb object\") instead.";

    /// <summary>SHA-256 of <paramref name="bytes"/> as 64 lowercase hex characters.</summary>
    public static string Compute(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>SHA-256 of the file's raw bytes (no newline or encoding normalisation), lowercase hex.</summary>
    public static string ComputeFile(string path) => Compute(File.ReadAllBytes(path));

    /// <summary>Checksum of every migration of <paramref name="layout"/>, keyed by file name (ordinal).</summary>
    public static IReadOnlyDictionary<string, string> ComputeAll(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var migration in layout.Migrations())
        {
            result[migration.Name] = ComputeFile(migration.FullPath);
        }

        return result;
    }

    /// <summary>
    /// Reads <c>migrations/checksums.txt</c>: one <c>&lt;sha256&gt;  &lt;file name&gt;</c> per line (the
    /// <c>sha256sum</c> format); blank lines and lines starting with <c>#</c> are ignored. Returns an empty
    /// list when the file does not exist. A malformed line throws <see cref="FormatException"/> naming it.
    /// </summary>
    public static IReadOnlyList<ChecksumEntry> Read(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (!File.Exists(layout.ChecksumsFile))
        {
            return [];
        }

        var entries = new List<ChecksumEntry>();
        var lineNumber = 0;
        foreach (var raw in File.ReadAllLines(layout.ChecksumsFile))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            // sha256sum writes "<hash><space><space or *><name>".
            var separator = line.IndexOf(' ', StringComparison.Ordinal);
            var hash = separator < 0 ? line : line[..separator];
            var name = separator < 0 ? string.Empty : line[(separator + 1)..].TrimStart(' ', '*');
            if (hash.Length != 64 || !hash.All(Uri.IsHexDigit) || name.Length == 0)
            {
                throw new FormatException(
                    $"migrations/checksums.txt line {lineNumber} is not '<sha256>  <file name>': '{line}'.");
            }

            entries.Add(new ChecksumEntry(name, hash.ToLowerInvariant(), lineNumber));
        }

        return entries;
    }

    /// <summary>The checksums.txt line for one migration (sha256sum format, two spaces).</summary>
    public static string FormatLine(string fileName, string checksum) => $"{checksum}  {fileName}";

    /// <summary>Writes checksums.txt for every migration of <paramref name="layout"/> (LF line endings).</summary>
    public static void Write(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var text = new StringBuilder();
        foreach (var (name, checksum) in ComputeAll(layout))
        {
            text.Append(FormatLine(name, checksum)).Append('\n');
        }

        File.WriteAllText(layout.ChecksumsFile, text.ToString(), new UTF8Encoding(false));
    }

    /// <summary>
    /// Compares checksums.txt with the migration files. Problems: a listed file whose content changed, a
    /// migration not listed, a listed file that no longer exists, a name listed twice. Empty when consistent.
    /// </summary>
    public static IReadOnlyList<string> Verify(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var problems = new List<string>();
        var actual = ComputeAll(layout);
        IReadOnlyList<ChecksumEntry> recorded;
        try
        {
            recorded = Read(layout);
        }
        catch (FormatException ex)
        {
            return [ex.Message];
        }

        if (!File.Exists(layout.ChecksumsFile))
        {
            problems.Add("migrations/checksums.txt does not exist. Create it with: (cd migrations && sha256sum [0-9][0-9][0-9][0-9]_*.sql > checksums.txt), then commit it.");
            return problems;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in recorded)
        {
            if (!seen.Add(entry.FileName))
            {
                problems.Add($"migrations/checksums.txt lists {entry.FileName} twice (line {entry.Line}); keep one line per migration.");
                continue;
            }

            if (!actual.TryGetValue(entry.FileName, out var checksum))
            {
                problems.Add($"migrations/{entry.FileName} is listed in migrations/checksums.txt (line {entry.Line}) but the file is missing. " +
                             "A merged migration is never deleted: restore it. " + AppendOnlyAdvice);
            }
            else if (!string.Equals(checksum, entry.Checksum, StringComparison.Ordinal))
            {
                problems.Add($"migrations/{entry.FileName} changed: checksums.txt records {entry.Checksum}, the file hashes to {checksum}. " +
                             AppendOnlyAdvice + " (Only a migration not yet merged to main may be re-hashed: scripts/new-migration.sh --rehash " +
                             entry.FileName + ".)");
            }
        }

        foreach (var name in actual.Keys.Where(n => !seen.Contains(n)))
        {
            problems.Add($"migrations/{name} is not listed in migrations/checksums.txt. Create migrations with scripts/new-migration.sh " +
                         $"(it records the checksum), or record it with: scripts/new-migration.sh --rehash {name}");
        }

        return problems;
    }
}

/// <summary>One line of <c>migrations/checksums.txt</c>.</summary>
public sealed record ChecksumEntry(string FileName, string Checksum, int Line);
