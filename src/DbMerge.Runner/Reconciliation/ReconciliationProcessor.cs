using DbMerge.Client;
using DbMerge.Client.Errors;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Reconciliation;

/// <summary>What happened to one request in a processing run.</summary>
internal sealed record ProcessedRequest(int RequestId, string SourceId, string ActiveEmail, string InactiveEmail, bool IsRetry,
    ReconciliationProcessed? Result, int? ErrorNumber, string? ErrorMessage)
{
    public bool Succeeded => Result is not null;
}

/// <summary>A processing run: the requests it handled and the sweeps it did.</summary>
internal sealed record ReconciliationProcessReport(bool DryRun, bool Stopped, int Expired, int Abandoned, IReadOnlyList<ProcessedRequest> Requests)
{
    public int Done => Requests.Count(r => r.Succeeded);

    public int Failed => Requests.Count(r => !r.Succeeded);
}

/// <summary>
/// The processing loop: claim (<c>api.Reconciliation_Claim</c>, committed), then merge that request in its own
/// transaction (<c>api.Reconciliation_Process</c>), one request at a time, until none is ready or <c>--max</c> is
/// reached. A failing request is recorded by the server and reported here; the loop goes on with the next. Several
/// processors may run at once: a claim never takes a request another processor holds. Stopping (Ctrl+C) finishes the
/// request being merged first, so no claim is left behind. A dry run claims nothing: it merges each ready request and
/// rolls it back.
/// </summary>
internal sealed class ReconciliationProcessor(DbMergeClient client)
{
    public sealed record Options(int? Max, bool DryRun, bool RetryErrors, TimeSpan LockTimeout, string? RequestedBy);

    public async Task<ReconciliationProcessReport> RunAsync(Options options, Action<ProcessedRequest>? onRequest, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.DryRun ? await DryRunAsync(options, onRequest, stop).ConfigureAwait(false) : await ProcessAsync(options, onRequest, stop).ConfigureAwait(false);
    }

    private async Task<ReconciliationProcessReport> ProcessAsync(Options options, Action<ProcessedRequest>? onRequest, CancellationToken stop)
    {
        var requests = new List<ProcessedRequest>();
        DateTime? retryBefore = null;
        int expired = 0, abandoned = 0;
        var stopped = false;
        while (options.Max is not { } max || requests.Count < max)
        {
            if (stop.IsCancellationRequested)
            {
                stopped = true;
                break;
            }

            var claim = await client.ClaimReconciliationAsync(options.RetryErrors, retryBefore, options.RequestedBy, CancellationToken.None)
                .ConfigureAwait(false);
            retryBefore ??= claim.ServerNow; // errors recorded from now on are not retried again in this run
            expired += claim.ExpiredCount;
            abandoned += claim.AbandonedCount;
            if (claim.Claimed is not { } claimed)
            {
                break;
            }

            var processed = await ProcessOneAsync(claimed.RequestId, claimed.ClaimId, claimed, options).ConfigureAwait(false);
            requests.Add(processed);
            onRequest?.Invoke(processed);
        }

        return new ReconciliationProcessReport(false, stopped, expired, abandoned, requests);
    }

    private async Task<ReconciliationProcessReport> DryRunAsync(Options options, Action<ProcessedRequest>? onRequest, CancellationToken stop)
    {
        var requests = new List<ProcessedRequest>();
        var after = 0;
        var stopped = false;
        var statuses = options.RetryErrors ? new[] { ReconciliationStatuses.Ready, ReconciliationStatuses.Error } : [ReconciliationStatuses.Ready];
        foreach (var status in statuses)
        {
            after = 0;
            while (!stopped && (options.Max is not { } max || requests.Count < max))
            {
                var page = await client.ListReconciliationsAsync(status, null, after, 100, CancellationToken.None).ConfigureAwait(false);
                if (page.Count == 0)
                {
                    break;
                }

                foreach (var request in page)
                {
                    if (stop.IsCancellationRequested)
                    {
                        stopped = true;
                        break;
                    }

                    if (options.Max is { } limit && requests.Count >= limit)
                    {
                        break;
                    }

                    var claimed = new ClaimedReconciliation(request.RequestId, Guid.Empty, request.SourceId, request.ActiveEmail,
                        request.InactiveEmail, request.ActiveUserId, request.InactiveUserId, request.Attempts, status == ReconciliationStatuses.Error);
                    var processed = await ProcessOneAsync(request.RequestId, null, claimed, options).ConfigureAwait(false);
                    requests.Add(processed);
                    onRequest?.Invoke(processed);
                }

                after = page[^1].RequestId;
            }
        }

        return new ReconciliationProcessReport(true, stopped, 0, 0, requests);
    }

    /// <summary>
    /// One request. Never cancelled half-way: a cancelled command would roll the merge back on the server but leave the
    /// claim unfinished until the claim timeout. Business refusals and engine errors (deadlock, lock timeout) were
    /// recorded on the request by the server; they are reported, not thrown.
    /// </summary>
    private async Task<ProcessedRequest> ProcessOneAsync(int requestId, Guid? claimId, ClaimedReconciliation request, Options options)
    {
        try
        {
            var result = await client.ProcessReconciliationAsync(requestId, claimId, options.DryRun, options.LockTimeout, options.RequestedBy,
                CancellationToken.None).ConfigureAwait(false);
            return new ProcessedRequest(requestId, request.SourceId, request.ActiveEmail, request.InactiveEmail, request.IsRetry, result, null, null);
        }
        catch (DbMergeException ex)
        {
            return new ProcessedRequest(requestId, request.SourceId, request.ActiveEmail, request.InactiveEmail, request.IsRetry, null, ex.ErrorNumber, ex.Message);
        }
        catch (SqlException ex) when (!Cli.Verb.IsConnectionFailure(ex))
        {
            return new ProcessedRequest(requestId, request.SourceId, request.ActiveEmail, request.InactiveEmail, request.IsRetry, null, ex.Number,
                ex.Message.Split('\n', 2)[0]);
        }
    }
}
