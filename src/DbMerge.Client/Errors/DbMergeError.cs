namespace DbMerge.Client.Errors;

/// <summary>What kind of failure a DbMerge error number stands for; selects the exception type.</summary>
public enum DbMergeErrorKind
{
    /// <summary>A parameter is missing, malformed or out of range.</summary>
    InvalidArgument,

    /// <summary>A referenced row (user, document, invitation, …) does not exist.</summary>
    NotFound,

    /// <summary>The row exists but is not in a state that allows the operation.</summary>
    InvalidState,

    /// <summary>The caller lacks the role the operation requires.</summary>
    Forbidden,

    /// <summary>The data collides in a way policy cannot resolve; nothing was changed.</summary>
    Conflict,

    /// <summary>A lock could not be acquired in time; safe to retry.</summary>
    LockTimeout,

    /// <summary>A post-condition or coverage check failed; the transaction was rolled back.</summary>
    InvariantViolated,
}

/// <summary>One documented business error: a <c>THROW</c> number in 51000–51999.</summary>
/// <param name="Number">The error number the procedure throws.</param>
/// <param name="Name">A stable PascalCase name for code (e.g. <c>MergeSourceNotFound</c>).</param>
/// <param name="Procedure">The procedure that throws it (schema-qualified).</param>
/// <param name="Kind">What kind of failure it is.</param>
/// <param name="Meaning">One sentence for the README and for operators.</param>
public sealed record DbMergeError(int Number, string Name, string Procedure, DbMergeErrorKind Kind, string Meaning);
