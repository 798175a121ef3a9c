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

    [Theory]
    [InlineData("dbmerge.User_MergeCore.sql", 51118, 51111)]
    [InlineData("dbmerge.User_UnmergeCore.sql", 51153, null)]
    public void The_generated_core_finishes_only_a_run_it_proved_its_own_and_bounds_its_first_read_of_the_history(string file, int notOurRun, int? checkedAfterProof)
    {
        // (reviews 14 and locks) Errors thrown before the run check (the merge core's 51111, 51110, 51102; the unmerge
        // core's 51152, 51141, 51142, the first 51143) used to reach dbmerge.MergeRun_Finish with an unproven run id:
        // another session's running run of that id was marked refused or failed, and its own commit then found no
        // running row. And the read of dbmerge.MergeRun before the applocks ran under the caller's LOCK_TIMEOUT (-1:
        // unbounded) instead of @LockTimeoutMs.
        var core = MergeGenerator.Generate(Repo.Layout).Files.Single(f => f.RelativePath.EndsWith(file, StringComparison.Ordinal)).Text;
        var fragment = new TSql150Parser(true).Parse(new StringReader(core), out var errors);
        Assert.Empty(errors);
        var tries = new TryCollector();
        fragment.Accept(tries);
        var body = Assert.Single(tries.Found);
        var tryText = core.Substring(body.TryStatements.StartOffset, body.TryStatements.FragmentLength);
        var catchText = core.Substring(body.CatchStatements.StartOffset, body.CatchStatements.FragmentLength);

        // the flag is set right after the run check, and nowhere else
        var check = $"THROW {notOurRun}, @Message, 1;";
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(tryText, $"THROW {notOurRun}"));
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(core, "SET @RunIsOurs = 1;"));
        var proven = tryText.IndexOf("SET @RunIsOurs = 1;", StringComparison.Ordinal);
        Assert.True(proven > tryText.IndexOf(check, StringComparison.Ordinal) && tryText.IndexOf(check, StringComparison.Ordinal) > 0,
            $"SET @RunIsOurs = 1 must follow the {notOurRun} check");
        Assert.Equal("END;", tryText[..proven].TrimEnd()[^4..]);

        // (final review) and the check proves the run this session's: MergeRun_Start's session-owned applock
        // DbMerge.MergeRun:<id> is held here (status, kind and users alone let another session's running run of the
        // same users through, which a later error of this call then finished as failed while it still ran)
        var checkAt = tryText.IndexOf(check, StringComparison.Ordinal);
        var condition = tryText[tryText.LastIndexOf("\n        IF ", checkAt, StringComparison.Ordinal)..checkAt];
        Assert.Contains("APPLOCK_MODE(N'public', CONCAT(N'DbMerge.MergeRun:', @", condition, StringComparison.Ordinal);
        Assert.Contains("N'Session') <> N'Exclusive'", condition, StringComparison.Ordinal);
        if (checkedAfterProof is { } number)
        {
            // a refusal the history must show (the merge core's call without a transaction: failed, 51111) comes after it
            var refusal = tryText.IndexOf($"THROW {number}, @Message, 1;", StringComparison.Ordinal);
            Assert.True(refusal > proven, $"THROW {number} at {refusal} must follow SET @RunIsOurs = 1 at {proven}");
        }

        // the CATCH finishes the run only under it
        var finish = catchText.IndexOf("EXEC dbmerge.MergeRun_Finish", StringComparison.Ordinal);
        Assert.True(finish > 0);
        Assert.EndsWith("IF @RunIsOurs = 1", catchText[..finish].TrimEnd(), StringComparison.Ordinal);

        // the first statement that reads dbmerge.MergeRun comes after the core's first SET LOCK_TIMEOUT @Wait
        var firstRead = tryText.IndexOf("FROM dbmerge.MergeRun AS", StringComparison.Ordinal);
        var firstTimeout = tryText.IndexOf("SET LOCK_TIMEOUT @Wait;", StringComparison.Ordinal);
        Assert.True(firstTimeout > 0 && firstRead > firstTimeout, $"SET LOCK_TIMEOUT @Wait at {firstTimeout}, first read of dbmerge.MergeRun at {firstRead}");
    }

    private sealed class TryCollector : TSqlFragmentVisitor
    {
        public List<TryCatchStatement> Found { get; } = [];

        public override void Visit(TryCatchStatement node) => Found.Add(node);
    }
}
