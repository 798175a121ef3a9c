using DbMerge.Client.Errors;
using DbMerge.IntegrationTests.Infrastructure;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.UserMerge;

/// <summary>Every refusal of api.User_Merge has its number, changes nothing, and is recorded.</summary>
public sealed class UserMergeRefusalTests(SqlServerFixture fixture, ITestOutputHelper output) : UserMergeTestBase(fixture, output)
{
    [Fact]
    public async Task Both_enrollments_holding_a_final_qualification_refuse_the_whole_merge_and_change_nothing()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var d = await Seed.DocumentAsync("0000001", src);
        await Seed.AccessAsync(d, src, "owner");
        await Seed.FavoriteAsync(d, src);
        var course = await Seed.CourseAsync("c");
        var es = await Seed.EnrollmentAsync(course, src);
        var et = await Seed.EnrollmentAsync(course, t);
        await Seed.FinalQualificationAsync(es, "A");
        await Seed.FinalQualificationAsync(et, "B");
        var before = await FingerprintAsync();

        var error = await MergeFailsAsync(ErrorRegistry.MergeRefusedCollision, src, t);

        Assert.IsType<DbMergeConflictException>(error);
        Assert.Contains($"source {es} and target {et} (CourseId {course}) both hold", error.Message);
        Assert.Contains("app.Enrollment.UserId (merge-children)", error.Message);
        Assert.Contains("UQ_app_FinalQualification_EnrollmentId", error.Message);
        AssertSameFingerprint(before, await FingerprintAsync());
        var runs = await Client.ListMergeRunsAsync(src, 10, Ct);
        var run = Assert.Single(runs);
        Assert.Equal(("refused", ErrorRegistry.MergeRefusedCollision), (run.Status, run.ErrorNumber));
        Assert.Equal(0, await ScalarAsync<int>("SELECT COUNT(*) FROM dbmerge.MergeChange;"));
        Assert.NotNull(run.FinishedAt);
    }

    [Fact]
    public async Task A_foreign_key_to_app_User_without_a_policy_makes_the_merge_refuse_before_touching_data()
    {
        await UseOwnDatabaseAsync(); // plants a table with a foreign key to app.User: no other test may see it
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await Seed.CollectionAsync(src);
        await ExecAsync("CREATE TABLE app.MergeTestBookmark (BookmarkId int IDENTITY(1, 1) NOT NULL PRIMARY KEY, OwnerUserId int NULL " +
                        "CONSTRAINT FK_app_MergeTestBookmark_OwnerUserId_app_User REFERENCES app.[User] (UserId));");
        try
        {
            await ExecAsync("INSERT INTO app.MergeTestBookmark (OwnerUserId) VALUES (@S);", ("@S", src));
            var before = await FingerprintAsync();

            var error = await MergeFailsAsync(ErrorRegistry.MergeUnhandledReference, src, t);

            Assert.Contains("app.MergeTestBookmark.OwnerUserId", error.Message);
            AssertSameFingerprint(before, await FingerprintAsync());
        }
        finally
        {
            await ExecAsync("DROP TABLE IF EXISTS app.MergeTestBookmark;");
        }
    }

    [Fact]
    public async Task Each_bad_input_is_refused_with_its_own_number()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var inactive = await Seed.UserAsync("i@x.test", active: false);
        var merged = await Seed.UserAsync("m@x.test", active: false, mergedInto: t);

        await MergeFailsAsync(ErrorRegistry.MergeSourceNotFound, 999_999, t);
        await MergeFailsAsync(ErrorRegistry.MergeTargetNotFound, src, 999_999);
        await MergeFailsAsync(ErrorRegistry.MergeSameUser, src, src);
        await MergeFailsAsync(ErrorRegistry.MergeTargetNotActive, src, inactive);
        await MergeFailsAsync(ErrorRegistry.MergeTargetNotActive, src, merged);
        await MergeFailsAsync(ErrorRegistry.MergeSourceAlreadyMerged, merged, src);

        // A blank reason: the client refuses before calling the server; the procedure itself refuses it with 51110.
        await Assert.ThrowsAsync<ArgumentException>(() => Client.MergeUsersAsync(src, t, " ", null, false, Ct));
        var blank = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(
            "DECLARE @Id bigint; EXEC api.User_Merge @SourceUserId = @S, @TargetUserId = @T, @Reason = N' ', @RequestedBy = N'tests', @DryRun = 0, @LockTimeoutMs = 1000, @MergeRunId = @Id OUTPUT;",
            ("@S", src), ("@T", t)));
        Output.WriteLine($"blank reason: {blank.Number} {blank.Message}");
        Assert.Equal(ErrorRegistry.MergeInvalidArgument, blank.Number);
        var timeout = await Assert.ThrowsAnyAsync<DbMergeException>(() => Client.MergeUsersAsync(src, t, "r", null, false, Ct, TimeSpan.FromHours(2)));
        Assert.Equal(ErrorRegistry.MergeInvalidArgument, timeout.ErrorNumber);

        // Every refusal above is in the history as refused (six via MergeFailsAsync, the blank reason, the lock timeout).
        var runs = await Client.ListMergeRunsAsync(null, 100, Ct);
        Dump("merge runs", runs.Select(r => (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>
        {
            ["MergeRunId"] = r.MergeRunId, ["Status"] = r.Status, ["ErrorNumber"] = r.ErrorNumber,
        }));
        Assert.Equal(8, runs.Count);
        Assert.All(runs, r => Assert.Equal("refused", r.Status));
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    [Fact]
    public async Task Called_inside_an_open_transaction_it_refuses_and_leaves_the_callers_transaction_alone()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await using var connection = await OpenAsync();
        await using var transaction = (SqlTransaction)await connection.BeginTransactionAsync(Ct);
        await using (var insert = new SqlCommand("INSERT INTO app.Course (Name) VALUES (N'caller work');", connection, transaction))
        {
            await insert.ExecuteNonQueryAsync(Ct);
        }

        var error = await Assert.ThrowsAsync<SqlException>(async () =>
        {
            await using var merge = new SqlCommand(
                "DECLARE @Id bigint; EXEC api.User_Merge @SourceUserId = @S, @TargetUserId = @T, @Reason = N'r', @RequestedBy = NULL, @DryRun = 0, @LockTimeoutMs = 1000, @MergeRunId = @Id OUTPUT;",
                connection, transaction);
            merge.Parameters.AddWithValue("@S", src);
            merge.Parameters.AddWithValue("@T", t);
            await merge.ExecuteNonQueryAsync(Ct);
        });

        Assert.Equal(ErrorRegistry.MergeOpenTransaction, error.Number);
        await using (var count = new SqlCommand("SELECT @@TRANCOUNT * 10 + (SELECT COUNT(*) FROM app.Course WHERE Name = N'caller work');", connection, transaction))
        {
            Assert.Equal(11, (int)(await count.ExecuteScalarAsync(Ct))!);
        }

        await transaction.CommitAsync(Ct);
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    [Fact]
    public async Task The_core_refuses_to_run_without_its_callers_transaction_and_records_the_run_failed()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");

        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync("""
            DECLARE @Id bigint, @J nvarchar(max);
            EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @S, @TargetUserId = @T, @RequestedBy = N'tests', @Reason = N'r', @IsDryRun = 0, @MergeRunId = @Id OUTPUT;
            EXEC dbmerge.User_MergeCore @MergeRunId = @Id, @Mode = 'merge', @SourceUserId = @S, @TargetUserId = @T, @IsDryRun = 0,
                 @LockTimeoutMs = 1000, @MaxDurationMs = 60000, @BatchSize = 1000, @SummaryJson = @J OUTPUT;
            """, ("@S", src), ("@T", t)));

        Assert.Equal(ErrorRegistry.MergeCoreRequiresTransaction, error.Number);
        var run = Assert.Single(await Client.ListMergeRunsAsync(src, 10, Ct));
        Assert.Equal(("failed", ErrorRegistry.MergeCoreRequiresTransaction), (run.Status, run.ErrorNumber));
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    [Fact]
    public async Task The_core_refuses_a_run_that_is_not_a_running_merge_of_these_users()
    {
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        var other = await Seed.UserAsync("o@x.test");

        // A run started for another pair (or already finished) cannot carry this merge.
        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync("""
            DECLARE @Id bigint, @J nvarchar(max);
            EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @O, @TargetUserId = @T, @RequestedBy = N'tests', @Reason = N'r', @IsDryRun = 0, @MergeRunId = @Id OUTPUT;
            BEGIN TRANSACTION;
            EXEC dbmerge.User_MergeCore @MergeRunId = @Id, @Mode = 'merge', @SourceUserId = @S, @TargetUserId = @T, @IsDryRun = 0,
                 @LockTimeoutMs = 1000, @MaxDurationMs = 60000, @BatchSize = 1000, @SummaryJson = @J OUTPUT;
            """, ("@S", src), ("@T", t), ("@O", other)));

        Assert.Equal(ErrorRegistry.MergeRunNotRunning, error.Number);
        Assert.Equal(0, await ScalarAsync<int>("SELECT @@TRANCOUNT;"));
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }

    [Fact]
    public async Task The_core_refuses_another_sessions_running_run_of_the_same_users_and_leaves_it_running()
    {
        // Given a run of s into t started by one session, which keeps it (and its session applock DbMerge.MergeRun:<id>)
        var t = await Seed.UserAsync("t@x.test");
        var src = await Seed.UserAsync("s@x.test");
        await using var owner = await OpenAsync();
        long id;
        await using (var start = new SqlCommand(
            "DECLARE @Id bigint; EXEC dbmerge.MergeRun_Start @Kind = 'merge', @SourceUserId = @S, @TargetUserId = @T, @RequestedBy = N'tests', @Reason = N'r', @IsDryRun = 0, @MergeRunId = @Id OUTPUT; SELECT @Id;",
            owner))
        {
            start.Parameters.AddWithValue("@S", src);
            start.Parameters.AddWithValue("@T", t);
            id = Convert.ToInt64(await start.ExecuteScalarAsync(Ct), System.Globalization.CultureInfo.InvariantCulture);
        }

        // When another session calls the core with that run id (status running, same kind and users)
        var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync("""
            DECLARE @J nvarchar(max);
            BEGIN TRANSACTION;
            EXEC dbmerge.User_MergeCore @MergeRunId = @Id, @Mode = 'merge', @SourceUserId = @S, @TargetUserId = @T, @IsDryRun = 0,
                 @LockTimeoutMs = 1000, @MaxDurationMs = 60000, @BatchSize = 1000, @SummaryJson = @J OUTPUT;
            """, ("@Id", id), ("@S", src), ("@T", t)));

        // Then it is refused (51118: not this session's run) and the other session's run is still running, not failed
        Output.WriteLine(error.Message);
        Assert.Equal(ErrorRegistry.MergeRunNotRunning, error.Number);
        var run = (await Client.GetMergeRunAsync(id, Ct)).Run;
        Assert.Equal(("running", (int?)null), (run.Status, run.ErrorNumber));
        Assert.Equal(1, await ScalarAsync<int>("SELECT IsActive FROM app.[User] WHERE UserId = @S;", ("@S", src)));
    }
}
