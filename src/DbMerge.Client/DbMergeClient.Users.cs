using System.Data;
using System.Globalization;
using System.Text.Json;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>One policy row of a merge summary (api.User_Merge result set, dbmerge.MergeRun.SummaryJson).</summary>
/// <param name="Moved">Source rows re-pointed (or re-addressed) to the target.</param>
/// <param name="Merged">Target rows changed to absorb a source row (role raised, children received, the source account itself).</param>
/// <param name="Deleted">Source rows deleted because the target already held the same resource.</param>
/// <param name="Conflicts">Collisions found (both users held the same resource).</param>
public sealed record MergeTableSummary(
    string SchemaName, string TableName, string ColumnName, string Policy, int Moved, int Merged, int Deleted, int Conflicts)
{
    public int RowsChanged => Moved + Merged + Deleted;
}

/// <summary>What <see cref="DbMergeClient.MergeUsersAsync"/> did (or, for a dry run, would do).</summary>
public sealed record UserMergeResult(long MergeRunId, bool DryRun, IReadOnlyList<MergeTableSummary> Tables)
{
    public int RowsChanged => Tables.Sum(t => t.RowsChanged);
}

/// <summary>A user account as api.User_Find returns it.</summary>
public sealed record UserAccount(int UserId, string Email, string? DisplayName, bool IsActive, int? MergedIntoUserId, DateTime CreatedAt);

/// <summary>
/// One merge, sweep or unmerge run (dbmerge.MergeRun; <paramref name="Kind"/> merge | sweep | unmerge).
/// <paramref name="Status"/>: running, committed, dry-run, refused, failed, undone (a committed merge or sweep that a
/// committed unmerge undid: <paramref name="UndoneByMergeRunId"/>), or abandoned (the row says running but its session no
/// longer holds the run's applock); <paramref name="StatusDetail"/> says how an abandoned, running or undone run is known
/// to be so. <paramref name="UndoesMergeRunId"/>: for an unmerge, the run it undoes.
/// </summary>
public sealed record MergeRunInfo(
    long MergeRunId, string Kind, int? SourceUserId, int? TargetUserId, string RequestedBy, string? Reason, bool IsDryRun,
    string Status, string? StatusDetail, DateTime StartedAt, DateTime? FinishedAt, int? ErrorNumber, string? ErrorMessage, int? SessionId,
    long? UndoesMergeRunId = null, long? UndoneByMergeRunId = null);

/// <summary>Journal rows of a run per policy served and action.</summary>
public sealed record MergeJournalCount(string SchemaName, string TableName, string ColumnName, string Action, long JournalRows);

/// <summary>
/// An e-mail address a run's readdress policy re-addressed or deleted rows of, and the active user other than the run's
/// source and target that holds the address now, if any: rows addressed to another active user's address must never move.
/// </summary>
public sealed record MergeAddressChange(string SchemaName, string TableName, string ColumnName, string Address, int Rows, int? HeldByUserId);

/// <summary>
/// A run with its summary (a merge or sweep; null when it stopped before the work, and for an unmerge), its journal counts,
/// the addresses it re-addressed, and for an unmerge its report (<paramref name="Unmerge"/>: what it undid, and for a refused
/// one the rows in the way).
/// </summary>
public sealed record MergeRunDetail(
    MergeRunInfo Run, IReadOnlyList<MergeTableSummary>? Summary, IReadOnlyList<MergeJournalCount> Journal, int LockedRows,
    IReadOnlyList<MergeAddressChange> Addresses, UnmergeReport? Unmerge = null);

/// <summary>Late references of one policy: rows written after a merge that still reference (or address) a merged-away user.</summary>
public sealed record LateReferenceCount(int ApplyOrder, string SchemaName, string TableName, string ColumnName, string Policy, long MergedAwayUsers, long ReferencingRows);

/// <summary>A merged-away user that has late references, and the user it was merged into.</summary>
public sealed record LateReferenceUser(int UserId, int MergedIntoUserId);

/// <summary>Rows of one user-referencing column that reference a user (api.User_References).</summary>
public sealed record UserReference(string SchemaName, string TableName, string ColumnName, long ReferencingRows);

/// <summary>The outcome of <see cref="DbMergeClient.VerifyMergeAsync"/>: empty <see cref="Problems"/> means verified.</summary>
public sealed record MergeVerification(long MergeRunId, IReadOnlyList<string> Problems)
{
    public bool Verified => Problems.Count == 0;
}

/// <summary>A user named by id or e-mail could not be resolved to exactly one account.</summary>
public sealed class UserResolutionException(string message, IReadOnlyList<UserAccount> candidates) : Exception(message)
{
    public IReadOnlyList<UserAccount> Candidates { get; } = candidates;
}

public sealed partial class DbMergeClient
{
    public const string UserMergeProcedure = "api.User_Merge";
    public const string UserFindProcedure = "api.User_Find";
    public const string UserReferencesProcedure = "api.User_References";
    public const string MergeRunListProcedure = "api.MergeRun_List";
    public const string MergeRunGetProcedure = "api.MergeRun_Get";
    public const string UserSweepProcedure = "api.User_Sweep";
    public const string UserLateReferencesProcedure = "api.User_LateReferences";
    public const string UserLateReferenceUsersProcedure = "api.User_LateReferenceUsers";

    /// <summary>Default longest wait of any one lock request of a merge (api.User_Merge @LockTimeoutMs).</summary>
    public static readonly TimeSpan DefaultMergeLockTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Default time budget of a merge or sweep run (api.User_Merge @MaxDurationMs).</summary>
    public static readonly TimeSpan DefaultMergeMaxDuration = TimeSpan.FromMinutes(10);

    /// <summary>Default rows of one table per statement (api.User_Merge @BatchSize; at most 1000).</summary>
    public const int DefaultMergeBatchSize = 1000;

    /// <summary>
    /// The command timeout of a merge or sweep: longer than the longest the procedure itself allows — its time budget plus
    /// the waits of the batch running at the deadline (each at most <paramref name="lockTimeout"/>; see the header of
    /// dbmerge.User_MergeCore) — so a lock wait ends in the procedure's own 51108 / 51115 (recorded with the run), not
    /// in a client timeout (an abandoned run): <paramref name="maxDuration"/> + 2 × <paramref name="lockTimeout"/> + 30 s.
    /// </summary>
    public static TimeSpan MergeCommandTimeout(TimeSpan maxDuration, TimeSpan lockTimeout) =>
        maxDuration + lockTimeout + lockTimeout + TimeSpan.FromSeconds(30);

    private static readonly JsonSerializerOptions SummaryJsonOptions = new() { PropertyNameCaseInsensitive = true };

    /// <summary>
    /// Merges <paramref name="sourceUserId"/> into <paramref name="targetUserId"/> (api.User_Merge) in one
    /// transaction; with <paramref name="dryRun"/> the same work is done and rolled back. Its command timeout exceeds the budget plus the lock waits (<see cref="MergeCommandTimeout"/>).
    /// </summary>
    /// <exception cref="Errors.DbMergeException">A documented refusal (51100–51113), typed by kind.</exception>
    /// <param name="lockTimeout">Longest wait of any one lock request (default <see cref="DefaultMergeLockTimeout"/>; 51108 beyond).</param>
    /// <param name="batchSize">Rows of one table per statement, 1..1000 (default <see cref="DefaultMergeBatchSize"/>).</param>
    /// <param name="maxDuration">The run's time budget (default <see cref="DefaultMergeMaxDuration"/>; 51115 beyond).</param>
    public async Task<UserMergeResult> MergeUsersAsync(
        int sourceUserId, int targetUserId, string reason, string? requestedBy, bool dryRun,
        CancellationToken cancellationToken = default, TimeSpan? lockTimeout = null, int? batchSize = null, TimeSpan? maxDuration = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);

        // A deadlock victim's merge was rolled back completely (the procedure owns its transaction; the failed
        // attempt is recorded as a 'failed' run): running it again is safe. Anything else is the caller's to handle.
        return await RetryDeadlockVictimAsync(() => RunMergeProcedureAsync(UserMergeProcedure, dryRun, p =>
            {
                p.Add("@SourceUserId", SqlDbType.Int).Value = sourceUserId;
                p.Add("@TargetUserId", SqlDbType.Int).Value = targetUserId;
                p.Add("@Reason", SqlDbType.NVarChar, 4000).Value = reason;
                p.Add("@RequestedBy", SqlDbType.NVarChar, 128).Value = (object?)requestedBy ?? DBNull.Value;
                p.Add("@DryRun", SqlDbType.Bit).Value = dryRun;
            }, lockTimeout, batchSize, maxDuration, cancellationToken), MergeDeadlockAttempts, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Re-points the late references of one merged-away user to the user it was merged into (api.User_Sweep): the same
    /// generated policy code as a merge, in its own transaction, recorded as a sweep run. With <paramref name="dryRun"/>
    /// the work is done and rolled back.
    /// </summary>
    /// <exception cref="Errors.DbMergeException">51117 the user is not merged away; other user-merge refusals.</exception>
    public async Task<UserMergeResult> SweepUserAsync(
        int userId, string? requestedBy, bool dryRun, CancellationToken cancellationToken = default,
        TimeSpan? lockTimeout = null, int? batchSize = null, TimeSpan? maxDuration = null)
    {
        return await RetryDeadlockVictimAsync(() => RunMergeProcedureAsync(UserSweepProcedure, dryRun, p =>
            {
                p.Add("@UserId", SqlDbType.Int).Value = userId;
                p.Add("@RequestedBy", SqlDbType.NVarChar, 128).Value = (object?)requestedBy ?? DBNull.Value;
                p.Add("@DryRun", SqlDbType.Bit).Value = dryRun;
            }, lockTimeout, batchSize, maxDuration, cancellationToken), MergeDeadlockAttempts, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Late references per merge policy (api.User_LateReferences), for <c>dbmerge status</c>.</summary>
    public Task<IReadOnlyList<LateReferenceCount>> GetLateReferencesAsync(CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<LateReferenceCount>>(
            UserLateReferencesProcedure,
            _ => { },
            async (reader, _, ct) =>
            {
                var rows = new List<LateReferenceCount>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new LateReferenceCount(reader.Get<short>("ApplyOrder"), reader.Get<string>("SchemaName"), reader.Get<string>("TableName"),
                        reader.Get<string>("ColumnName"), reader.Get<string>("Policy"), reader.Get<long>("MergedAwayUsers"), reader.Get<long>("ReferencingRows")));
                }

                return rows;
            },
            _options.LongCommandTimeout,
            cancellationToken);

    /// <summary>The first <paramref name="top"/> merged-away users with late references (api.User_LateReferenceUsers).</summary>
    public Task<IReadOnlyList<LateReferenceUser>> ListLateReferenceUsersAsync(int top = 100, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<LateReferenceUser>>(
            UserLateReferenceUsersProcedure,
            p => p.Add("@Top", SqlDbType.Int).Value = top,
            async (reader, _, ct) =>
            {
                var rows = new List<LateReferenceUser>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new LateReferenceUser(reader.Get<int>("UserId"), reader.Get<int>("MergedIntoUserId")));
                }

                return rows;
            },
            _options.LongCommandTimeout,
            cancellationToken);

    /// <summary>How often <see cref="MergeUsersAsync"/> runs a merge chosen as deadlock victim (1205) before giving up.</summary>
    public const int MergeDeadlockAttempts = 3;

    /// <summary>Runs api.User_Merge or api.User_Sweep (<see cref="RunMergeOnOwnConnectionAsync"/>).</summary>
    private async Task<UserMergeResult> RunMergeProcedureAsync(
        string procedure, bool dryRun, Action<SqlParameterCollection> addParameters, TimeSpan? lockTimeout, int? batchSize,
        TimeSpan? maxDuration, CancellationToken cancellationToken)
    {
        var lockWait = lockTimeout ?? DefaultMergeLockTimeout;
        var budget = maxDuration ?? DefaultMergeMaxDuration;
        SqlParameter? runIdParameter = null;
        var tables = await RunMergeOnOwnConnectionAsync(
            procedure,
            p =>
            {
                addParameters(p);
                p.Add("@LockTimeoutMs", SqlDbType.Int).Value = (int)lockWait.TotalMilliseconds;
                p.Add("@BatchSize", SqlDbType.Int).Value = batchSize ?? DefaultMergeBatchSize;
                p.Add("@MaxDurationMs", SqlDbType.Int).Value = (int)Math.Min(int.MaxValue, budget.TotalMilliseconds);
                runIdParameter = p.Add("@MergeRunId", SqlDbType.BigInt);
                runIdParameter.Direction = ParameterDirection.InputOutput;
                runIdParameter.Value = DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                var rows = new List<(long RunId, MergeTableSummary Row)>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add((reader.Get<long>("MergeRunId"), new MergeTableSummary(
                        reader.Get<string>("SchemaName"), reader.Get<string>("TableName"), reader.Get<string>("ColumnName"),
                        reader.Get<string>("Policy"), reader.Get<int>("Moved"), reader.Get<int>("Merged"),
                        reader.Get<int>("Deleted"), reader.Get<int>("Conflicts"))));
                }

                return rows;
            },
            MergeCommandTimeout(budget, lockWait),
            cancellationToken).ConfigureAwait(false);

        var runId = runIdParameter?.Value is long fromOutput ? fromOutput
            : tables.Count > 0 ? tables[0].RunId
            : throw new InvalidOperationException($"{procedure} returned neither a result set nor @MergeRunId.");
        return new UserMergeResult(runId, dryRun, tables.Select(t => t.Row).ToList());
    }

    /// <summary>
    /// Runs a procedure that runs a merge (api.User_Merge, api.User_Sweep, api.Reconciliation_Process, api.User_Unmerge) on a connection of
    /// its own, with a command timeout above the merge's budget and lock waits (<see cref="MergeCommandTimeout"/>). When
    /// the call is abandoned (command timeout, cancellation) the connection is cleared from the pool instead of returned
    /// to it: its session then ends, which releases the run's session applock at once, so the run shows as abandoned (a
    /// pooled session would keep holding it).
    /// </summary>
    internal async Task<T> RunMergeOnOwnConnectionAsync<T>(
        string procedure,
        Action<SqlParameterCollection> addParameters,
        Func<SqlDataReader, SqlParameterCollection, CancellationToken, Task<T>> read,
        TimeSpan commandTimeout,
        CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await ExecuteProcedureAsync(connection, null, procedure, addParameters, read, commandTimeout, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException || (ex is SqlException sql && sql.Number == -2))
        {
            SqlConnection.ClearPool(connection);
            throw;
        }
    }

    /// <summary>Users with the given id, or with the given e-mail (case-insensitive, active and inactive).</summary>
    public Task<IReadOnlyList<UserAccount>> FindUsersAsync(int? userId, string? email, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<UserAccount>>(
            UserFindProcedure,
            p =>
            {
                p.Add("@UserId", SqlDbType.Int).Value = (object?)userId ?? DBNull.Value;
                p.Add("@Email", SqlDbType.NVarChar, 254).Value = (object?)email ?? DBNull.Value;
            },
            async (reader, _, ct) =>
            {
                var users = new List<UserAccount>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    users.Add(new UserAccount(
                        reader.Get<int>("UserId"), reader.Get<string>("Email"), reader.GetNullableString("DisplayName"),
                        reader.Get<bool>("IsActive"), reader.GetNullable<int>("MergedIntoUserId"), reader.Get<DateTime>("CreatedAt")));
                }

                return users;
            },
            null,
            cancellationToken);

    /// <summary>
    /// Resolves "42" (an id) or "ada@example.org" (an e-mail) to exactly one account.
    /// </summary>
    /// <exception cref="UserResolutionException">No account matches, or the e-mail matches several (listed).</exception>
    public async Task<UserAccount> ResolveUserAsync(string idOrEmail, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrEmail);
        var text = idOrEmail.Trim();
        var isId = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id);
        var users = await FindUsersAsync(isId ? id : null, isId ? null : text, cancellationToken).ConfigureAwait(false);
        return users.Count switch
        {
            1 => users[0],
            0 => throw new UserResolutionException(isId ? $"No user has id {id}." : $"No user has the e-mail '{text}'.", users),
            _ => throw new UserResolutionException(
                $"The e-mail '{text}' matches {users.Count} users; name one by id: " +
                string.Join("; ", users.Select(Describe)) + ".",
                users),
        };
    }

    /// <summary>One line describing an account, e.g. <c>42 ada@example.org (active)</c>.</summary>
    public static string Describe(UserAccount user) =>
        $"{user.UserId} {user.Email} (" +
        (user.IsActive ? "active" : user.MergedIntoUserId is { } into ? $"inactive, merged into {into}" : "inactive") + ")";

    /// <summary>Rows referencing the user, per user-referencing column (every foreign key to app.User, pending e-mail invitations).</summary>
    public Task<IReadOnlyList<UserReference>> GetUserReferencesAsync(int userId, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<UserReference>>(
            UserReferencesProcedure,
            p => p.Add("@UserId", SqlDbType.Int).Value = userId,
            async (reader, _, ct) =>
            {
                var rows = new List<UserReference>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new UserReference(reader.Get<string>("SchemaName"), reader.Get<string>("TableName"),
                        reader.Get<string>("ColumnName"), reader.Get<long>("ReferencingRows")));
                }

                return rows;
            },
            _options.LongCommandTimeout,
            cancellationToken);

    /// <summary>Merge runs, newest first; only those where <paramref name="userId"/> was source or target when given.</summary>
    public Task<IReadOnlyList<MergeRunInfo>> ListMergeRunsAsync(int? userId, int top = 100, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<MergeRunInfo>>(
            MergeRunListProcedure,
            p =>
            {
                p.Add("@UserId", SqlDbType.Int).Value = (object?)userId ?? DBNull.Value;
                p.Add("@Top", SqlDbType.Int).Value = top;
            },
            async (reader, _, ct) =>
            {
                var runs = new List<MergeRunInfo>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    runs.Add(ReadRun(reader));
                }

                return runs;
            },
            null,
            cancellationToken);

    /// <summary>One merge run with its summary and journal counts.</summary>
    /// <exception cref="Errors.DbMergeNotFoundException">51112: no run has that id.</exception>
    public Task<MergeRunDetail> GetMergeRunAsync(long mergeRunId, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            MergeRunGetProcedure,
            p => p.Add("@MergeRunId", SqlDbType.BigInt).Value = mergeRunId,
            async (reader, _, ct) =>
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"{MergeRunGetProcedure} returned no row for run {mergeRunId}.");
                }

                var run = ReadRun(reader);
                var isUnmerge = run.Kind == "unmerge";
                var summaryJson = reader.GetNullableString("SummaryJson");
                var summary = isUnmerge ? null : ParseSummary(summaryJson);
                var report = isUnmerge ? ParseUnmergeReport(summaryJson) : null;
                var journalJson = reader.GetNullableString("JournalJson");
                var journal = journalJson is null
                    ? []
                    : JsonSerializer.Deserialize<List<MergeJournalCount>>(journalJson, SummaryJsonOptions) ?? [];
                var addressesJson = reader.GetNullableString("AddressesJson");
                var addresses = addressesJson is null
                    ? []
                    : JsonSerializer.Deserialize<List<MergeAddressChange>>(addressesJson, SummaryJsonOptions) ?? [];
                return new MergeRunDetail(run, summary, journal, reader.Get<int>("LockedRows"), addresses, report);
            },
            null,
            cancellationToken);

    /// <summary>
    /// Checks a committed merge independently of the procedure: the run is committed; the source is inactive and
    /// merged into the target; nothing references the source (every foreign key to app.User, pending e-mail
    /// invitations); for every policy the summary's moved/merged/deleted equal the journal's rows per action; and no row
    /// addressed to another active user's e-mail was re-addressed or deleted (an inactive legacy source may share its
    /// address with that user, whose invitations are theirs: that is a failed merge, not a success).
    /// </summary>
    public async Task<MergeVerification> VerifyMergeAsync(long mergeRunId, CancellationToken cancellationToken = default)
    {
        var problems = new List<string>();
        var detail = await GetMergeRunAsync(mergeRunId, cancellationToken).ConfigureAwait(false);
        var run = detail.Run;
        if (run.Status != "committed")
        {
            problems.Add($"run {mergeRunId} has status '{run.Status}', not 'committed'");
        }

        if (run.SourceUserId is not { } source || run.TargetUserId is not { } target)
        {
            problems.Add($"run {mergeRunId} names no source or target user");
            return new MergeVerification(mergeRunId, problems);
        }

        var sources = await FindUsersAsync(source, null, cancellationToken).ConfigureAwait(false);
        if (sources.Count != 1)
        {
            problems.Add($"source user {source} no longer exists");
        }
        else if (sources[0].IsActive || sources[0].MergedIntoUserId != target)
        {
            problems.Add($"source user {source} is {(sources[0].IsActive ? "active" : "inactive")} and merged into " +
                         $"{sources[0].MergedIntoUserId?.ToString(CultureInfo.InvariantCulture) ?? "nobody"}, expected inactive and merged into {target}");
        }

        var references = await GetUserReferencesAsync(source, cancellationToken).ConfigureAwait(false);
        problems.AddRange(references.Where(r => r.ReferencingRows > 0)
            .Select(r => $"{r.ReferencingRows} row(s) of {r.SchemaName}.{r.TableName}.{r.ColumnName} still reference source user {source}"));

        if (detail.Summary is null)
        {
            problems.Add($"run {mergeRunId} has no summary");
        }
        else
        {
            foreach (var row in detail.Summary)
            {
                foreach (var (action, expected) in new[] { ("moved", row.Moved), ("merged", row.Merged), ("deleted", row.Deleted) })
                {
                    var journaled = detail.Journal
                        .Where(j => j.SchemaName == row.SchemaName && j.TableName == row.TableName && j.ColumnName == row.ColumnName && j.Action == action)
                        .Sum(j => j.JournalRows);
                    if (journaled != expected)
                    {
                        problems.Add($"{row.SchemaName}.{row.TableName}.{row.ColumnName}: summary says {expected} {action}, journal has {journaled}");
                    }
                }
            }

            var unknown = detail.Journal.Where(j => !detail.Summary.Any(s =>
                s.SchemaName == j.SchemaName && s.TableName == j.TableName && s.ColumnName == j.ColumnName));
            problems.AddRange(unknown.Select(j => $"journal has {j.JournalRows} {j.Action} row(s) for {j.SchemaName}.{j.TableName}.{j.ColumnName}, which the summary lacks"));
        }

        problems.AddRange(detail.Addresses.Where(a => a.HeldByUserId is not null).Select(a =>
            $"{a.Rows} row(s) of {a.SchemaName}.{a.TableName} addressed to {a.Address} were re-addressed or deleted, but active user " +
            $"{a.HeldByUserId!.Value.ToString(CultureInfo.InvariantCulture)} holds that address: they were that user's"));

        return new MergeVerification(mergeRunId, problems);
    }

    /// <summary>Parses a run's SummaryJson (null stays null).</summary>
    public static IReadOnlyList<MergeTableSummary>? ParseSummary(string? summaryJson) =>
        summaryJson is null ? null : JsonSerializer.Deserialize<List<MergeTableSummary>>(summaryJson, SummaryJsonOptions);

    private static MergeRunInfo ReadRun(SqlDataReader reader) =>
        new(reader.Get<long>("MergeRunId"), reader.Get<string>("Kind"), reader.GetNullable<int>("SourceUserId"), reader.GetNullable<int>("TargetUserId"),
            reader.Get<string>("RequestedBy"), reader.GetNullableString("Reason"), reader.Get<bool>("IsDryRun"),
            reader.Get<string>("Status"), reader.GetNullableString("StatusDetail"), reader.Get<DateTime>("StartedAt"),
            reader.GetNullable<DateTime>("FinishedAt"), reader.GetNullable<int>("ErrorNumber"), reader.GetNullableString("ErrorMessage"),
            reader.GetNullable<int>("SessionId"), reader.GetNullable<long>("UndoesMergeRunId"), reader.GetNullable<long>("UndoneByMergeRunId"));
}
