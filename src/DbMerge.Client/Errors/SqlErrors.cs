using Microsoft.Data.SqlClient;

namespace DbMerge.Client.Errors;

/// <summary>Named predicates for the SQL Server engine errors callers commonly handle.</summary>
public static class SqlErrors
{
    public const int UniqueIndexViolation = 2601;
    public const int UniqueConstraintViolation = 2627;
    public const int ConstraintViolation = 547;
    public const int Deadlock = 1205;
    public const int LockRequestTimeout = 1222;

    /// <summary>2627 or 2601: a unique constraint or unique index rejected a duplicate key.</summary>
    public static bool IsDuplicateKey(Exception exception) =>
        HasNumber(exception, UniqueConstraintViolation) || HasNumber(exception, UniqueIndexViolation);

    /// <summary>547: a FOREIGN KEY or CHECK constraint rejected the statement.</summary>
    public static bool IsConstraintViolation(Exception exception) => HasNumber(exception, ConstraintViolation);

    /// <summary>1205: chosen as deadlock victim; the transaction was rolled back and may be retried.</summary>
    public static bool IsDeadlock(Exception exception) => HasNumber(exception, Deadlock);

    /// <summary>1222: lock request time out period exceeded (<c>SET LOCK_TIMEOUT</c>); may be retried.</summary>
    public static bool IsLockTimeout(Exception exception) => HasNumber(exception, LockRequestTimeout);

    /// <summary>A transient failure a caller's retry loop should retry: deadlock or lock timeout.</summary>
    public static bool IsTransient(Exception exception) => IsDeadlock(exception) || IsLockTimeout(exception);

    /// <summary>True when <paramref name="exception"/> (or an inner exception) is a SqlException carrying <paramref name="number"/>.</summary>
    public static bool HasNumber(Exception? exception, int number)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SqlException sql)
            {
                foreach (SqlError error in sql.Errors)
                {
                    if (error.Number == number)
                    {
                        return true;
                    }
                }
            }
            else if (e is DbMergeException dbm && dbm.ErrorNumber == number)
            {
                return true;
            }
        }

        return false;
    }
}
