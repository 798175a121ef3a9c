using System.Data;
using System.Globalization;
using Microsoft.Data.SqlClient;

namespace DbMerge.Client;

/// <summary>Kinds of collection claim (<c>dbmerge.CollectionClaim.Kind</c>).</summary>
public static class CollectionClaimKinds
{
    /// <summary>The anonymous collections of a session, claimed at login (<c>api.Collection_ClaimSession</c>).</summary>
    public const string Session = "session";

    /// <summary>The collections of a legacy account with the same e-mail (<c>api.Collection_ClaimLegacy</c>); undoable.</summary>
    public const string Legacy = "legacy";
}

/// <summary>One collection a claim moved (or, for a dry run, would move).</summary>
/// <param name="Name">Its name now (after a dry run: the name it would get).</param>
/// <param name="OriginalName">Its name in the session or the legacy account.</param>
/// <param name="Renamed">True when the user already had that name and the collection became <c>Name (k)</c>.</param>
/// <param name="FromUserId">The legacy account it came from; null for a session claim.</param>
public sealed record ClaimedCollection(int CollectionId, string Name, string OriginalName, bool Renamed, int? FromUserId);

/// <summary>What a claim did: <see cref="Collections"/> is empty when there was nothing (left) to claim.</summary>
/// <param name="ClaimId">The audit row (<c>dbmerge.CollectionClaim</c>); null when nothing was claimed, and for a dry run.</param>
/// <param name="ClaimedByUserId">Session claims only: who holds the session's collections — <paramref name="UserId"/>
/// when this call claimed some, else the user of the session's latest earlier claim (another user after a lost race,
/// this user after a repeat), null when the session was never claimed. Always null for legacy claims.</param>
public sealed record CollectionClaimResult(
    long? ClaimId, int UserId, bool DryRun, IReadOnlyList<ClaimedCollection> Collections, int? ClaimedByUserId)
{
    public int ClaimedCount => Collections.Count;

    public IReadOnlyList<ClaimedCollection> RenamedCollections => Collections.Where(c => c.Renamed).ToList();

    /// <summary>A session claim that found nothing because another user had claimed the session.</summary>
    public bool ClaimedByAnotherUser => ClaimedCount == 0 && ClaimedByUserId is { } by && by != UserId;
}

/// <summary>A collection of a legacy account of the user (api.Collection_ListLegacy).</summary>
public sealed record LegacyCollection(
    int LegacyUserId, DateTime LegacyCreatedAt, int CollectionId, string Name, DateTime CreatedAt, DateTime UpdatedAt);

/// <summary>The outcome of api.Collection_UndoClaim.</summary>
/// <param name="RestoredCount">Collections given back by this call (or that would be, for a dry run); 0 when already undone.</param>
public sealed record CollectionClaimUndone(
    long ClaimId, string Kind, int UserId, int RestoredCount, bool AlreadyUndone, bool DryRun, DateTime? UndoneAt, string? UndoneBy);

/// <summary>One claimed collection of the claim history (api.CollectionClaim_List).</summary>
public sealed record CollectionClaimEntry(
    long ClaimId, string Kind, int UserId, int? LegacyUserId, string RequestedBy, DateTime ClaimedAt, DateTime? UndoneAt,
    string? UndoneBy, int CollectionId, int? FromUserId, string OldName, string NewName, bool Renamed);

public sealed partial class DbMergeClient
{
    public const string CollectionClaimSessionProcedure = "api.Collection_ClaimSession";
    public const string CollectionClaimLegacyProcedure = "api.Collection_ClaimLegacy";
    public const string CollectionListLegacyProcedure = "api.Collection_ListLegacy";
    public const string CollectionUndoClaimProcedure = "api.Collection_UndoClaim";
    public const string CollectionClaimListProcedure = "api.CollectionClaim_List";

    /// <summary>How often a claim chosen as deadlock victim (1205) is run before giving up (claims are atomic and idempotent).</summary>
    public const int ClaimDeadlockAttempts = 3;

    /// <summary>
    /// At login: the anonymous session's collections become the user's (api.Collection_ClaimSession), atomically.
    /// Idempotent: a repeat (or the loser of two concurrent claims) returns no collections and says who holds them
    /// (<see cref="CollectionClaimResult.ClaimedByUserId"/>). A deadlock victim is run again (up to
    /// <see cref="ClaimDeadlockAttempts"/> attempts).
    /// </summary>
    /// <exception cref="Errors.DbMergeException">51550, 51551 (session id), 51552 (user inactive), 51556, 51563;
    /// 51564 (<see cref="Errors.DbMergeLockTimeoutException"/>) when a lock was not granted within the session's LOCK_TIMEOUT.</exception>
    public async Task<CollectionClaimResult> ClaimSessionCollectionsAsync(
        string sessionId, int userId, string? requestedBy = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        return await RetryDeadlockVictimAsync(() => ClaimAsync(
                    CollectionClaimSessionProcedure,
                    userId,
                    dryRun: false,
                    p =>
                    {
                        // nvarchar(4000): the procedure refuses an over-long or non-ASCII id (51551) instead of a cut one.
                        p.Add(new SqlParameter("@SessionId", SqlDbType.NVarChar, 4000) { Value = (object?)sessionId ?? DBNull.Value });
                        p.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = userId });
                        p.Add(new SqlParameter("@RequestedBy", SqlDbType.NVarChar, 128) { Value = (object?)requestedBy ?? DBNull.Value });
                        p.Add(new SqlParameter("@ClaimedByUserId", SqlDbType.Int) { Direction = ParameterDirection.InputOutput, Value = DBNull.Value });
                    },
                    timeout,
                    cancellationToken)
                , ClaimDeadlockAttempts, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// "Migrate data": the collections of the user's legacy account <paramref name="legacyUserId"/> (null: of every
    /// legacy account of the user's e-mail) become the user's (api.Collection_ClaimLegacy), atomically, recorded for
    /// <see cref="UndoCollectionClaimAsync"/>. With <paramref name="dryRun"/> the same work is done and rolled back.
    /// Idempotent. A deadlock victim is run again (up to <see cref="ClaimDeadlockAttempts"/> attempts).
    /// </summary>
    /// <exception cref="Errors.DbMergeException">51550, 51552–51556, 51563, 51564 (lock timeout); 51554
    /// (<see cref="Errors.DbMergeInvalidStateException"/>) when the account is not a legacy account of the user.</exception>
    public async Task<CollectionClaimResult> ClaimLegacyCollectionsAsync(
        int userId, int? legacyUserId = null, bool dryRun = false, string? requestedBy = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        return await RetryDeadlockVictimAsync(() => ClaimAsync(
                    CollectionClaimLegacyProcedure,
                    userId,
                    dryRun,
                    p =>
                    {
                        p.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = userId });
                        p.Add(new SqlParameter("@LegacyUserId", SqlDbType.Int) { Value = (object?)legacyUserId ?? DBNull.Value });
                        p.Add(new SqlParameter("@DryRun", SqlDbType.Bit) { Value = dryRun });
                        p.Add(new SqlParameter("@RequestedBy", SqlDbType.NVarChar, 128) { Value = (object?)requestedBy ?? DBNull.Value });
                    },
                    timeout ?? _options.LongCommandTimeout,
                    cancellationToken)
                , ClaimDeadlockAttempts, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The collections of the user's legacy accounts (api.Collection_ListLegacy); empty: nothing to offer.</summary>
    /// <exception cref="Errors.DbMergeException">51550, 51552 (the user does not exist or is inactive).</exception>
    public Task<IReadOnlyList<LegacyCollection>> ListLegacyCollectionsAsync(
        int userId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<LegacyCollection>>(
            CollectionListLegacyProcedure,
            p => p.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = userId }),
            async (reader, _, ct) =>
            {
                var rows = new List<LegacyCollection>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new LegacyCollection(
                        reader.Get<int>("LegacyUserId"), reader.Get<DateTime>("LegacyCreatedAt"), reader.Get<int>("CollectionId"),
                        reader.Get<string>("Name"), reader.Get<DateTime>("CreatedAt"), reader.Get<DateTime>("UpdatedAt")));
                }

                return rows;
            },
            timeout,
            cancellationToken);

    /// <summary>
    /// Operator undo of a legacy claim (api.Collection_UndoClaim): every collection goes back to its legacy account with
    /// its old name, all or nothing; refused (51559) when a collection changed since the claim. Undoing an undone
    /// claim changes nothing (<see cref="CollectionClaimUndone.AlreadyUndone"/>).
    /// </summary>
    /// <exception cref="Errors.DbMergeException">51550, 51556–51561, 51563, 51564 (lock timeout).</exception>
    public Task<CollectionClaimUndone> UndoCollectionClaimAsync(
        long claimId, bool dryRun = false, string? requestedBy = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync(
            CollectionUndoClaimProcedure,
            p =>
            {
                p.Add(new SqlParameter("@ClaimId", SqlDbType.BigInt) { Value = claimId });
                p.Add(new SqlParameter("@DryRun", SqlDbType.Bit) { Value = dryRun });
                p.Add(new SqlParameter("@RequestedBy", SqlDbType.NVarChar, 128) { Value = (object?)requestedBy ?? DBNull.Value });
            },
            async (reader, _, ct) =>
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"{CollectionUndoClaimProcedure} returned no result row; its contract promises exactly one.");
                }

                return new CollectionClaimUndone(
                    reader.Get<long>("ClaimId"), reader.Get<string>("Kind"), reader.Get<int>("UserId"), reader.Get<int>("RestoredCount"),
                    reader.Get<bool>("AlreadyUndone"), reader.Get<bool>("DryRun"), reader.GetNullable<DateTime>("UndoneAt"),
                    reader.GetNullableString("UndoneBy"));
            },
            timeout ?? _options.LongCommandTimeout,
            cancellationToken);

    /// <summary>
    /// The claim history (api.CollectionClaim_List), one entry per claimed collection, newest claim first: one claim
    /// (<paramref name="claimId"/>), the claims made by or taking from <paramref name="userId"/>, or (neither) the latest.
    /// </summary>
    /// <exception cref="Errors.DbMergeException">51550 (both filters, or <paramref name="top"/> outside 1..100000).</exception>
    public Task<IReadOnlyList<CollectionClaimEntry>> ListCollectionClaimsAsync(
        int? userId = null, long? claimId = null, int top = 1000, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ExecuteProcedureAsync<IReadOnlyList<CollectionClaimEntry>>(
            CollectionClaimListProcedure,
            p =>
            {
                p.Add(new SqlParameter("@UserId", SqlDbType.Int) { Value = (object?)userId ?? DBNull.Value });
                p.Add(new SqlParameter("@ClaimId", SqlDbType.BigInt) { Value = (object?)claimId ?? DBNull.Value });
                p.Add(new SqlParameter("@Top", SqlDbType.Int) { Value = top });
            },
            async (reader, _, ct) =>
            {
                var rows = new List<CollectionClaimEntry>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new CollectionClaimEntry(
                        reader.Get<long>("ClaimId"), reader.Get<string>("Kind"), reader.Get<int>("UserId"), reader.GetNullable<int>("LegacyUserId"),
                        reader.Get<string>("RequestedBy"), reader.Get<DateTime>("ClaimedAt"), reader.GetNullable<DateTime>("UndoneAt"),
                        reader.GetNullableString("UndoneBy"), reader.Get<int>("CollectionId"), reader.GetNullable<int>("FromUserId"),
                        reader.Get<string>("OldName"), reader.Get<string>("NewName"), reader.Get<bool>("Renamed")));
                }

                return rows;
            },
            timeout,
            cancellationToken);

    /// <summary>
    /// Resolves "42" (an id: that account, whatever its state) or "ada@example.org" (an e-mail: the ONE active account
    /// with it) for the collection verbs. Legacy accounts share the active account's e-mail by definition, so an e-mail
    /// that also matches inactive accounts is not ambiguous here; it is when no (or more than one) account with it is
    /// active, and the exception then lists every match.
    /// </summary>
    /// <exception cref="UserResolutionException">No account matches, or the e-mail has no single active account (listed).</exception>
    public async Task<UserAccount> ResolveActiveUserAsync(string idOrEmail, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idOrEmail);
        var text = idOrEmail.Trim();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return await ResolveUserAsync(text, cancellationToken).ConfigureAwait(false);
        }

        var users = await FindUsersAsync(null, text, cancellationToken).ConfigureAwait(false);
        var active = users.Where(u => u.IsActive).ToList();
        return active.Count switch
        {
            1 => active[0],
            _ when users.Count == 0 => throw new UserResolutionException($"No user has the e-mail '{text}'.", users),
            0 => throw new UserResolutionException(
                $"No active user has the e-mail '{text}'; its {users.Count} account(s) are inactive: " +
                string.Join("; ", users.Select(Describe)) + ". Name the account by id.",
                users),
            _ => throw new UserResolutionException(
                $"The e-mail '{text}' matches {active.Count} active users; name one by id: " + string.Join("; ", users.Select(Describe)) + ".",
                users),
        };
    }

    private async Task<CollectionClaimResult> ClaimAsync(
        string procedure, int userId, bool dryRun, Action<SqlParameterCollection> addParameters, TimeSpan? timeout,
        CancellationToken cancellationToken)
    {
        SqlParameter? claimIdParameter = null;
        SqlParameter? claimedByParameter = null;
        var collections = await ExecuteProcedureAsync<IReadOnlyList<ClaimedCollection>>(
            procedure,
            p =>
            {
                addParameters(p);
                claimIdParameter = p.Add(new SqlParameter("@ClaimId", SqlDbType.BigInt) { Direction = ParameterDirection.InputOutput, Value = DBNull.Value });
                p.Add(new SqlParameter("@ClaimedCount", SqlDbType.Int) { Direction = ParameterDirection.InputOutput, Value = DBNull.Value });
                claimedByParameter = p.Contains("@ClaimedByUserId") ? p["@ClaimedByUserId"] : null;
            },
            async (reader, _, ct) =>
            {
                var rows = new List<ClaimedCollection>();
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    rows.Add(new ClaimedCollection(
                        reader.Get<int>("CollectionId"), reader.Get<string>("Name"), reader.Get<string>("OriginalName"),
                        reader.Get<bool>("Renamed"), reader.GetNullable<int>("FromUserId")));
                }

                return rows;
            },
            timeout,
            cancellationToken).ConfigureAwait(false);

        // Output parameters are set once the reader is closed (ExecuteProcedureAsync drains and closes it).
        var claimId = claimIdParameter?.Value is long id ? id : (long?)null;
        var claimedBy = claimedByParameter?.Value is int by ? by : (int?)null;
        return new CollectionClaimResult(claimId, userId, dryRun, collections, claimedBy);
    }
}
