using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>
/// The core's contract for other DbMerge procedures (stream 12, reconciliation: dbmerge.User_MergeCore's header):
/// MergeRun_Start outside a transaction; the core inside the caller's transaction, which may do more work; COMMIT;
/// MergeRun_Finish. On an error the core rolls the caller's transaction back and records the run. And the sweep's
/// own refusal.
/// </summary>
public sealed class UserMergeCoreContractTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    private const string Start =
        "EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @S, @TargetUserId = @T, @RequestedBy = N'reconciliation', @Reason = N'contract test', @IsDryRun = 0, @MergeRunId = @Id OUTPUT;";

    private const string Core =
        "EXEC dbmerge.User_MergeCore @MergeRunId = @Id, @Mode = 'merge', @SourceUserId = @S, @TargetUserId = @T, @IsDryRun = 0, " +
        "@LockTimeoutMs = 5000, @MaxDurationMs = 60000, @BatchSize = 1000, @SummaryJson = @J OUTPUT;";

    [Fact]
    public async Task The_core_merges_inside_the_callers_transaction_alongside_the_callers_own_work()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);

        var id = await ScalarAsync<long>($"""
            DECLARE @Id bigint, @J nvarchar(max);
            {Start}
            BEGIN TRANSACTION;
            {Core}
            INSERT INTO app.Course (Name) VALUES (N'caller work in the same transaction');
            COMMIT TRANSACTION;
            EXEC dbmerge.MergeRun_Finish @MergeRunId = @Id, @Outcome = 'committed', @ErrorNumber = NULL, @ErrorMessage = NULL, @SummaryJson = @J;
            SELECT @Id;
            """, ("@S", src), ("@T", t));

        var run = await Client.GetMergeRunAsync(id, Ct);
        Assert.Equal(("committed", "reconciliation"), (run.Run.Status, run.Run.RequestedBy));
        Assert.Equal(1, Assert.Single(run.Summary!, s => s.TableName == "Collection").Moved);
        Assert.Equal(1, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Course WHERE Name = N'caller work in the same transaction';"));
        Assert.True((await Client.VerifyMergeAsync(id, Ct)).Verified);
        Assert.Equal(0, await ApplocksAsync()); // MergeRun_Finish released the run's session applock
    }

    [Fact]
    public async Task A_refusal_inside_the_callers_transaction_rolls_it_back_and_records_the_run_refused()
    {
        var t = await Seed.UserAsync("t@x.test", active: false);
        var src = await Seed.UserAsync("s@x.test");

        var outcome = Assert.Single(await RowsAsync($"""
            DECLARE @Id bigint, @J nvarchar(max);
            {Start}
            BEGIN TRANSACTION;
            INSERT INTO app.Course (Name) VALUES (N'caller work before the core');
            BEGIN TRY
                {Core}
                SELECT @Id AS Id, -1 AS Trancount, 0 AS ErrorNumber;
            END TRY
            BEGIN CATCH
                SELECT @Id AS Id, @@TRANCOUNT AS Trancount, ERROR_NUMBER() AS ErrorNumber;
            END CATCH;
            """, ("@S", src), ("@T", t)));

        Assert.Equal((ErrorRegistry.MergeTargetNotActive, 0), ((int)outcome["ErrorNumber"]!, (int)outcome["Trancount"]!));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM app.Course;"));
        var run = await Client.GetMergeRunAsync((long)outcome["Id"]!, Ct);
        Assert.Equal(("refused", ErrorRegistry.MergeTargetNotActive), (run.Run.Status, run.Run.ErrorNumber));
    }

    [Fact]
    public async Task MergeRun_Start_refuses_inside_a_transaction_and_leaves_it_alone()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await using var connection = await OpenAsync();
        await using var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        await using var command = new SqlCommand("DECLARE @Id bigint; " + Start, connection, transaction);
        command.Parameters.AddWithValue("@S", src);
        command.Parameters.AddWithValue("@T", t);

        var error = await Assert.ThrowsAsync<SqlException>(() => command.ExecuteNonQueryAsync(Ct));

        Assert.Equal(ErrorRegistry.MergeRunOpenTransaction, error.Number);
        await using var count = new SqlCommand("SELECT @@TRANCOUNT;", connection, transaction);
        Assert.Equal(1, (int)(await count.ExecuteScalarAsync(Ct))!);
        await transaction.RollbackAsync(Ct);
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeRun;"));
    }

    [Fact]
    public async Task A_sweep_of_a_user_that_is_not_merged_away_is_refused_with_51117()
    {
        var src = await Seed.UserAsync("s@x.test");

        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => Client.SweepUserAsync(src, "tests", dryRun: false, Ct));

        Assert.Equal(ErrorRegistry.SweepUserNotMergedAway, error.ErrorNumber);
        Assert.Equal("refused", Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct)).Status);
    }

    [Fact]
    public async Task A_sweep_dry_run_reports_what_it_would_re_point_and_changes_nothing()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await MergeAsync(src, t);
        await Seed.CollectionAsync(src); // a late write
        var before = await FingerprintAsync(includeHistory: true);

        var dry = await Client.SweepUserAsync(src, "tests", dryRun: true, Ct);

        Assert.Equal(1, Row(dry, "Collection", "OwnerUserId").Moved);
        AssertSameFingerprint(before, await FingerprintAsync(includeHistory: true));
        Assert.Equal("dry-run", (await Client.GetMergeRunAsync(dry.MergeRunId, Ct)).Run.Status);
        Assert.Equal(1, (await Client.GetLateReferencesAsync(Ct)).Sum(l => l.ReferencingRows));
    }

    private Task<int> ApplocksAsync() =>
        ScalarAsync<int>("SELECT COUNT(*) FROM sys.dm_tran_locks WHERE resource_type = N'APPLICATION' AND resource_database_id = DB_ID() AND request_session_id <> @@SPID;");
}
