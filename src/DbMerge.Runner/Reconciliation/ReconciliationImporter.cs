using CsvHelper;
using DbMerge.Client;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Reconciliation;

/// <summary>The outcome of one (line, pair) with the values as the file holds them.</summary>
internal sealed record ImportedPair(ReconciliationImportRow Row, string Outcome, string? Reason, int? RequestId, bool WasRecorded);

/// <summary>What an import (or its dry run) did.</summary>
internal sealed record ReconciliationImportReport(
    ReconciliationCsvFile File,
    ReconciliationImport? Import,
    bool DryRun,
    bool AlreadyImported,
    bool Stopped,
    IReadOnlyList<ImportedPair> Pairs)
{
    public int Count(string outcome) => Pairs.Count(p => p.Outcome == outcome);

    public IEnumerable<ImportedPair> Failures => Pairs.Where(p => ReconciliationOutcomes.IsFailure(p.Outcome));
}

/// <summary>
/// Sends a parsed file to the server: <c>api.Reconciliation_ImportBegin</c> (the file by its SHA-256), one
/// <c>api.Reconciliation_ImportBatch</c> round trip per batch (a table-valued parameter of at most
/// <see cref="DbMergeClient.ReconciliationImportMaxBatch"/> rows), <c>api.Reconciliation_ImportFinish</c>. Stopping
/// between batches (Ctrl+C) leaves an incomplete import that the same command resumes.
/// </summary>
internal sealed class ReconciliationImporter(DbMergeClient client)
{
    public const int DefaultBatchSize = 250;

    public async Task<ReconciliationImportReport> ImportAsync(
        ReconciliationCsvFile file, bool dryRun, int batchSize, string? importedBy, IProgressTask? progress, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, DbMergeClient.ReconciliationImportMaxBatch);

        var import = dryRun
            ? null
            : await client.BeginReconciliationImportAsync(file.FileName, file.Sha256, file.RowCount, file.Pairs.Count, importedBy,
                cancellationToken: CancellationToken.None).ConfigureAwait(false);
        var alreadyImported = import is { IsNew: false, IsCompleted: true };

        var byKey = file.Pairs.ToDictionary(p => (p.LineNumber, p.PairNumber));
        var results = new List<ImportedPair>(file.Pairs.Count);
        var stopped = false;
        progress?.Update(0, file.Pairs.Count);
        foreach (var batch in file.Pairs.Chunk(batchSize))
        {
            if (stop.IsCancellationRequested)
            {
                stopped = true;
                break;
            }

            // Never cancelled half-way: a batch is one transaction on the server, and its outcomes are needed here.
            var outcomes = await client.ImportReconciliationBatchAsync(import?.ImportId, batch, dryRun, cancellationToken: CancellationToken.None)
                .ConfigureAwait(false);
            foreach (var o in outcomes)
            {
                results.Add(new ImportedPair(byKey[(o.LineNumber, o.PairNumber)], o.Outcome, o.Reason, o.RequestId, o.WasRecorded));
            }

            progress?.Update(results.Count, file.Pairs.Count,
                $"{results.Count(r => r.Outcome == ReconciliationOutcomes.Created)} created");
        }

        if (import is not null && !stopped)
        {
            import = await client.FinishReconciliationImportAsync(import.ImportId, cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }

        return new ReconciliationImportReport(file, import, dryRun, alreadyImported, stopped, results);
    }

    /// <summary>
    /// Writes the rejected rows (conflict and error) as a CSV a spreadsheet user can fix and import again: the columns
    /// id, active_email, inactive_email (the failing address), reason, line; UTF-8 with a byte order mark.
    /// </summary>
    public static int WriteErrors(string path, IEnumerable<ImportedPair> failures)
    {
        var count = 0;
        using var stream = File.Create(path);
        using var writer = CsvWriter.Create(stream, new CsvWriterOptions { WriteByteOrderMark = true }, leaveOpen: false);
        writer.WriteHeader([ReconciliationCsv.IdColumn, ReconciliationCsv.ActiveColumn, ReconciliationCsv.InactiveColumn, "reason", "line"]);
        foreach (var failure in failures.OrderBy(f => f.Row.LineNumber).ThenBy(f => f.Row.PairNumber))
        {
            var reason = failure.Outcome == ReconciliationOutcomes.Conflict ? $"conflict: {failure.Reason}" : failure.Reason ?? failure.Outcome;
            writer.WriteRecord([
                failure.Row.SourceId ?? string.Empty,
                failure.Row.ActiveEmail ?? string.Empty,
                failure.Row.InactiveEmail ?? string.Empty,
                reason,
                failure.Row.LineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ]);
            count++;
        }

        writer.Flush();
        return count;
    }
}
