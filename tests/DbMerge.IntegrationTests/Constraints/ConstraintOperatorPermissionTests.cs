using DbMerge.Client.Errors;
using DbMerge.Deployment.ConstraintValidation;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.Invitations;
using DbMerge.Runner;
using DbMerge.Runner.Cli;
using Microsoft.Data.SqlClient;
using Xunit;

namespace DbMerge.IntegrationTests.Constraints;

/// <summary>
/// Constraint validation as a minimally privileged operator (README "Non-blocking constraint validation", required
/// permissions): a login whose database user is a member of DbMergeOperator only, plus the per-table grants the test
/// names. It tells the truth: a predicate it cannot read is a numbered error (51411, 51412, 51413), never "done, 0
/// violations", and no VIEW DATABASE STATE is needed for the row estimate (no error 297). Each test has a database of
/// its own (it changes permissions and trust state) and a login of its own, dropped at the end.
/// </summary>
public sealed class ConstraintOperatorPermissionTests(SqlServerFixture fixture, ITestOutputHelper output) : SqlServerTest(fixture, output)
{
    private const string ExactlyOneTarget = "CK_app_Invitation_ExactlyOneTarget";
    private const string OrganizationFk = "FK_app_Invitation_OrganizationId_app_Organization";

    private readonly List<string> _logins = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public override async ValueTask DisposeAsync()
    {
        foreach (var login in _logins)
        {
            SqlConnection.ClearAllPools();
            await using var connection = new SqlConnection(Fixture.MasterConnectionString);
            await connection.OpenAsync(CancellationToken.None);
            await using var drop = new SqlCommand(
                "IF SUSER_ID(@login) IS NOT NULL BEGIN DECLARE @sql nvarchar(300) = N'DROP LOGIN ' + QUOTENAME(@login); EXEC sys.sp_executesql @stmt = @sql; END;",
                connection);
            drop.Parameters.AddWithValue("@login", login);
            await drop.ExecuteNonQueryAsync(CancellationToken.None);
        }

        await base.DisposeAsync();
    }

    /// <summary>
    /// Given this test's own migrated database with valid invitations and, when asked, one row violating the CHECK and
    /// one violating the organization foreign key (planted with the constraint disabled, which leaves it untrusted).
    /// </summary>
    private async Task<(int CheckViolation, int FkViolation)> GivenInvitationsAsync(bool withViolations)
    {
        await UseOwnDatabaseAsync();
        var w = await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        await ExecAsync($"""
            INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode, SenderUserId)
            SELECT CASE WHEN n.i % 2 = 0 THEN {w.Channel} END, CASE WHEN n.i % 2 = 1 THEN {w.Organization} END,
                   CONCAT(N'user', n.i, N'@example.org'), 'view', {w.Dave}
            FROM (SELECT TOP (40) ROW_NUMBER() OVER (ORDER BY (SELECT NULL)) AS i FROM sys.all_objects) AS n;
            """);
        if (!withViolations)
        {
            return (0, 0);
        }

        var check = await ScalarAsync<int>("SELECT MIN(InvitationId) + 3 FROM app.Invitation;");
        var fk = await ScalarAsync<int>("SELECT MIN(InvitationId) + 8 FROM app.Invitation;");
        await InvitationSql.PlantBypassingAsync(sql => ExecAsync(sql), ExactlyOneTarget,
            $"UPDATE app.Invitation SET ChannelId = {w.Channel}, OrganizationId = {w.Organization} WHERE InvitationId = {check};");
        await InvitationSql.PlantBypassingAsync(sql => ExecAsync(sql), OrganizationFk,
            $"UPDATE app.Invitation SET ChannelId = NULL, OrganizationId = 2000000001 WHERE InvitationId = {fk};");
        return (check, fk);
    }

    /// <summary>
    /// A new login mapped to a user of this test's database that is a member of DbMergeOperator, with exactly
    /// <paramref name="grants"/> (each "PERMISSION ON OBJECT::schema.table"), and proven minimal: not db_owner, no
    /// VIEW DATABASE STATE. Returns its connection string (no pooling, so the login can be dropped at the end).
    /// </summary>
    private async Task<string> OperatorAsync(params string[] grants)
    {
        var login = "DbMergeTestOperator_" + Guid.NewGuid().ToString("N")[..12];
        var password = "Op-" + Guid.NewGuid().ToString("N") + "-aA1!";
        await using (var master = new SqlConnection(Fixture.MasterConnectionString))
        {
            await master.OpenAsync(Ct);
            await using var create = new SqlCommand($"CREATE LOGIN {Quote(login)} WITH PASSWORD = N'{password}', CHECK_POLICY = OFF;", master);
            await create.ExecuteNonQueryAsync(Ct);
        }

        _logins.Add(login);
        await ExecAsync($"CREATE USER {Quote(login)} FOR LOGIN {Quote(login)}; ALTER ROLE DbMergeOperator ADD MEMBER {Quote(login)};" +
                        string.Concat(grants.Select(g => $" GRANT {g} TO {Quote(login)};")));
        var connectionString = new SqlConnectionStringBuilder(ConnectionString)
        {
            IntegratedSecurity = false,
            UserID = login,
            Password = password,
            Pooling = false,
        }.ConnectionString;

        await using var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using var probe = new SqlCommand(
            "SELECT CONCAT(IS_ROLEMEMBER(N'DbMergeOperator'), ' ', IS_ROLEMEMBER(N'db_owner'), ' ', " +
            "ISNULL(HAS_PERMS_BY_NAME(NULL, N'DATABASE', N'VIEW DATABASE STATE'), 0));", connection);
        var roles = (string)(await probe.ExecuteScalarAsync(Ct))!;
        Output.WriteLine($"operator {login}: DbMergeOperator db_owner VIEW-DATABASE-STATE = {roles}; grants: {string.Join("; ", grants)}");
        Assert.Equal("1 0 0", roles);
        return connectionString;
    }

    private static string Quote(string name) => "[" + name.Replace("]", "]]", StringComparison.Ordinal) + "]";

    private async Task<string> StatusAsync(string constraint) =>
        await ScalarAsync<string>("SELECT ISNULL((SELECT CONCAT(Status, ' ', RowsChecked, ' ', ViolationCount) FROM dbmerge.ConstraintValidation WHERE SchemaName = N'app' AND ConstraintName = @c), N'none');",
            ("@c", constraint)) ?? "none";

    private static async Task<CliRun> CliAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var context = new CliContext(stdout, stderr, false, environment: _ => null);
        var exit = await DbMergeCli.InvokeAsync(args, context, Ct);
        return new CliRun(exit, stdout.ToString(), stderr.ToString());
    }

    private sealed record CliRun(int ExitCode, string Out, string Error);

    [Fact]
    public async Task A_plain_operator_with_SELECT_and_VIEW_DEFINITION_on_the_table_validates_a_check_constraint_and_needs_no_VIEW_DATABASE_STATE()
    {
        // Given one row violating the CHECK, and an operator with SELECT and VIEW DEFINITION on app.Invitation only
        var (violation, _) = await GivenInvitationsAsync(withViolations: true);
        var op = await OperatorAsync("SELECT ON OBJECT::app.Invitation", "VIEW DEFINITION ON OBJECT::app.Invitation");
        var rows = await ScalarAsync<long>("SELECT COUNT_BIG(*) FROM app.Invitation;");

        // When the operator validates it
        var outcome = await new ConstraintValidator(op).ValidateAsync(new ConstraintName("app", ExactlyOneTarget),
            new ConstraintValidationOptions { BatchSize = 7 }, cancellationToken: Ct);

        // Then every row was read and exactly the planted row is recorded; the estimate came without VIEW DATABASE STATE
        Output.WriteLine($"progress: {await StatusAsync(ExactlyOneTarget)}, estimate {outcome.Last.EstimatedTotalRows}");
        Assert.True(outcome.Completed);
        Assert.Equal(rows, outcome.Last.RowsChecked);
        Assert.Equal(1, outcome.ViolationCount);
        Assert.True(outcome.Last.EstimatedTotalRows > 0, $"estimate {outcome.Last.EstimatedTotalRows?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "NULL"}");

        // And the recorded row names the columns of the definition (read from the definition: the operator may not
        // SELECT sys.sql_expression_dependencies, error 229)
        var recorded = (await new ConstraintValidator(op).GetViolationsAsync(new ConstraintName("app", ExactlyOneTarget), cancellationToken: Ct)).Single();
        Output.WriteLine($"recorded: {recorded.KeyValue} {recorded.RowValues}");
        Assert.Equal(violation, recorded.KeyValue);
        Assert.Contains("\"ChannelId\"", recorded.RowValues, StringComparison.Ordinal);
        Assert.Contains("\"OrganizationId\"", recorded.RowValues, StringComparison.Ordinal);

        // And the console works for the same operator: list (exit 0) and violations (exit 1, the planted key)
        var list = await CliAsync("constraints", "list", "--connection", op);
        Output.WriteLine(list.Out + list.Error);
        Assert.Equal(ExitCodes.Success, list.ExitCode);
        Assert.Contains(ExactlyOneTarget, list.Out, StringComparison.Ordinal);
        var shown = await CliAsync("constraints", "violations", "--constraint", $"app.{ExactlyOneTarget}", "--connection", op, "--json");
        Assert.Equal(ExitCodes.Findings, shown.ExitCode);
        Assert.Contains($"\"keyValue\":{violation}", shown.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_VIEW_DEFINITION_a_check_constraint_is_refused_with_51411_and_never_reported_done()
    {
        // Given a violating row, and an operator who may SELECT the table but not see the CHECK's definition
        await GivenInvitationsAsync(withViolations: true);
        var op = await OperatorAsync("SELECT ON OBJECT::app.Invitation");

        // When it validates, then it is refused with 51411 and no progress claims the constraint was checked
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => new ConstraintValidator(op).ValidateAsync(
            new ConstraintName("app", ExactlyOneTarget), cancellationToken: Ct));
        Output.WriteLine($"{error.ErrorNumber}: {error.Message}; progress: {await StatusAsync(ExactlyOneTarget)}");
        Assert.Equal(51411, error.ErrorNumber);
        Assert.Equal("none", await StatusAsync(ExactlyOneTarget));

        // And the console says so with exit 4, not "done, 0 violations"
        var run = await CliAsync("constraints", "validate", "--constraint", $"app.{ExactlyOneTarget}", "--connection", op);
        Output.WriteLine(run.Out + run.Error);
        Assert.Equal(ExitCodes.Refused, run.ExitCode);
        Assert.Contains("error 51411", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("0 violation(s).", run.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_foreign_key_whose_referenced_table_the_operator_cannot_see_is_refused_with_51412_until_it_may_read_it()
    {
        // Given a row violating the organization FK, and an operator with rights on app.Invitation but none on app.Organization
        var (_, violation) = await GivenInvitationsAsync(withViolations: true);
        var op = await OperatorAsync("SELECT ON OBJECT::app.Invitation", "VIEW DEFINITION ON OBJECT::app.Invitation");
        var name = new ConstraintName("app", OrganizationFk);

        // When it validates the FK, then it is refused with 51412 and nothing is recorded
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => new ConstraintValidator(op).ValidateAsync(name, cancellationToken: Ct));
        Output.WriteLine($"{error.ErrorNumber}: {error.Message}");
        Assert.Equal(51412, error.ErrorNumber);
        Assert.Equal("none", await StatusAsync(OrganizationFk));

        // And once it may read app.Organization, the same call finds the planted row
        await ExecAsync($"GRANT SELECT ON OBJECT::app.Organization TO {Quote(new SqlConnectionStringBuilder(op).UserID)};");
        var outcome = await new ConstraintValidator(op).ValidateAsync(name, cancellationToken: Ct);
        Assert.True(outcome.Completed);
        Assert.Equal(1, outcome.ViolationCount);
        Assert.Equal(violation, await ScalarAsync<long>(
            "SELECT v.KeyValue FROM dbmerge.ConstraintViolation AS v JOIN dbmerge.ConstraintValidation AS cv ON cv.ConstraintValidationId = v.ConstraintValidationId WHERE cv.ConstraintName = @c;",
            ("@c", OrganizationFk)));
    }

    [Fact]
    public async Task Without_SELECT_on_the_table_validation_is_refused_with_51413_naming_the_permission()
    {
        await GivenInvitationsAsync(withViolations: false);
        var op = await OperatorAsync("VIEW DEFINITION ON OBJECT::app.Invitation");

        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => new ConstraintValidator(op).ValidateAsync(
            new ConstraintName("app", ExactlyOneTarget), cancellationToken: Ct));

        Output.WriteLine($"{error.ErrorNumber}: {error.Message}");
        Assert.Equal(ErrorRegistry.ConstraintPermissionMissing, error.ErrorNumber);
        Assert.Contains("lacks SELECT on table app.Invitation", error.Message, StringComparison.Ordinal);
        Assert.Equal("none", await StatusAsync(ExactlyOneTarget));
    }

    [Fact]
    public async Task Trusting_as_an_operator_needs_ALTER_on_the_table_51413_and_then_succeeds()
    {
        // Given a fully validated CHECK without violations, validated by an operator who may not ALTER the table
        await GivenInvitationsAsync(withViolations: false);
        var op = await OperatorAsync("SELECT ON OBJECT::app.Invitation", "VIEW DEFINITION ON OBJECT::app.Invitation");
        var name = new ConstraintName("app", ExactlyOneTarget);
        Assert.True((await new ConstraintValidator(op).ValidateAsync(name, cancellationToken: Ct)).Completed);

        // When it trusts it, then it is refused with 51413 and the constraint stays untrusted
        var error = await Assert.ThrowsAnyAsync<DbMergeException>(() => new ConstraintValidator(op).TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct));
        Output.WriteLine($"{error.ErrorNumber}: {error.Message}");
        Assert.Equal(ErrorRegistry.ConstraintPermissionMissing, error.ErrorNumber);
        Assert.Contains("lacks ALTER", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await ScalarAsync<int>("SELECT CONVERT(int, is_not_trusted) FROM sys.check_constraints WHERE name = @c;", ("@c", ExactlyOneTarget)));

        // And with ALTER granted, the same call trusts it
        await ExecAsync($"GRANT ALTER ON OBJECT::app.Invitation TO {Quote(new SqlConnectionStringBuilder(op).UserID)};");
        var trusted = await new ConstraintValidator(op).TrustAsync(name, TimeSpan.FromSeconds(5), cancellationToken: Ct);
        Assert.True(trusted.IsTrusted);
        Assert.False(trusted.AlreadyTrusted);
        Assert.Equal(0, await ScalarAsync<int>("SELECT CONVERT(int, is_not_trusted) FROM sys.check_constraints WHERE name = @c;", ("@c", ExactlyOneTarget)));
    }

    [Fact]
    public async Task Validating_every_constraint_as_an_operator_reports_the_unreadable_one_and_validates_the_others()
    {
        // Given the CHECK violation and the FK violation, and an operator who cannot read app.Organization
        await GivenInvitationsAsync(withViolations: true);
        var op = await OperatorAsync("SELECT ON OBJECT::app.Invitation", "VIEW DEFINITION ON OBJECT::app.Invitation");

        // When it validates every untrusted constraint it can see
        var run = await CliAsync("constraints", "validate", "--connection", op, "--json");
        Output.WriteLine(run.Out + run.Error);

        // Then the FK is reported with 51412 (skipped, not "done"), the CHECKs are validated, and violations win the exit code
        Assert.Contains("error 51412", run.Error, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Findings, run.ExitCode);
        Assert.Equal("none", await StatusAsync(OrganizationFk));
        Assert.StartsWith("done ", await StatusAsync(ExactlyOneTarget), StringComparison.Ordinal);
    }
}
