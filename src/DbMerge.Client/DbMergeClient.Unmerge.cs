using System.Data;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>
/// One row of an unmerge's report (api.User_Unmerge result set, the Tables of an unmerge run's SummaryJson): the undone
/// run's changes of one policy, undone, by the action they undid — equal to that run's own Moved / Merged / Deleted. The
/// row with <see cref="Policy"/> <c>locked</c> (ApplyOrder 0) is the run's own lock of the two user rows (<see cref="Locked"/>).
/// </summary>
public sealed record UnmergeTableSummary(
    int ApplyOrder, string SchemaName, string TableName, string ColumnName, string Policy, int Moved, int Merged, int Deleted, int Locked)
{
    public int ChangesUndone => Moved + Merged + Deleted + Locked;
}

/// <summary>What <see cref="DbMergeClient.UnmergeAsync"/> did (or, for a dry run, would do).</summary>
/// <param name="UnmergeRunId">The unmerge's own run (Kind unmerge).</param>
/// <param name="MergeRunId">The run it undid.</param>
public sealed record UnmergeResult(long UnmergeRunId, long MergeRunId, bool DryRun, IReadOnlyList<UnmergeTableSummary> Tables)
{
    public int ChangesUndone => Tables.Sum(t => t.ChangesUndone);
}

/// <summary>A journaled row an unmerge found no longer as the merge left it (a refused unmerge's report keeps the first 100).</summary>
public sealed record UnmergeConflict(string SchemaName, string TableName, string RowKey, string Problem);

/// <summary>An unmerge run's stored report (its SummaryJson): the tables, and for a refused run the conflicts it found.</summary>
public sealed record UnmergeReport(IReadOnlyList<UnmergeTableSummary> Tables, int ConflictCount, IReadOnlyList<UnmergeConflict> Conflicts);

/// <summary>
/// One change of a run's journal (api.MergeRun_Journal) with the row as it is now: <see cref="RowNow"/> at the key the change
/// left (<see cref="RowKey"/>), <see cref="BeforeKeyRowNow"/> at the key it had before; full images in the journal's format,
/// null where no such row exists. <see cref="Known"/> is false for a table the procedure has no reader for.
/// </summary>
public sealed record MergeJournalChange(
    int ChangeSeq, string SchemaName, string TableName, string Operation, string Action,
    string? PolicySchemaName, string? PolicyTableName, string? PolicyColumnName,
    string RowKey, string? BeforeImage, string? AfterImage, DateTime ChangedAt, bool Known, string? RowNow, string? BeforeKeyRowNow);

/// <summary>The outcome of <see cref="DbMergeClient.VerifyUnmergeAsync"/>: empty <see cref="Problems"/> means verified.</summary>
/// <param name="RowsCompared">Rows of the undone run's journal compared with the tables (each once).</param>
public sealed record UnmergeVerification(long UnmergeRunId, long? MergeRunId, int RowsCompared, IReadOnlyList<string> Problems)
{
    public bool Verified => Problems.Count == 0;
}

public sealed partial class DbMergeClient
{
    public const string UserUnmergeProcedure = "api.User_Unmerge";
    public const string MergeRunJournalProcedure = "api.MergeRun_Journal";

    /// <summary>Largest page of <see cref="GetMergeRunJournalAsync"/> (api.MergeRun_Journal @Top).</summary>
    public const int MergeRunJournalMaxPage = 1000;

    /// <summary>How many problems <see cref="VerifyUnmergeAsync"/> lists before it only counts.</summary>
    public const int UnmergeVerificationMaxProblems = 100;

    /// <summary>
    /// Undoes the committed merge or sweep <paramref name="mergeRunId"/> (api.User_Unmerge): every row it journaled is
    /// restored to its image before the run, in one transaction; with <paramref name="dryRun"/> the same work is done and
    /// rolled back. Operators only (DbMergeOperator or db_owner). Retries a deadlock victim (the unmerge runs at low
    /// deadlock priority). Command timeout, budget and batch as <see cref="MergeUsersAsync"/>.
    /// </summary>
    /// <exception cref="Errors.DbMergeException">
    /// A documented refusal, typed by kind: 51143/51144/51145 (not undoable, undone already, journal before v2:
    /// <see cref="Errors.DbMergeInvalidStateException"/>), 51146–51149 (a later run, the source's e-mail taken, rows changed
    /// since, a restore conflict: <see cref="Errors.DbMergeConflictException"/>), 51150/51151 (lock timeout, budget:
    /// <see cref="Errors.DbMergeLockTimeoutException"/>), 51156 (<see cref="Errors.DbMergeForbiddenException"/>).
    /// </exception>
    public async Task<UnmergeResult> UnmergeAsync(
        long mergeRunId, string reason, string? requestedBy, bool dryRun, CancellationToken cancellationToken = default,
        TimeSpan? lockTimeout = null, int? batchSize = null, TimeSpan? maxDuration = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return await RetryDeadlockVictimAsync(() => RunUnmergeAsync(mergeRunId, reason, requestedBy, dryRun, lockTimeout, batchSize, maxDuration, cancellationToken),
            MergeDeadlockAttempts, cancellationToken).ConfigureAwait(false);
    }

    private async Task<UnmergeResult> RunUnmergeAsync(
        long mergeRunId, string reason, string? requestedBy, bool dryRun, TimeSpan? lockTimeout, int? batchSize, TimeSpan? maxDuration,
        CancellationToken cancellationToken)
    {
        var lockWait = lockTimeout ?? DefaultMergeLockTimeout;
        var budget = maxDuration ?? DefaultMergeMaxDuration;
        SqlParameter? runIdParameter = null;
        var rows = await RunMergeOnOwnConnectionAsync(
            UserUnmergeProcedure,
            p =>
            {
                p.Add("@MergeRunId", SqlDbType.BigInt).Value = mergeRunId;
                p.Add("@Reason", SqlDbType.NVarChar, 4000).Value = reason;
                p.Add("@RequestedBy", SqlDbType.NVarChar, 128).Value = (object?)requestedBy ?? DBNull.Value;
                p.Add("@DryRun", SqlDbType.Bit).Value = dryRun;
                runIdParameter = p.Add("@UnmergeRunId", SqlDbType.BigInt);
                runIdParameter.Direction = ParameterDirection.InputOutput;
                runIdParameter.Value = DBNull.Value;
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)lockWait.TotalMilliseconds;
                p.Add("@BatchSize", SqlDbType.Int).Value = batchSize ?? DefaultMergeBatchSize;
                p.Add("@MaxDurationMs", SqlDbType.Int).Value = (int)Math.Min(int.MaxValue, budget.TotalMilliseconds);
            },
            async (reader, _, ct) =>
            {
                var list = new List<(long RunId, UnmergeTableSummary Row)>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    list.Add((reader.Get<long>("UnmergeRunId"), new UnmergeTableSummary(
                        reader.Get<short>("ApplyOrder"), reader.Get<string>("SchemaName"), reader.Get<string>("TableName"),
                        reader.Get<string>("ColumnName"), reader.Get<string>("Policy"), reader.Get<int>("Moved"),
                        reader.Get<int>("Merged"), reader.Get<int>("Deleted"), reader.Get<int>("Locked"))));
                }

                return list;
            },
            MergeCommandTimeout(budget, lockWait),
            cancellationToken).ConfigureAwait(false);

        var runId = runIdParameter?.Value is long fromOutput ? fromOutput
            : rows.Count > 0 ? rows[0].RunId
            : throw new InvalidOperationException($"{UserUnmergeProcedure} returned neither a result set nor @UnmergeRunId.");
        return new UnmergeResult(runId, mergeRunId, dryRun, rows.Select(r => r.Row).ToList());
    }

    /// <summary>
    /// One page of a run's journal, after change <paramref name="afterChangeSeq"/>, with each row as it is now
    /// (api.MergeRun_Journal); an empty page after the last change. Operators only: the images are whole application rows.
    /// </summary>
    /// <exception cref="Errors.DbMergeNotFoundException">51142: no run has that id.</exception>
    /// <exception cref="Errors.DbMergeForbiddenException">51156: the caller is not a member of DbMergeOperator (or db_owner).</exception>
    public Task<IReadOnlyList<MergeJournalChange>> GetMergeRunJournalAsync(
        long mergeRunId, int afterChangeSeq = 0, int top = MergeRunJournalMaxPage, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<MergeJournalChange>>(
            MergeRunJournalProcedure,
            p =>
            {
                p.Add("@MergeRunId", SqlDbType.BigInt).Value = mergeRunId;
                p.Add("@AfterChangeSeq", SqlDbType.Int).Value = afterChangeSeq;
                p.Add("@Top", SqlDbType.Int).Value = top;
            },
            async (reader, _, ct) =>
            {
                var rows = new List<MergeJournalChange>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new MergeJournalChange(
                        reader.Get<int>("ChangeSeq"), reader.Get<string>("SchemaName"), reader.Get<string>("TableName"),
                        reader.Get<string>("Operation"), reader.Get<string>("Action"), reader.GetNullableString("PolicySchemaName"),
                        reader.GetNullableString("PolicyTableName"), reader.GetNullableString("PolicyColumnName"), reader.Get<string>("RowKey"),
                        reader.GetNullableString("BeforeImage"), reader.GetNullableString("AfterImage"), reader.Get<DateTime>("ChangedAt"),
                        reader.Get<bool>("Known"), reader.GetNullableString("RowNow"), reader.GetNullableString("BeforeKeyRowNow")));
                }

                return rows;
            },
            _options.LongCommandTimeout,
            cancellationToken);

    /// <summary>
    /// Checks a committed unmerge independently of the procedure that did it: the unmerge run is committed and names the
    /// run it undid, that run shows as undone by it, and every row the undone run journaled is now exactly as it was
    /// before that run — its full current image (every stored column, api.MergeRun_Journal) equals the before-image of
    /// the run's first change of it, a row the run inserted is gone, and a key the run moved a row to is free again.
    /// Reads the undone run's whole journal, page by page.
    /// </summary>
    public async Task<UnmergeVerification> VerifyUnmergeAsync(long unmergeRunId, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var more = 0;
        void Problem(string text)
        {
            if (problems.Count < UnmergeVerificationMaxProblems)
            {
                problems.Add(text);
            }
            else
            {
                more++;
            }
        }

        var unmerge = (await GetMergeRunAsync(unmergeRunId, cancellationToken).ConfigureAwait(false)).Run;
        if (unmerge.Kind != "unmerge" || unmerge.UndoesMergeRunId is not { } mergeRunId)
        {
            return new UnmergeVerification(unmergeRunId, null, 0, [$"run {unmergeRunId} is a {unmerge.Kind} run, not an unmerge"]);
        }

        if (unmerge.Status != "committed")
        {
            Problem($"unmerge run {unmergeRunId} has status '{unmerge.Status}', not 'committed'");
        }

        var merge = (await GetMergeRunAsync(mergeRunId, cancellationToken).ConfigureAwait(false)).Run;
        if (merge.Status != "undone" || merge.UndoneByMergeRunId != unmergeRunId)
        {
            Problem($"run {mergeRunId} has status '{merge.Status}' (undone by {merge.UndoneByMergeRunId?.ToString(CultureInfo.InvariantCulture) ?? "none"}), not undone by {unmergeRunId}");
        }

        var comparison = new UnmergeJournalComparison(mergeRunId);
        var after = 0;
        while (true)
        {
            var page = await GetMergeRunJournalAsync(mergeRunId, after, MergeRunJournalMaxPage, cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                break;
            }

            foreach (var change in page)
            {
                comparison.Add(change);
            }

            after = page[^1].ChangeSeq;
        }

        foreach (var problem in comparison.Problems())
        {
            Problem(problem);
        }

        if (more > 0)
        {
            problems.Add($"… and {more.ToString(CultureInfo.InvariantCulture)} more");
        }

        return new UnmergeVerification(unmergeRunId, mergeRunId, comparison.Rows, problems);
    }

    /// <summary>An unmerge run's stored report (its SummaryJson), or null.</summary>
    public static UnmergeReport? ParseUnmergeReport(string? summaryJson)
    {
        if (summaryJson is null)
        {
            return null;
        }

        using var document = JsonDocument.Parse(summaryJson);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var tables = root.TryGetProperty("Tables", out var t) && t.ValueKind == JsonValueKind.Array
            ? t.Deserialize<List<UnmergeTableSummary>>(SummaryJsonOptions) ?? []
            : [];
        var count = root.TryGetProperty("ConflictCount", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
        var conflicts = root.TryGetProperty("Conflicts", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.Deserialize<List<UnmergeConflict>>(SummaryJsonOptions) ?? []
            : [];
        return new UnmergeReport(tables, count, conflicts);
    }
}

/// <summary>
/// What <see cref="DbMergeClient.VerifyUnmergeAsync"/> compares, fed the undone run's journal in change order (pure: no
/// database). It follows every row through the journal — a change continues the row whose last change left the key it
/// starts from (its before-image's key), else it starts a row of its own — and then expects: each row's first change's
/// before-image equal to the row now at that key (every column, exact JSON values), and no row at a key the run left a row
/// at (an insert, a primary-key change) that held no row before the run.
/// </summary>
internal sealed class UnmergeJournalComparison(long mergeRunId)
{
    private readonly List<MergeJournalChange> _rows = [];
    private readonly Dictionary<(string Table, string Key), MergeJournalChange> _current = [];
    private readonly List<(string Table, string Key, MergeJournalChange Change)> _leftKeys = [];
    private readonly List<string> _problems = [];

    /// <summary>Rows followed (each once).</summary>
    public int Rows => _rows.Count;

    public void Add(MergeJournalChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var table = $"{change.SchemaName}.{change.TableName}";
        if (!change.Known)
        {
            _problems.Add($"{table} {change.RowKey} (change {change.ChangeSeq}): api.MergeRun_Journal cannot read this table (regenerate and deploy)");
            return;
        }

        var beforeKey = change.Operation == "insert" || change.BeforeImage is null ? null : KeyFrom(change.RowKey, change.BeforeImage);
        var afterKey = change.Operation == "delete" ? null : Canonical(change.RowKey);
        var firstOfRow = change;
        if (beforeKey is not null && _current.Remove((table, beforeKey), out var earlier))
        {
            firstOfRow = earlier;
        }
        else
        {
            _rows.Add(change);
        }

        if (afterKey is not null)
        {
            _current[(table, afterKey)] = firstOfRow;
            _leftKeys.Add((table, afterKey, change));
        }
    }

    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>(_problems);
        var preMergeKeys = new HashSet<(string, string)>();
        foreach (var change in _rows.Where(c => c.Operation != "insert"))
        {
            var table = $"{change.SchemaName}.{change.TableName}";
            var key = KeyFrom(change.RowKey, change.BeforeImage!);
            preMergeKeys.Add((table, key));
            var difference = Difference(change.BeforeImage!, change.BeforeKeyRowNow);
            if (difference is not null)
            {
                problems.Add($"{table} {key}: {difference} (its first change in run {mergeRunId.ToString(CultureInfo.InvariantCulture)}: {change.ChangeSeq.ToString(CultureInfo.InvariantCulture)}, {change.Operation}, {change.Action})");
            }
        }

        // The row now at such a key is the one the last change that left a row there saw (RowNow).
        foreach (var group in _leftKeys.Where(l => !preMergeKeys.Contains((l.Table, l.Key))).GroupBy(l => (l.Table, l.Key)))
        {
            var (table, key, change) = group.Last();
            if (change.RowNow is not null)
            {
                problems.Add($"{table} {key}: the run left a row at this key, where none was before it, and a row is still there (change {change.ChangeSeq.ToString(CultureInfo.InvariantCulture)}, {change.Operation})");
            }
        }

        return problems;
    }

    /// <summary>
    /// The key <paramref name="image"/> holds for the key columns of <paramref name="rowKey"/> (their names, in order), in a
    /// canonical text form comparable with <see cref="Canonical"/> of a RowKey.
    /// </summary>
    internal static string KeyFrom(string rowKey, string image)
    {
        using var key = JsonDocument.Parse(rowKey);
        using var row = JsonDocument.Parse(image);
        return string.Join(",", key.RootElement.EnumerateObject().Select(p =>
            $"{p.Name}={(row.RootElement.TryGetProperty(p.Name, out var v) ? ValueText(v) : "?")}"));
    }

    internal static string Canonical(string rowKey)
    {
        using var key = JsonDocument.Parse(rowKey);
        return string.Join(",", key.RootElement.EnumerateObject().Select(p => $"{p.Name}={ValueText(p.Value)}"));
    }

    private static string ValueText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "s:" + value.GetString(),
        JsonValueKind.Null => "null",
        _ => value.GetRawText(),
    };

    /// <summary>Null when <paramref name="now"/> is the same row image as <paramref name="expected"/>, else what differs (the first few columns).</summary>
    internal static string? Difference(string expected, string? now)
    {
        if (now is null)
        {
            return "the row does not exist (it did before the run)";
        }

        using var a = JsonDocument.Parse(expected);
        using var b = JsonDocument.Parse(now);
        var left = a.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => ValueText(p.Value), StringComparer.Ordinal);
        var right = b.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => ValueText(p.Value), StringComparer.Ordinal);
        var differing = left.Keys.Union(right.Keys, StringComparer.Ordinal)
            .Where(k => !left.TryGetValue(k, out var x) || !right.TryGetValue(k, out var y) || !string.Equals(x, y, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return differing.Count == 0
            ? null
            : string.Join("; ", differing.Take(5).Select(k =>
                $"{k} is {(right.TryGetValue(k, out var n) ? n : "missing")}, was {(left.TryGetValue(k, out var o) ? o : "missing")}"));
    }
}
