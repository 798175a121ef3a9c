using System.Diagnostics;
using DbMerge.Client.Errors;
using DbMerge.Deployment.ConstraintValidation;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.Invitations;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Constraints;

/// <summary>
/// Batched validation and trusting of untrusted constraints (issue 5), on the migrated test database, where the
/// constraints of migrations 0036–0038 are untrusted as after a real deploy.
/// </summary>
[Collection(WriterLatencyCollection.Name)]
public sealed class ConstraintValidationTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const string ExactlyOneTarget = "CK_app_Invitation_ExactlyOneTarget";
    private const string OrganizationFk = "FK_app_Invitation_OrganizationId_app_Organization";

    private CancellationToken Ct => TestContext.Current.CancellationToken;

    private ConstraintValidator Validator => new(ConnectionString);

    /// <summary>
    /// Given <paramref name="goodRows"/> valid invitations (alternating channel / organization targets) and, at known
    /// positions, rows violating CK_app_Invitation_ExactlyOneTarget (both or neither target) and the organization FK.
    /// Returns the invitation ids of each kind of violation.
    /// </summary>
    private async Task<(IReadOnlyList<int> TargetViolations, IReadOnlyList<int> FkViolations)> GivenInvitationsAsync(int goodRows, int every = 97)
    {
        var w = await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        await ExecAsync($"""
            INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode, SenderUserId)
            SELECT CASE WHEN n.i % 2 = 0 THEN {w.Channel} END, CASE WHEN n.i % 2 = 1 THEN {w.Organization} END,
                   CONCAT(N'user', n.i, N'@example.org'), 'view', {w.Dave}
            FROM (SELECT TOP (@rows) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i
                  FROM sys.all_objects AS a CROSS JOIN sys.all_objects AS b) AS n;
            """, ("@rows", goodRows));
        // Violations spread through the key range: every 97th id gets both targets or neither.
        await InvitationSql.PlantBypassingAsync(sql => ExecAsync(sql), ExactlyOneTarget, $"""
            UPDATE app.Invitation
               SET ChannelId = CASE WHEN InvitationId % 2 = 0 THEN {w.Channel} END,
                   OrganizationId = CASE WHEN InvitationId % 2 = 0 THEN {w.Organization} END
             WHERE InvitationId % {every} = 0;
            """);
        await InvitationSql.PlantBypassingAsync(sql => ExecAsync(sql), OrganizationFk, $"""
            UPDATE app.Invitation SET ChannelId = NULL, OrganizationId = 2000000000 + InvitationId
             WHERE InvitationId % {every * 3 + 1} = 0 AND InvitationId % {every} <> 0;
            """);
        var target = (await RowsAsync($"SELECT InvitationId FROM app.Invitation WHERE InvitationId % {every} = 0 ORDER BY InvitationId;"))
            .Select(r => (int)r["InvitationId"]!).ToList();
        var fk = (await RowsAsync($"SELECT InvitationId FROM app.Invitation WHERE OrganizationId >= 2000000000 ORDER BY InvitationId;"))
            .Select(r => (int)r["InvitationId"]!).ToList();
        Output.WriteLine($"planted {target.Count} target violations and {fk.Count} FK violations among {goodRows} rows");
        return (target, fk);
    }

    private async Task<IReadOnlyList<long>> RecordedKeysAsync(string constraint) =>
        (await RowsAsync("""
            SELECT v.KeyValue FROM dbmerge.ConstraintViolation AS v
            JOIN dbmerge.ConstraintValidation AS cv ON cv.ConstraintValidationId = v.ConstraintValidationId
            WHERE cv.SchemaName = N'app' AND cv.ConstraintName = @c ORDER BY v.KeyValue;
            """, ("@c", constraint))).Select(r => (long)r["KeyValue"]!).ToList();

    private async Task DumpProgressAsync() =>
        Dump("dbmerge.ConstraintValidation", await RowsAsync(
            "SELECT ConstraintName, Status, LastKey, RowsChecked, ViolationCount, StartedAt, FinishedAt, TrustedAt FROM dbmerge.ConstraintValidation;"));

    [Fact]
    public async Task Validation_finds_exactly_the_violating_rows_of_a_check_and_of_a_foreign_key()
    {
        var (targetViolations, fkViolations) = await GivenInvitationsAsync(2_000);

        var check = await Validator.ValidateAsync(new ConstraintName("app", ExactlyOneTarget), new ConstraintValidationOptions { BatchSize = 150 }, cancellationToken: Ct);
        var fk = await Validator.ValidateAsync(new ConstraintName("app", OrganizationFk), new ConstraintValidationOptions { BatchSize = 150 }, cancellationToken: Ct);

        await DumpProgressAsync();
        Assert.NotEmpty(targetViolations);
        Assert.True(fkViolations.Count >= 2, $"the plant made {fkViolations.Count} FK violations; the test needs at least 2");
        Assert.True(check.Completed);
        Assert.True(fk.Completed);
        Assert.Equal(targetViolations.Select(i => (long)i), await RecordedKeysAsync(ExactlyOneTarget));
        Assert.Equal(fkViolations.Select(i => (long)i), await RecordedKeysAsync(OrganizationFk));
        Assert.Equal(targetViolations.Count, check.ViolationCount);
        var total = await ScalarAsync<long>("SELECT COUNT_BIG(*) FROM app.Invitation;");
        Assert.Equal(total, check.Last.RowsChecked);
        // The CHECK's JSON holds the two columns its definition names (found in the definition, not in a DMV), the FK's its column.
        const string FirstRowValues = """
            SELECT TOP (1) v.RowValues FROM dbmerge.ConstraintViolation AS v
            JOIN dbmerge.ConstraintValidation AS cv ON cv.ConstraintValidationId = v.ConstraintValidationId
            WHERE cv.ConstraintName = @c ORDER BY v.KeyValue;
            """;
        var checkJson = await ScalarAsync<string>(FirstRowValues, ("@c", ExactlyOneTarget));
        Output.WriteLine($"first CHECK violation: {checkJson}");
        Assert.Contains("\"ChannelId\"", checkJson, StringComparison.Ordinal);
        Assert.Contains("\"OrganizationId\"", checkJson, StringComparison.Ordinal);
        var fkJson = await ScalarAsync<string>(FirstRowValues, ("@c", OrganizationFk));
        Output.WriteLine($"first FK violation: {fkJson}");
        Assert.Contains("\"OrganizationId\"", fkJson, StringComparison.Ordinal);
        var shown = await Validator.GetViolationsAsync(new ConstraintName(null, OrganizationFk), top: 2, Ct);
        Assert.Equal(2, shown.Count);
        Assert.Equal(fkViolations.Take(2).Select(i => (long)i), shown.Select(v => v.KeyValue));
        Assert.All(shown, v => Assert.Equal("InvitationId", v.KeyColumn));
    }

    [Fact]
    public async Task Validation_resumes_after_being_stopped_half_way_and_records_no_row_twice()
    {
        var (targetViolations, _) = await GivenInvitationsAsync(3_000);
        var name = new ConstraintName("app", ExactlyOneTarget);
        var seen = new List<ConstraintProgress>();

        var first = await Validator.ValidateAsync(name, new ConstraintValidationOptions { BatchSize = 500, MaxBatches = 3 },
            new Progress(seen.Add), Ct);
        await DumpProgressAsync();
        Assert.False(first.Completed);
        Assert.Equal(3, first.Batches);
        Assert.Equal(1_500, first.Last.RowsChecked);
        var states = await ConstraintValidator.GetStatesAsync(ConnectionString, Ct);
        var state = Assert.Single(states, s => s.ConstraintName == ExactlyOneTarget);
        Assert.Equal(ConstraintValidationState.InProgress, state.State);
        Assert.Equal(first.Last.LastKey, state.LastKey);
        Output.WriteLine($"after stop: {state.Describe()}");

        var second = await Validator.ValidateAsync(name, new ConstraintValidationOptions { BatchSize = 500 }, cancellationToken: Ct);
        await DumpProgressAsync();
        Assert.True(second.Completed);
        Assert.Equal(await ScalarAsync<long>("SELECT COUNT_BIG(*) FROM app.Invitation;"), second.Last.RowsChecked);
        Assert.Equal(targetViolations.Select(i => (long)i), await RecordedKeysAsync(ExactlyOneTarget));
        Assert.Equal(3, seen.Count);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.RowsChecked < p.Second.RowsChecked));
        Assert.All(seen, p => Assert.True(p.EstimatedTotalRows > 0));
    }

    [Fact]
    public async Task A_restart_recomputes_the_violations_after_the_data_is_fixed()
    {
        await GivenInvitationsAsync(1_000);
        var name = new ConstraintName("app", ExactlyOneTarget);
        var before = await Validator.ValidateAsync(name, cancellationToken: Ct);
        Assert.True(before.ViolationCount > 0);

        // Fix the data: keep the organization when both are set; give a channel to rows with neither.
        await ExecAsync("""
            UPDATE app.Invitation SET ChannelId = NULL WHERE ChannelId IS NOT NULL AND OrganizationId IS NOT NULL;
            UPDATE app.Invitation SET ChannelId = (SELECT MIN(ChannelId) FROM app.Channel) WHERE ChannelId IS NULL AND OrganizationId IS NULL;
            """);
        var resumed = await Validator.ValidateAsync(name, cancellationToken: Ct);
        Assert.Equal(before.ViolationCount, resumed.ViolationCount); // a finished run is not re-read without --restart
        var restarted = await Validator.ValidateAsync(name, new ConstraintValidationOptions { Restart = true }, cancellationToken: Ct);

        await DumpProgressAsync();
        Assert.True(restarted.Completed);
        Assert.Equal(0, restarted.ViolationCount);
        Assert.Empty(await RecordedKeysAsync(ExactlyOneTarget));
    }

    [Fact]
    public async Task Trust_refuses_while_violations_remain_and_succeeds_after_they_are_fixed()
    {
        await UseOwnDatabaseAsync(); // trusts CK_app_Invitation_ExactlyOneTarget: the class's other tests expect it untrusted
        await GivenInvitationsAsync(1_000);
        var name = new ConstraintName("app", ExactlyOneTarget);
        var neverValidated = await Assert.ThrowsAnyAsync<DbMergeException>(() => Validator.TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct));
        Assert.Equal(51406, neverValidated.ErrorNumber);

        await Validator.ValidateAsync(name, cancellationToken: Ct);
        var violationsRemain = await Assert.ThrowsAnyAsync<DbMergeException>(() => Validator.TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct));
        Assert.Equal(51405, violationsRemain.ErrorNumber);
        Assert.Equal(1, await IsNotTrustedAsync());

        await ExecAsync("""
            UPDATE app.Invitation SET ChannelId = NULL WHERE ChannelId IS NOT NULL AND OrganizationId IS NOT NULL;
            UPDATE app.Invitation SET ChannelId = (SELECT MIN(ChannelId) FROM app.Channel) WHERE ChannelId IS NULL AND OrganizationId IS NULL;
            """);
        await Validator.ValidateAsync(name, new ConstraintValidationOptions { Restart = true }, cancellationToken: Ct);
        var trusted = await Validator.TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct);

        await DumpProgressAsync();
        Assert.True(trusted.IsTrusted);
        Assert.False(trusted.AlreadyTrusted);
        Assert.Equal(0, await IsNotTrustedAsync());
        var untrusted = await ConstraintValidator.GetStatesAsync(ConnectionString, Ct);
        Assert.Contains(untrusted, s => s.ConstraintName == OrganizationFk); // the list still works: the FK is still untrusted
        Assert.DoesNotContain(untrusted, s => s.ConstraintName == ExactlyOneTarget);
        Assert.True((await Validator.TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct)).AlreadyTrusted);
        var alreadyTrusted = await Assert.ThrowsAnyAsync<DbMergeException>(() => Validator.ValidateAsync(name, cancellationToken: Ct));
        Assert.Equal(51401, alreadyTrusted.ErrorNumber);
    }

    [Fact]
    public async Task Trust_gives_up_on_its_lock_timeout_while_another_transaction_holds_the_table()
    {
        await GivenInvitationsAsync(100, every: 1_000_000); // no violations
        var name = new ConstraintName("app", ExactlyOneTarget);
        await Validator.ValidateAsync(name, cancellationToken: Ct);
        await using var blocker = await OpenAsync();
        await using var transaction = (SqlTransaction)await blocker.BeginTransactionAsync(Ct);
        await using (var hold = new SqlCommand("UPDATE TOP (1) app.Invitation SET RespondedAt = RespondedAt;", blocker, transaction))
        {
            await hold.ExecuteNonQueryAsync(Ct);
        }

        var stopwatch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<SqlException>(() => Validator.TrustAsync(name, TimeSpan.FromMilliseconds(500), cancellationToken: Ct));
        Output.WriteLine($"trust gave up after {stopwatch.ElapsedMilliseconds} ms: {error.Number} {error.Message}");
        Assert.True(SqlErrors.IsLockTimeout(error));
        await transaction.RollbackAsync(Ct);
        Assert.Equal(1, await IsNotTrustedAsync());
    }

    [Fact]
    public async Task A_writer_looping_on_the_table_during_validation_is_never_blocked_long()
    {
        await GivenInvitationsAsync(60_000);
        var w = await RowsAsync("SELECT TOP (1) OrganizationId FROM app.Organization;");
        var organization = (int)w[0]["OrganizationId"]!;
        var maxId = await ScalarAsync<int>("SELECT MAX(InvitationId) FROM app.Invitation;");
        var random = new Random(5);

        // Given a writer inserting and updating invitations (rows the validation reads) in a loop
        await using var writer = await WriterProbe.StartAsync(ConnectionString, async (connection, _) =>
        {
            await using (var insert = new SqlCommand(
                "INSERT INTO app.Invitation (OrganizationId, Email, ShareMode) VALUES (@o, N'writer@example.org', 'view');", connection))
            {
                insert.Parameters.AddWithValue("@o", organization);
                await insert.ExecuteNonQueryAsync(CancellationToken.None);
            }

            await using var update = new SqlCommand("UPDATE app.Invitation SET RespondedAt = SYSUTCDATETIME() WHERE InvitationId = @i;", connection);
            update.Parameters.AddWithValue("@i", random.Next(1, maxId));
            await update.ExecuteNonQueryAsync(CancellationToken.None);
        });

        // When the whole table is validated in batches
        var outcome = await Validator.ValidateAsync(new ConstraintName("app", ExactlyOneTarget), new ConstraintValidationOptions { BatchSize = 2_000 }, cancellationToken: Ct);
        var stats = await writer.StopAsync();

        // Then the writer kept writing and never waited longer than the DESIGN target (100 ms) plus the stated CI margin:
        // a validation holding a table lock, or reading the whole table in one statement under lock, blocks it for the run.
        Output.WriteLine($"validation: {outcome.Batches} batches, {outcome.Last.RowsChecked} rows in {outcome.Elapsed.TotalMilliseconds:F0} ms");
        Assert.True(outcome.Completed);
        Assert.True(outcome.Batches >= 30, $"only {outcome.Batches} batches: the writer overlapped too little of the validation to measure it");
        stats.AssertNeverBlockedLongerThan(WriterProbe.DmlBoundMs, Output, minimumWrites: 10);
    }

    [Fact]
    public async Task Validation_reports_unknown_trusted_and_out_of_range_requests_with_their_numbers()
    {
        await AssertNumberAsync(51400, () => Validator.ValidateAsync(new ConstraintName("app", "CK_does_not_exist"), cancellationToken: Ct));
        await AssertNumberAsync(51401, () => Validator.ValidateAsync(new ConstraintName("app", "CK_app_User_Email_NotBlank"), cancellationToken: Ct));
        await AssertNumberAsync(51400, () => Validator.TrustAsync(new ConstraintName("app", "CK_does_not_exist"), TimeSpan.FromSeconds(1), cancellationToken: Ct));

        foreach (var (sql, number) in new[]
                 {
                     ($"EXEC dbmerge.Constraint_ValidateBatch @SchemaName = N'app', @ConstraintName = N'{ExactlyOneTarget}', @BatchSize = 0;", 51403),
                     ($"EXEC dbmerge.Constraint_ValidateBatch @SchemaName = NULL, @ConstraintName = N'{ExactlyOneTarget}';", 51408),
                     ($"EXEC dbmerge.Constraint_Trust @SchemaName = N'app', @ConstraintName = N'{ExactlyOneTarget}', @LockTimeoutMs = 0;", 51407),
                 })
        {
            var error = await Assert.ThrowsAsync<SqlException>(() => ExecAsync(sql));
            Assert.Equal(number, error.Number);
        }
    }

    [Fact]
    public async Task Validation_refuses_a_table_without_a_unique_single_integer_clustered_key_and_non_operators()
    {
        // A scratch database migrated like production, with a heap carrying an untrusted CHECK.
        var scratch = await Fixture.CreateScratchDatabaseAsync("inv_key", Ct);
        await new DbMerge.Deployment.Migrator(new DbMerge.Deployment.MigratorOptions { Layout = DbMerge.Schema.RepositoryLayout.Discover(AppContext.BaseDirectory), Log = Output.WriteLine })
            .MigrateAsync(scratch, Ct);
        await using (var connection = new SqlConnection(scratch))
        {
            await connection.OpenAsync(Ct);
            foreach (var sql in new[]
                     {
                         "CREATE TABLE dbo.HeapProbe (Id int NOT NULL, Amount int NOT NULL);",
                         "ALTER TABLE dbo.HeapProbe WITH NOCHECK ADD CONSTRAINT CK_dbo_HeapProbe_Amount CHECK (Amount > 0);",
                         "CREATE TABLE dbo.CompositeProbe (A int NOT NULL, B int NOT NULL, Amount int NOT NULL, CONSTRAINT PK_dbo_CompositeProbe PRIMARY KEY CLUSTERED (A, B));",
                         "ALTER TABLE dbo.CompositeProbe WITH NOCHECK ADD CONSTRAINT CK_dbo_CompositeProbe_Amount CHECK (Amount > 0);",
                         "CREATE USER ProbeUser WITHOUT LOGIN;",
                         "GRANT EXECUTE ON dbmerge.Constraint_ValidateBatch TO ProbeUser;",
                     })
            {
                await using var command = new SqlCommand(sql, connection);
                await command.ExecuteNonQueryAsync(Ct);
            }
        }

        var validator = new ConstraintValidator(scratch);
        var heap = await AssertNumberAsync(51402, () => validator.ValidateAsync(new ConstraintName("dbo", "CK_dbo_HeapProbe_Amount"), cancellationToken: Ct));
        Assert.Contains("HeapProbe", heap.Message, StringComparison.Ordinal);
        await AssertNumberAsync(51402, () => validator.ValidateAsync(new ConstraintName("dbo", "CK_dbo_CompositeProbe_Amount"), cancellationToken: Ct));

        await using (var connection = new SqlConnection(scratch))
        {
            await connection.OpenAsync(Ct);
            await using var command = new SqlCommand("""
                EXECUTE AS USER = N'ProbeUser';
                EXEC dbmerge.Constraint_ValidateBatch @SchemaName = N'app', @ConstraintName = N'CK_app_Invitation_ExactlyOneTarget';
                """, connection);
            var error = await Assert.ThrowsAsync<SqlException>(() => command.ExecuteNonQueryAsync(Ct));
            Assert.Equal(51404, error.Number);
        }
    }

    [Fact]
    public async Task The_states_list_every_untrusted_constraint_of_the_invitation_change()
    {
        var states = await ConstraintValidator.GetStatesAsync(ConnectionString, Ct);
        foreach (var s in states)
        {
            Output.WriteLine($"{s.QualifiedName}: {s.Describe()}");
        }

        Assert.Contains(states, s => s.ConstraintName == ExactlyOneTarget && s.ConstraintType == "CHECK" && s.State == ConstraintValidationState.NeverRun);
        Assert.Contains(states, s => s.ConstraintName == OrganizationFk && s.ConstraintType == "FOREIGN KEY");
        Assert.Contains(states, s => s.ConstraintName == "CK_app_Invitation_ShareMode_ForTarget");
    }

    private async Task<int> IsNotTrustedAsync() =>
        await ScalarAsync<int>("SELECT CONVERT(int, is_not_trusted) FROM sys.check_constraints WHERE name = @n;", ("@n", ExactlyOneTarget));

    private async Task<DbMergeException> AssertNumberAsync<T>(int number, Func<Task<T>> call)
    {
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(async () => await call());
        Output.WriteLine($"refused as expected: {error.ErrorNumber} {error.Message}");
        Assert.Equal(number, error.ErrorNumber);
        return error;
    }

    private sealed class Progress(Action<ConstraintProgress> report) : IProgress<ConstraintProgress>
    {
        public void Report(ConstraintProgress value) => report(value);
    }
}
