using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The unmerge's history contract (dbmerge.User_UnmergeCore's header): dbmerge.MergeRun_Start takes kind unmerge only with
/// the run it undoes, and no other kind with one; the core requires a transaction (51152) and a running unmerge run of
/// that merge (51153, not recorded: that run is not this call's).
/// </summary>
public sealed class UnmergeCoreContractTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Theory]
    [InlineData("'unmerge'", "NULL")]
    [InlineData("'merge'", "17")]
    [InlineData("'sweep'", "17")]
    public async Task MergeRun_Start_takes_a_run_to_undo_for_an_unmerge_and_for_nothing_else(string kind, string undoes)
    {
        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            $"DECLARE @Id bigint; EXEC dbmerge.MergeRun_Start @Kind = {kind}, @SourceUserId = 1, @TargetUserId = 2, @RequestedBy = N'tests', " +
            $"@Reason = N'contract', @IsDryRun = 0, @MergeRunId = @Id OUTPUT, @UndoesMergeRunId = {undoes};"));

        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.MergeInvalidArgument, error.Number);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun;"));
    }

    [Fact]
    public async Task The_core_refuses_without_a_transaction_and_for_a_run_that_is_not_a_running_unmerge_of_that_merge()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);
        var merge = await MergeAsync(src, t);
        const string core =
            "EXEC dbmerge.User_UnmergeCore @UnmergeRunId = @U, @MergeRunId = @M, @IsDryRun = 0, @LockTimeoutMs = 5000, @MaxDurationMs = 60000, @BatchSize = 1000, @SummaryJson = @J OUTPUT;";

        var noTransaction = await Assert.ThrowsAsync<SqlException>(() => ExecAsync($"DECLARE @J nvarchar(max); {core}", ("@U", 1L), ("@M", merge.MergeRunId)));
        Assert.Equal(ErrorRegistry.UnmergeCoreRequiresTransaction, noTransaction.Number);

        // the merge run itself is not a running unmerge of it
        var notRunning = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            $"DECLARE @J nvarchar(max); BEGIN TRANSACTION; {core}", ("@U", merge.MergeRunId), ("@M", merge.MergeRunId)));
        Output.WriteLine(notRunning.Message);
        Assert.Equal(ErrorRegistry.UnmergeRunNotRunning, notRunning.Number);
        Assert.Equal("committed", (await Client.GetMergeRunAsync(merge.MergeRunId, Ct)).Run.Status);
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Collection WHERE OwnerUserId = @T;", ("@T", t)));
    }
}
