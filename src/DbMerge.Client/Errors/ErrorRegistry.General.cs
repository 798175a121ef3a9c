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
            "The deploy script reached a migration whose predecessor is not in the journal, or a batch whose transaction was already rolled back: an earlier step failed. Run the script with sqlcmd -b and fix the first error."),
        new(51003, "DeployLockTimeout", DeployScript, DbMergeErrorKind.LockTimeout,
            "Another deployment held the deploy lock (sp_getapplock 'DbMerge.Deploy') for more than 60 seconds; nothing was applied. Run again when it has finished."),
    ];
}
