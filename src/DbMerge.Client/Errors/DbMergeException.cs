using Microsoft.Data.SqlClient;

namespace DbMerge.Client.Errors;

/// <summary>
/// A documented DbMerge business error raised by a procedure (<c>THROW 51xxx</c>).
/// Catch a subclass to handle one kind of failure, or inspect <see cref="ErrorNumber"/>.
/// </summary>
public class DbMergeException : Exception
{
    public DbMergeException(int errorNumber, string? procedure, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ErrorNumber = errorNumber;
        Procedure = procedure;
        ErrorRegistry.TryGet(errorNumber, out var error);
        Error = error;
    }

    /// <summary>The <c>THROW</c> number (51000–51999).</summary>
    public int ErrorNumber { get; }

    /// <summary>The procedure that raised it, as SQL Server reported it (may be null for batches).</summary>
    public string? Procedure { get; }

    /// <summary>The registry entry, or null for a number the registry does not know (an older client).</summary>
    public DbMergeError? Error { get; }

    /// <summary>
    /// Maps a <see cref="SqlException"/> to a typed <see cref="DbMergeException"/> when its number is a
    /// DbMerge business error; returns null for engine errors (use <see cref="SqlErrors"/> for those).
    /// </summary>
    public static DbMergeException? FromSqlException(SqlException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (!ErrorRegistry.IsDbMergeNumber(exception.Number))
        {
            return null;
        }

        var procedure = string.IsNullOrEmpty(exception.Procedure) ? null : exception.Procedure;
        var kind = ErrorRegistry.TryGet(exception.Number, out var error) ? error.Kind : (DbMergeErrorKind?)null;
        return kind switch
        {
            DbMergeErrorKind.InvalidArgument => new DbMergeInvalidArgumentException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.NotFound => new DbMergeNotFoundException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.InvalidState => new DbMergeInvalidStateException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.Forbidden => new DbMergeForbiddenException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.Conflict => new DbMergeConflictException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.LockTimeout => new DbMergeLockTimeoutException(exception.Number, procedure, exception.Message, exception),
            DbMergeErrorKind.InvariantViolated => new DbMergeInvariantViolatedException(exception.Number, procedure, exception.Message, exception),
            _ => new DbMergeException(exception.Number, procedure, exception.Message, exception),
        };
    }
}

/// <summary>A parameter is missing, malformed or out of range. Do not retry unchanged.</summary>
public sealed class DbMergeInvalidArgumentException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>A referenced row does not exist.</summary>
public sealed class DbMergeNotFoundException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>The row is not in a state that allows the operation (inactive, already merged, not pending, …).</summary>
public sealed class DbMergeInvalidStateException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>The caller lacks the role the operation requires.</summary>
public sealed class DbMergeForbiddenException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>An unresolvable collision; nothing was changed.</summary>
public sealed class DbMergeConflictException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>A DbMerge lock could not be acquired in time; nothing was changed and the call may be retried.</summary>
public sealed class DbMergeLockTimeoutException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);

/// <summary>A coverage or post-condition check failed and the transaction was rolled back.</summary>
public sealed class DbMergeInvariantViolatedException(int errorNumber, string? procedure, string message, Exception? inner = null)
    : DbMergeException(errorNumber, procedure, message, inner);
