using DbMerge.Client.Errors;
using Xunit;

namespace DbMerge.Tests.Client;

public sealed class SqlErrorsTests
{
    [Fact]
    public void A_DbMerge_exception_carries_its_number_through_wrapping_exceptions()
    {
        var inner = new DbMergeConflictException(51107, "api.User_Merge", "collision");
        var wrapped = new InvalidOperationException("outer", inner);

        Assert.True(SqlErrors.HasNumber(wrapped, 51107));
        Assert.False(SqlErrors.HasNumber(wrapped, 51108));
    }

    [Fact]
    public void Engine_error_predicates_are_false_for_unrelated_exceptions()
    {
        var unrelated = new InvalidOperationException("no sql here");

        Assert.False(SqlErrors.IsDuplicateKey(unrelated));
        Assert.False(SqlErrors.IsConstraintViolation(unrelated));
        Assert.False(SqlErrors.IsDeadlock(unrelated));
        Assert.False(SqlErrors.IsLockTimeout(unrelated));
        Assert.False(SqlErrors.IsTransient(unrelated));
        Assert.False(SqlErrors.HasNumber(null, 1205));
    }

    [Fact]
    public void Engine_error_predicates_recognise_their_numbers()
    {
        Assert.True(SqlErrors.IsDeadlock(new DbMergeException(SqlErrors.Deadlock, null, "x")));
        Assert.True(SqlErrors.IsLockTimeout(new DbMergeException(SqlErrors.LockRequestTimeout, null, "x")));
        Assert.True(SqlErrors.IsTransient(new DbMergeException(SqlErrors.LockRequestTimeout, null, "x")));
        Assert.True(SqlErrors.IsDuplicateKey(new DbMergeException(SqlErrors.UniqueIndexViolation, null, "x")));
        Assert.True(SqlErrors.IsDuplicateKey(new DbMergeException(SqlErrors.UniqueConstraintViolation, null, "x")));
        Assert.True(SqlErrors.IsConstraintViolation(new DbMergeException(SqlErrors.ConstraintViolation, null, "x")));
    }

    [Fact]
    public void A_DbMerge_exception_knows_its_registry_entry_when_the_number_is_registered()
    {
        var unknown = new DbMergeException(51998, "api.Nope", "unregistered");
        Assert.Null(unknown.Error);
        Assert.Equal(51998, unknown.ErrorNumber);
        Assert.Equal("api.Nope", unknown.Procedure);

        foreach (var error in ErrorRegistry.All)
        {
            Assert.Same(error, new DbMergeException(error.Number, error.Procedure, "m").Error);
        }
    }
}
