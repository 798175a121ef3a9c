namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    private const string ConstraintValidateBatch = "dbmerge.Constraint_ValidateBatch";
    private const string ConstraintTrust = "dbmerge.Constraint_Trust";

    /// <summary>The caller is not a member of DbMergeOperator or db_owner: every constraint would be refused the same way.</summary>
    public const int ConstraintNotOperator = 51404;

    /// <summary>A table permission is missing (SELECT to validate, ALTER to trust): refused for this constraint only.</summary>
    public const int ConstraintPermissionMissing = 51413;

    private static DbMergeError[] Constraints =>
    [
        new(51400, "ConstraintNotFound", ConstraintValidateBatch, DbMergeErrorKind.NotFound,
            "No CHECK or FOREIGN KEY constraint with that name exists in that schema, or the caller may not see it (no permission on its table) (validate, trust)."),
        new(51401, "ConstraintAlreadyTrusted", ConstraintValidateBatch, DbMergeErrorKind.InvalidState,
            "The constraint is already trusted: there is nothing to validate."),
        new(51402, "ConstraintUnsupportedKey", ConstraintValidateBatch, DbMergeErrorKind.InvalidState,
            "The constraint's table has no unique single-column integer clustered key (heap, composite or non-integer key); keyset validation does not support it."),
        new(51403, "ConstraintBatchSizeInvalid", ConstraintValidateBatch, DbMergeErrorKind.InvalidArgument,
            "The batch size is outside 1..100000."),
        new(ConstraintNotOperator, "ConstraintNotOperator", ConstraintValidateBatch, DbMergeErrorKind.Forbidden,
            "The caller is not a member of DbMergeOperator or db_owner (validate, trust)."),
        new(51405, "ConstraintViolationsRemain", ConstraintTrust, DbMergeErrorKind.Conflict,
            "Recorded violations remain: fix the rows, re-validate with --restart, then trust."),
        new(51406, "ConstraintNotValidated", ConstraintTrust, DbMergeErrorKind.InvalidState,
            "The constraint was never fully validated (never run, still running, or re-created since): validate it first."),
        new(51407, "ConstraintLockTimeoutInvalid", ConstraintTrust, DbMergeErrorKind.InvalidArgument,
            "The lock timeout is outside 1..600000 ms."),
        new(51408, "ConstraintParameterMissing", ConstraintValidateBatch, DbMergeErrorKind.InvalidArgument,
            "The schema or constraint name is missing (validate, trust)."),
        new(51409, "ConstraintStillUntrusted", ConstraintTrust, DbMergeErrorKind.InvariantViolated,
            "The constraint is still untrusted after WITH CHECK CHECK CONSTRAINT (for example NOT FOR REPLICATION); rolled back."),
        new(51411, "ConstraintDefinitionUnreadable", ConstraintValidateBatch, DbMergeErrorKind.Forbidden,
            "The caller cannot read the CHECK constraint's definition (it needs VIEW DEFINITION on the table); nothing was validated."),
        new(51412, "ConstraintReferencedTableUnreadable", ConstraintValidateBatch, DbMergeErrorKind.Forbidden,
            "The caller cannot see the table a foreign key references, or its columns (it needs SELECT on that table); nothing was validated."),
        new(ConstraintPermissionMissing, "ConstraintPermissionMissing", ConstraintValidateBatch, DbMergeErrorKind.Forbidden,
            "The caller lacks a permission the statement needs: SELECT on the validated table or on the table a foreign key references (validate), ALTER on the table (trust); nothing changed."),
        new(51414, "ConstraintPredicateUnavailable", ConstraintValidateBatch, DbMergeErrorKind.InvariantViolated,
            "The validation statement could not be built (part of the constraint's metadata read as NULL); nothing was validated, never reported done."),
        new(51410, "ConstraintOpenTransaction", ConstraintValidateBatch, DbMergeErrorKind.InvalidState,
            "dbmerge.Constraint_ValidateBatch or dbmerge.Constraint_Trust was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF (validate, trust)."),
    ];
}
