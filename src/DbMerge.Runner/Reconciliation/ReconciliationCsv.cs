using System.Text;
using CsvHelper;
using DbMerge.Client;

namespace DbMerge.Runner.Reconciliation;

/// <summary>The file cannot be read as a reconciliation CSV at all (no rows are imported).</summary>
internal sealed class ReconciliationCsvException(string message) : Exception(message);

/// <summary>
/// A parsed reconciliation CSV: one <see cref="ReconciliationImportRow"/> per (line, address of the line's
/// <c>inactive_email</c> list). Rows the file alone decides (malformed, a repeat of an earlier line) carry their
/// outcome; the others are decided by the server.
/// </summary>
internal sealed record ReconciliationCsvFile(string FileName, byte[] Sha256, int RowCount, IReadOnlyList<ReconciliationImportRow> Pairs);

/// <summary>
/// Reads the reconciliation CSV with CsvHelper: a header naming <c>id</c>, <c>active_email</c> and <c>inactive_email</c>
/// (in any order and case; other columns are ignored, so a rejected-rows file can be fixed and imported again),
/// UTF-8 with or without a byte order mark, RFC 4180 quoting (separators, quotes and line breaks inside quotes),
/// CRLF or LF, blank lines (and rows whose fields are all empty) skipped; a non-empty field beyond the header's columns
/// makes its line an error (it would otherwise be dropped unseen). <c>inactive_email</c> may list several
/// addresses separated by <c>|</c>: each becomes its own pair under the line's id. Line numbers are the input lines
/// where a record starts.
/// </summary>
internal static class ReconciliationCsv
{
    public const string IdColumn = "id";
    public const string ActiveColumn = "active_email";
    public const string InactiveColumn = "inactive_email";
    public const int MaxSourceIdLength = 100;
    public const int MaxAddressesPerRow = 1000;

    public static readonly IReadOnlyList<string> Columns = [IdColumn, ActiveColumn, InactiveColumn];

    public static ReconciliationCsvFile Read(string path) => Parse(Path.GetFileName(path), File.ReadAllBytes(path));

    public static ReconciliationCsvFile Parse(string fileName, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var sha256 = ReconciliationImport.HashFile(bytes);
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new ReconciliationCsvException($"{fileName} is not UTF-8 text (invalid byte at offset {ex.Index}); save it as UTF-8 CSV.");
        }

        if (text.TrimStart('\uFEFF').Trim().Length == 0)
        {
            throw new ReconciliationCsvException($"{fileName} is empty; its first line must be the header {string.Join(',', Columns)}.");
        }

        var malformed = new Dictionary<long, CsvMalformedReason>();
        var options = new CsvReaderOptions
        {
            HasHeader = true,
            TrimWhitespace = true,
            SkipEmptyLines = true,
            TrackLineNumbers = true,
            IncludeValuesInExceptions = false,
            OnMalformedRecord = r => malformed.TryAdd(r.LineNumber, r.Reason),
        };

        var records = new List<(int Line, string? Id, string? Active, string? Inactive, string? Extra)>();
        using (var csv = CsvReader.Create(bytes, options))
        {
            csv.ReadHeader();
            var indexes = Columns.Select(c => csv.TryGetFieldIndex(c, out var i) ? i : -1).ToArray();
            var missing = Columns.Where((_, i) => indexes[i] < 0).ToList();
            if (missing.Count > 0)
            {
                throw new ReconciliationCsvException(
                    $"{fileName}: the header lacks the column(s) {string.Join(", ", missing)} (found: {string.Join(", ", csv.Headers)}); " +
                    $"the first line must name {string.Join(',', Columns)}.");
            }

            var headerCount = csv.Headers.Count;
            while (csv.Read())
            {
                string? Field(int index) => index < csv.FieldCount ? csv.GetString(index) : null;
                var (id, active, inactive) = (Field(indexes[0]), Field(indexes[1]), Field(indexes[2]));
                if (string.IsNullOrWhiteSpace(id) && string.IsNullOrWhiteSpace(active) && string.IsNullOrWhiteSpace(inactive))
                {
                    continue; // a spreadsheet's empty row (",,"): a blank line
                }

                // A field beyond the header's columns belongs to no column: most often a second inactive address
                // separated by a comma instead of |. Ignoring it would drop that address without a word, so the
                // line is an error that says so (empty trailing fields, as spreadsheets write them, are fine).
                var extra = Enumerable.Range(headerCount, Math.Max(0, csv.FieldCount - headerCount))
                    .Select(i => csv.GetString(i)).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
                var extraError = extra is null ? null : Cut(
                    $"the line has {csv.FieldCount} fields but the header names {headerCount} columns; list several inactive addresses " +
                    "in one field separated by |, not by commas");
                records.Add((checked((int)csv.LineNumber), id?.Trim(), active?.Trim(), inactive, extraError));
            }
        }

        var pairs = new List<ReconciliationImportRow>();
        foreach (var (line, id, active, inactive, extraError) in records)
        {
            pairs.AddRange(PairsOf(line, id, active, inactive, malformed.TryGetValue(line, out var reason) ? reason : null, extraError));
        }

        return new ReconciliationCsvFile(fileName, sha256, records.Count, ClassifyWithinFile(pairs));
    }

    /// <summary>The pairs of one CSV line, with the errors the line's own fields show.</summary>
    internal static IEnumerable<ReconciliationImportRow> PairsOf(int line, string? id, string? active, string? inactiveList, CsvMalformedReason? malformed,
        string? lineError = null)
    {
        id = NullIfEmpty(id);
        active = NullIfEmpty(active);
        var addresses = (inactiveList ?? string.Empty).Split('|').Select(a => a.Trim()).Where(a => a.Length > 0).ToList();
        var rawInactive = NullIfEmpty(inactiveList?.Trim());

        var rowError = malformed is { } m ? $"malformed CSV line ({Describe(m)}); check its quotes"
            : lineError is not null ? lineError
            : id is null ? "id is missing"
            : id.Length > MaxSourceIdLength ? $"id is longer than {MaxSourceIdLength} characters"
            : active is null ? "active_email is missing"
            : active.Length > ReconciliationEmail.MaxLength ? $"active_email is longer than {ReconciliationEmail.MaxLength} characters"
            : !ReconciliationEmail.IsValid(active) ? "active_email is not a valid e-mail address"
            : addresses.Count == 0 ? "inactive_email is missing"
            : addresses.Count > MaxAddressesPerRow ? $"inactive_email lists more than {MaxAddressesPerRow} addresses"
            : null;
        if (rowError is not null)
        {
            yield return new ReconciliationImportRow(line, 1, id, active, rawInactive, ReconciliationOutcomes.Error, rowError);
            yield break;
        }

        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            var error = address.Length > ReconciliationEmail.MaxLength ? $"inactive_email is longer than {ReconciliationEmail.MaxLength} characters"
                : !ReconciliationEmail.IsValid(address) ? "inactive_email is not a valid e-mail address"
                : string.Equals(address, active, StringComparison.OrdinalIgnoreCase) ? "the same address is on both sides"
                : null;
            yield return new ReconciliationImportRow(line, i + 1, id, active, address,
                error is null ? null : ReconciliationOutcomes.Error, error);
        }
    }

    /// <summary>
    /// Decides what the file alone decides, first match wins, in file order (the server applies the same rules to what
    /// earlier imports recorded): an id already given another active e-mail → conflict; the same id and inactive
    /// e-mail again → duplicate; an inactive e-mail already requested on an earlier line → error.
    /// </summary>
    internal static IReadOnlyList<ReconciliationImportRow> ClassifyWithinFile(IReadOnlyList<ReconciliationImportRow> pairs)
    {
        var activeOfId = new Dictionary<string, (string Active, int Line)>(StringComparer.Ordinal);
        var pairLine = new Dictionary<(string Id, string Inactive), int>();
        var inactiveOwner = new Dictionary<string, (string Id, string Active, int Line)>(StringComparer.OrdinalIgnoreCase);
        var result = new List<ReconciliationImportRow>(pairs.Count);
        foreach (var pair in pairs.OrderBy(p => p.LineNumber).ThenBy(p => p.PairNumber))
        {
            if (pair.ClientOutcome is not null)
            {
                result.Add(pair);
                continue;
            }

            var (id, active, inactive) = (pair.SourceId!, pair.ActiveEmail!, pair.InactiveEmail!);
            var inactiveKey = inactive.ToUpperInvariant();
            if (activeOfId.TryGetValue(id, out var first) && !string.Equals(first.Active, active, StringComparison.OrdinalIgnoreCase))
            {
                result.Add(pair with { ClientOutcome = ReconciliationOutcomes.Conflict, ClientReason = Cut($"id {id} has active_email {first.Active} on line {first.Line}") });
                continue;
            }

            if (pairLine.TryGetValue((id, inactiveKey), out var sameLine))
            {
                result.Add(pair with { ClientOutcome = ReconciliationOutcomes.Duplicate, ClientReason = $"same as line {sameLine}" });
                continue;
            }

            if (inactiveOwner.TryGetValue(inactive, out var owner))
            {
                var reason = string.Equals(owner.Active, active, StringComparison.OrdinalIgnoreCase)
                    ? $"the pair is already requested under id {owner.Id} (line {owner.Line})"
                    : $"the inactive address is already requested on line {owner.Line}";
                result.Add(pair with { ClientOutcome = ReconciliationOutcomes.Error, ClientReason = Cut(reason) });
                continue;
            }

            activeOfId.TryAdd(id, (active, pair.LineNumber));
            pairLine[(id, inactiveKey)] = pair.LineNumber;
            inactiveOwner[inactive] = (id, active, pair.LineNumber);
            result.Add(pair);
        }

        return result;
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static string Cut(string reason) => reason.Length > 400 ? reason[..400] : reason;

    private static string Describe(CsvMalformedReason reason) => reason switch
    {
        CsvMalformedReason.StrayQuote => "a quote inside an unquoted field",
        CsvMalformedReason.TextAfterClosingQuote => "text after a closing quote",
        CsvMalformedReason.UnterminatedQuote => "a quote that is never closed: the rest of the file was read as one field",
        CsvMalformedReason.LineBreakInQuotes => "a line break inside quotes",
        _ => reason.ToString(),
    };
}
