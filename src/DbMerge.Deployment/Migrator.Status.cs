using Microsoft.Data.SqlClient;

namespace DbMerge.Deployment;

/// <summary>An applied migration as the journal records it.</summary>
/// <param name="Name">File name.</param>
/// <param name="AppliedAtUtc">When it was applied.</param>
/// <param name="Checksum">The recorded checksum (null: written without DbMerge).</param>
/// <param name="ChecksumMatches">True/false against the file; null when no checksum was recorded or the file is not in this repository.</param>
public sealed record AppliedMigration(string Name, DateTime AppliedAtUtc, string? Checksum, bool? ChecksumMatches);

/// <summary>Where a database stands relative to the repository (<c>dbmerge status</c>).</summary>
public sealed record DeploymentStatus(
    IReadOnlyList<AppliedMigration> Applied,
    IReadOnlyList<string> Pending,
    IReadOnlyList<ChecksumMismatch> ChecksumMismatches,
    IReadOnlyList<string> AppliedNotInRepository,
    IReadOnlyList<UntrustedConstraint> UntrustedConstraints)
{
    /// <summary>No migration pending, no applied migration changed, and the database is not newer than the repository.</summary>
    public bool IsUpToDate => Pending.Count == 0 && ChecksumMismatches.Count == 0 && AppliedNotInRepository.Count == 0;

    /// <summary>
    /// The journal holds migrations this repository does not have: the database was deployed from a newer release.
    /// <c>migrate</c> and the deploy script refuse to deploy over it (a downgrade).
    /// </summary>
    public bool IsNewerThanRepository => AppliedNotInRepository.Count > 0;
}

public sealed partial class Migrator
{
    /// <summary>
    /// Reads the journal and the untrusted constraints (read-only; takes no deploy lock). A system database is refused
    /// (<see cref="SystemDatabaseException"/>): its status would list every migration as pending.
    /// </summary>
    public async Task<DeploymentStatus> GetStatusAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var checksums = MigrationChecksums.ComputeAll(_options.Layout);
        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await DeploymentLock.RefuseSystemDatabaseAsync(connection, cancellationToken).ConfigureAwait(false);
        var journal = await DeploymentJournal.ReadAsync(connection, cancellationToken).ConfigureAwait(false);
        var untrusted = await UntrustedConstraints.ReadAsync(connection, cancellationToken).ConfigureAwait(false);
        return BuildStatus(journal, checksums, untrusted);
    }

    /// <summary>Pure part of <see cref="GetStatusAsync"/> (offline-testable).</summary>
    public static DeploymentStatus BuildStatus(
        IReadOnlyList<JournalEntry> journal,
        IReadOnlyDictionary<string, string> fileChecksums,
        IReadOnlyList<UntrustedConstraint> untrusted)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(fileChecksums);
        var applied = journal
            .Select(j => new AppliedMigration(j.ScriptName, j.AppliedAtUtc, j.Checksum,
                j.Checksum is not null && fileChecksums.TryGetValue(j.ScriptName, out var file)
                    ? string.Equals(file, j.Checksum, StringComparison.OrdinalIgnoreCase)
                    : null))
            .ToList();
        var appliedNames = journal.Select(j => j.ScriptName).ToHashSet(StringComparer.Ordinal);
        var pending = fileChecksums.Keys.Where(n => !appliedNames.Contains(n)).Order(StringComparer.Ordinal).ToList();
        var notInRepository = DeploymentJournal.FindUnknown(journal, fileChecksums);
        return new DeploymentStatus(applied, pending, DeploymentJournal.FindMismatches(journal, fileChecksums), notInRepository, untrusted ?? []);
    }
}
