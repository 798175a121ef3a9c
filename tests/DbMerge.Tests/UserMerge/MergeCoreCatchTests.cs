using DbMerge.Schema.Merge;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// dbmerge.User_MergeCore sets LOCK_TIMEOUT per batch to min(@LockTimeoutMs, the budget's time left) — a few ms near the
/// deadline, 0 with @LockTimeoutMs 0 — and a SET in a procedure also governs the procedures it calls. Its CATCH records
/// the failure with dbmerge.MergeRun_Finish (an UPDATE of the run's row): under the run's last lock timeout any reader's
/// lock on that row (api.MergeRun_List) turned the failure into 1222, hiding 51108/51115 and the summary so far. The same
/// holds for dbmerge.User_UnmergeCore (51150/51151).
/// </summary>
public sealed class MergeCoreCatchTests
{
    [Theory]
    [InlineData("dbmerge.User_MergeCore.sql")]
    [InlineData("dbmerge.User_UnmergeCore.sql")]
    public void The_generated_core_logs_its_failure_with_the_callers_lock_timeout_not_the_runs_last_batch_wait(string file)
    {
        var core = MergeGenerator.Generate(Repo.Layout).Files.Single(f => f.RelativePath.EndsWith(file, StringComparison.Ordinal)).Text;
        var fragment = new TSql150Parser(true).Parse(new StringReader(core), out var errors);
        Assert.Empty(errors);
        var tries = new TryCollector();
        fragment.Accept(tries);
        var body = Assert.Single(tries.Found);

        // the caller's value is kept before the core's first SET LOCK_TIMEOUT
        var tryText = core.Substring(body.TryStatements.StartOffset, body.TryStatements.FragmentLength);
        var beforeTry = core[..body.StartOffset];
        Assert.Contains("DECLARE @CallerLockTimeout int = @@LOCK_TIMEOUT;", beforeTry, StringComparison.Ordinal);
        Assert.Contains("SET LOCK_TIMEOUT @Wait;", tryText, StringComparison.Ordinal);

        // and restored in the CATCH before the run is finished
        var catchText = core.Substring(body.CatchStatements.StartOffset, body.CatchStatements.FragmentLength);
        var restore = catchText.IndexOf("SET LOCK_TIMEOUT @CallerLockTimeout;", StringComparison.Ordinal);
        var finish = catchText.IndexOf("EXEC dbmerge.MergeRun_Finish", StringComparison.Ordinal);
        Assert.True(restore >= 0 && finish > restore, "the CATCH must SET LOCK_TIMEOUT @CallerLockTimeout before EXEC dbmerge.MergeRun_Finish");
    }

    private sealed class TryCollector : TSqlFragmentVisitor
    {
        public List<TryCatchStatement> Found { get; } = [];

        public override void Visit(TryCatchStatement node) => Found.Add(node);
    }
}
