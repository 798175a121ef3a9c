using DbMerge.Deployment.ConstraintValidation;
using DbMerge.IntegrationTests.Infrastructure;
using DbMerge.IntegrationTests.Invitations;
using DbMerge.IntegrationTests.OwnTransaction;
using Xunit;

namespace DbMerge.IntegrationTests.Constraints;

/// <summary>
/// dbmerge.Constraint_ValidateBatch and dbmerge.Constraint_Trust own their transaction: inside a caller's, or under
/// IMPLICIT_TRANSACTIONS ON, they refuse with 51410 and leave the caller's session alone (validation's shared locks, or trust's Sch-M lock, are never held until the caller commits).
/// </summary>
public sealed class ConstraintOpenTransactionTests(SqlServerFixture fixture, ITestOutputHelper output) : CallerTransactionTest(fixture, output)
{
    private const string ExactlyOneTarget = "CK_app_Invitation_ExactlyOneTarget";

    private const string Snapshot =
        "SELECT CONCAT('progress ', ConstraintName, ' ', Status, ' ', LastKey, ' ', RowsChecked, ' ', ViolationCount, ' ', " +
        "CONVERT(varchar(30), UpdatedAt, 126), ' ', CONVERT(varchar(30), TrustedAt, 126)) AS R FROM dbmerge.ConstraintValidation " +
        "UNION ALL SELECT CONCAT('violation ', ConstraintViolationId) FROM dbmerge.ConstraintViolation " +
        "UNION ALL SELECT CONCAT('check ', name, ' untrusted=', is_not_trusted) FROM sys.check_constraints WHERE name = N'" + ExactlyOneTarget + "' ORDER BY R;";

    public static TheoryData<string, CallerMode> Procedures => Cases("dbmerge.Constraint_ValidateBatch", "dbmerge.Constraint_Trust");

    [Theory]
    [MemberData(nameof(Procedures))]
    public async Task A_constraint_procedure_called_inside_a_callers_transaction_or_with_implicit_transactions_refuses_with_51410_and_leaves_the_callers_work_alone(
        string procedure, CallerMode mode)
    {
        // Given valid invitations, and CK_app_Invitation_ExactlyOneTarget (untrusted after the migration) fully
        // validated without violations, so a restart of the validation and the trust would both succeed outside a transaction.
        // The trust case takes a database of its own: were the refusal missing, the trust would succeed and leave the
        // class database's constraint trusted, failing this class's later cases for the wrong reason (51401).
        if (procedure == "dbmerge.Constraint_Trust")
        {
            await UseOwnDatabaseAsync();
        }

        var w = await InvitationWorld.CreateAsync(sql => ScalarAsync<int>(sql)!);
        await ExecAsync(
            "INSERT INTO app.Invitation (ChannelId, OrganizationId, Email, ShareMode, SenderUserId) VALUES (@c, NULL, N'a@example.org', 'view', @s), (NULL, @o, N'b@example.org', 'admin', @s);",
            ("@c", w.Channel), ("@o", w.Organization), ("@s", w.Dave));
        var validated = await new ConstraintValidator(ConnectionString).ValidateAsync(
            new ConstraintName("app", ExactlyOneTarget), new ConstraintValidationOptions { BatchSize = 100 }, cancellationToken: Ct);
        Assert.True(validated.Completed);
        var (call, parameters) = procedure switch
        {
            "dbmerge.Constraint_ValidateBatch" => (
                "EXEC dbmerge.Constraint_ValidateBatch @SchemaName = @Schema, @ConstraintName = @Constraint, @BatchSize = 100, @Restart = 1;",
                new (string, object?)[] { ("@Schema", "app"), ("@Constraint", ExactlyOneTarget) }),
            "dbmerge.Constraint_Trust" => (
                "EXEC dbmerge.Constraint_Trust @SchemaName = @Schema, @ConstraintName = @Constraint, @LockTimeoutMs = 1000;",
                new (string, object?)[] { ("@Schema", "app"), ("@Constraint", ExactlyOneTarget) }),
            _ => throw new ArgumentOutOfRangeException(nameof(procedure), procedure, "not a constraint procedure"),
        };

        // When it is called in the caller's session, then it refuses and the caller's transaction is intact
        await AssertRefusedWithoutTouchingTheCallersTransactionAsync(mode, 51410, procedure, call, Snapshot, parameters);
    }
}
