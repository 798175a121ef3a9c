namespace DbMerge.Client.Errors;

public static partial class ErrorRegistry
{
    /// <summary>
    /// Where the deploy-script errors are thrown: not a procedure but the generated DBA deploy script
    /// (DbMerge.Deployment.DeployScriptGenerator writes the THROW statements); named like one for the registry.
    /// </summary>
    public const string DeployScript = "dbmerge.DeployScript";

    private static DbMergeError[] General =>
    [
        new(51001, "AppliedMigrationChanged", DeployScript, DbMergeErrorKind.InvariantViolated,
            "An applied migration's file changed since it was applied (its journal checksum differs); the deploy script stopped before applying anything. Migrations are append-only: restore the file and write a new migration."),
        new(51002, "DeployEarlierStepFailed", DeployScript, DbMergeErrorKind.InvalidState,
            "The deploy script reached a migration whose predecessor is not in the journal, or a batch whose transaction was already rolled back: an earlier step failed (in a client that does not stop at errors). Nothing of that migration was applied; fix the first error and run the script again."),
        new(51003, "DeployLockTimeout", DeployScript, DbMergeErrorKind.LockTimeout,
            "Another deployment held the deploy lock (sp_getapplock 'DbMerge.Deploy') for more than 60 seconds; nothing was applied. Run again when it has finished."),
        new(51004, "DeployNotSqlcmdMode", DeployScript, DbMergeErrorKind.InvalidState,
            "The deploy script was run without SQLCMD mode (SSMS or Azure Data Studio with SQLCMD Mode off) or with sqlcmd variable substitution off (sqlcmd -x); it changed nothing. Run it with sqlcmd -i, or switch SQLCMD Mode on."),
        new(51005, "DeploySystemDatabase", DeployScript, DbMergeErrorKind.InvalidArgument,
            "The deploy script was run in a system database (master, model, msdb, tempdb: a forgotten sqlcmd -d, or the wrong database selected); it changed nothing. Run it in the target database."),
        new(51006, "DeployDatabaseNewer", DeployScript, DbMergeErrorKind.InvalidState,
            "The database's journal holds migrations this release does not have: the database is newer than the release, and deploying it would be a downgrade. The deploy script changed nothing; deploy the release that has them, or a newer one."),
        new(51007, "DeployStopped", DeployScript, DbMergeErrorKind.InvalidState,
            "The deploy script's last batch: an earlier check or step failed (its error is above, and this message names it), so every batch after it was skipped and nothing after that point was applied; the deploy lock is released. Fix the cause and run the script again."),
        new(51008, "DeployOpenTransaction", DeployScript, DbMergeErrorKind.InvalidState,
            "The deploy script was started in a session with an open transaction (an earlier run interrupted in the same SSMS window, or IMPLICIT_TRANSACTIONS); it changed nothing and left that transaction as it was (not rolled back). Run it in a new session."),
    ];
}
