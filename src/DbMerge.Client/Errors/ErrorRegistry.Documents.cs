namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    private const string DocumentCreate = "api.Document_Create";
    private const string DocumentMove = "api.Document_Move";

    // One entry per number; Procedure names the first procedure that throws it (the README lists all of them).
    private static DbMergeError[] Documents =>
    [
        new(51200, "DocumentNotFound", DocumentMove, DbMergeErrorKind.NotFound,
            "The document does not exist (move, tree)."),
        new(51201, "DocumentMoveTargetNotFound", DocumentMove, DbMergeErrorKind.NotFound,
            "The target document of a move does not exist."),
        new(51202, "DocumentMoveUnknownPosition", DocumentMove, DbMergeErrorKind.InvalidArgument,
            "The position is not one of first-child, last-child, left, right, first-sibling, last-sibling."),
        new(51203, "DocumentActorNotFoundOrInactive", DocumentMove, DbMergeErrorKind.NotFound,
            "The acting user does not exist or is inactive."),
        new(51204, "DocumentActorLacksRole", DocumentMove, DbMergeErrorKind.Forbidden,
            "The actor is not administrator or owner (effective role) of the document, or of the target (child positions) / the target's parent (sibling positions); the message names the document."),
        new(51205, "DocumentSystemMoveNotAllowed", DocumentMove, DbMergeErrorKind.Forbidden,
            "A move without an actor requires membership of DbMergeOperator (or db_owner)."),
        new(51206, "DocumentMoveIntoOwnSubtree", DocumentMove, DbMergeErrorKind.InvalidArgument,
            "A child position targets the document itself or one of its descendants."),
        new(51207, "DocumentPathTooLong", DocumentMove, DbMergeErrorKind.InvalidState,
            "The resulting path would exceed 252 characters (depth 36) or a sibling step would overflow 'ZZZZZZZ'; checked before anything is written (create, move)."),
        new(51208, "DocumentParentNotFound", DocumentCreate, DbMergeErrorKind.NotFound,
            "The parent document to create under does not exist."),
        new(51209, "DocumentCreatorNotFoundOrInactive", DocumentCreate, DbMergeErrorKind.NotFound,
            "The creator is missing, does not exist or is inactive."),
        new(51210, "DocumentTreeLockTimeout", DocumentMove, DbMergeErrorKind.LockTimeout,
            "A tree applock (DbMerge.Roots / DbMerge.Tree:<root path>), a move's DbMerge.User:<id> applock (a user merge holds the user) or a row lock was not granted within the lock timeout; nothing changed, retry (create, move)."),
        new(51211, "DocumentTitleInvalid", DocumentCreate, DbMergeErrorKind.InvalidArgument,
            "The title is missing, blank or longer than 255 characters."),
        new(51212, "DocumentParameterMissing", DocumentMove, DbMergeErrorKind.InvalidArgument,
            "A required parameter (document id, target id, lock timeout >= -1) is missing or invalid (create, move, tree)."),
        new(51213, "DocumentMovedConcurrently", DocumentMove, DbMergeErrorKind.Conflict,
            "The document, target or parent moved to another tree while waiting for the lock; nothing changed, retry (create, move)."),
        new(51214, "DocumentOpenTransaction", DocumentMove, DbMergeErrorKind.InvalidState,
            "api.Document_Create or api.Document_Move was called inside an open transaction or with IMPLICIT_TRANSACTIONS ON; it owns its transaction and refused without touching the caller's: call it outside a transaction, with IMPLICIT_TRANSACTIONS OFF (create, move)."),
        new(51215, "DocumentPathRewriteMismatch", DocumentMove, DbMergeErrorKind.InvariantViolated,
            "A path rewrite of a move wrote another number of rows than it planned (a path was written outside api.Document_Create / api.Document_Move meanwhile); rolled back, nothing changed."),
    ];
}
