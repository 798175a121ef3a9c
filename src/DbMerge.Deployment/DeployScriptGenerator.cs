using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Deployment;

/// <summary>
/// The DBA deploy script and what stands in the way of writing it.
/// </summary>
/// <param name="Text">The script as written to the file (sqlcmd commands included).</param>
/// <param name="Problems">Why the script cannot be used (file and line: a script that does not parse, a line sqlcmd
/// would execute, …); empty when it can. A script with problems is never written by <c>dbmerge script</c>.</param>
/// <param name="Migrations">The migrations the script carries, in order.</param>
/// <param name="DatabaseObjectCount">How many <c>database/</c> scripts it carries.</param>
public sealed record DeployScript(string Text, IReadOnlyList<Finding> Problems, IReadOnlyList<string> Migrations, int DatabaseObjectCount)
{
    /// <summary>True when the script can be used: no error among <see cref="Problems"/>.</summary>
    public bool IsValid => Problems.All(p => p.Severity != FindingSeverity.Error);

    /// <summary>
    /// What SQL Server receives when the script runs in SQLCMD mode: the sqlcmd command lines blanked and the
    /// SQLCMD-mode probe substituted, as sqlcmd does. Plain T-SQL (ScriptDom parses it; the offline checks read it).
    /// </summary>
    public string TransactSql => DeployScriptGenerator.AsSqlcmdSends(Text);
}

/// <summary>A deploy script could not be generated; <see cref="Problems"/> says why, with files and lines.</summary>
public sealed class DeployScriptInvalidException(IReadOnlyList<Finding> problems)
    : InvalidOperationException($"The deploy script cannot be generated: {problems.Count} problem(s); first: {problems.FirstOrDefault()}")
{
    public IReadOnlyList<Finding> Problems { get; } = problems;
}

/// <summary>
/// Writes the DBA deploy script: one file for sqlcmd (or SSMS / Azure Data Studio in SQLCMD mode), idempotent,
/// holding the same deploy lock and writing the same journal rows (name + checksum) as the <see cref="Migrator"/>,
/// so the runner and the script interoperate both ways.
/// <para>Layout of the output: header comment (what it holds, how to run it, its guards); <c>SET NOEXEC OFF</c>;
/// the sqlcmd lines <c>:on error exit</c> and <c>:setvar DbMergeSqlcmdMode</c>; the guard batch (session settings,
/// SQLCMD mode 51004, open transaction 51008, system database 51005); the deploy applock (51003); the journal checks
/// (database newer than the release 51006, applied migration changed 51001); the journal table; per migration its
/// Why/Locks header as comments and a guarded block whose GO batches each run through <c>sp_executesql</c> in one
/// transaction that also inserts the journal row; every <c>database/</c> script under a bounded lock timeout with
/// retries; then <c>SET NOEXEC OFF</c> and the end batch that releases the lock and reports.</para>
/// <para>The stop guard: a failed check or step sets the session-context key <see cref="StopFlagKey"/> and THROWs
/// (a check batch records a pending stop before its work and clears it when it completed, so a check ended by an error
/// it does not throw itself stops the script as well; a step's errors are caught, recorded and re-thrown);
/// every later batch that could change anything runs only while that key is unset, and after each point that can
/// set it a batch switches <c>SET NOEXEC ON</c> so the server compiles the rest without executing it (not even an
/// <c>sp_executesql</c>). The end batch switches NOEXEC off again, releases the lock and THROWs 51007 naming the
/// first failure. So no batch after a failure changes anything, whether or not the client stops at errors.</para>
/// </summary>
public static partial class DeployScriptGenerator
{
    /// <summary>Error numbers the deploy script throws (documented in the client's error registry).</summary>
    public const int AppliedMigrationChangedError = 51001;
    public const int EarlierStepFailedError = 51002;
    public const int DeployLockTimeoutError = 51003;
    public const int NotSqlcmdModeError = 51004;
    public const int SystemDatabaseError = 51005;
    public const int DatabaseNewerError = 51006;
    public const int StoppedError = 51007;
    public const int OpenTransactionError = 51008;

    /// <summary>How the stop recorded by the open-transaction guard (51008) starts: the end batch leaves that transaction alone.</summary>
    private static readonly string OpenTransactionStopPrefix = $"error {OpenTransactionError}:";

    /// <summary>The session-context key that records why the script stopped (every later batch checks it).</summary>
    public const string StopFlagKey = "DbMerge.Deploy.Stopped";

    /// <summary>The one sqlcmd variable of the script: defined by its own <c>:setvar</c>, read once to detect SQLCMD mode.</summary>
    public const string SqlcmdModeVariable = "DbMergeSqlcmdMode";

    /// <summary>The rule id of the generator's own findings.</summary>
    public const string RuleId = "script";

    internal const string OnErrorExitLine = ":on error exit";
    internal static readonly string SetvarLine = $":setvar {SqlcmdModeVariable} \"on\"";
    internal static readonly string ModeProbe = "$(" + SqlcmdModeVariable + ")";

    private static readonly string StopFlag = $"SESSION_CONTEXT(N'{StopFlagKey}')";
    private static readonly string NotStopped = $"{StopFlag} IS NULL";
    private static readonly string EngageNoExec = $"IF {StopFlag} IS NOT NULL SET NOEXEC ON;";

    /// <summary>The generated script for <paramref name="layout"/>; throws <see cref="DeployScriptInvalidException"/> when it has problems.</summary>
    public static string Generate(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied = null) =>
        Generate(layout, alreadyApplied, DateTimeOffset.UtcNow);

    /// <inheritdoc cref="Generate(RepositoryLayout, IReadOnlyCollection{string}?)"/>
    public static string Generate(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied, DateTimeOffset generatedAt)
    {
        var script = Build(layout, alreadyApplied, generatedAt);
        return script.IsValid ? script.Text : throw new DeployScriptInvalidException(script.Problems);
    }

    /// <summary>
    /// Generates the script and collects every problem that stands in its way as a finding (file and line) instead of
    /// throwing. Migrations named in <paramref name="alreadyApplied"/> (read from the target's journal) are omitted
    /// entirely; their checksums are still verified when the script runs. A file with a problem is left out of the text.
    /// </summary>
    public static DeployScript Build(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied = null, DateTimeOffset? generatedAt = null) =>
        Build(layout, alreadyApplied, generatedAt, DeploymentJournal.DefaultLockTimeoutMilliseconds);

    /// <summary><see cref="Build(RepositoryLayout, IReadOnlyCollection{string}?, DateTimeOffset?)"/> with another deploy-lock wait (tests).</summary>
    internal static DeployScript Build(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied, DateTimeOffset? generatedAt, int deployLockTimeoutMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var problems = new List<Finding>();
        var applied = new HashSet<string>(alreadyApplied ?? [], StringComparer.Ordinal);
        var migrations = layout.Migrations();
        var databaseObjects = layout.DatabaseObjects();
        var checksums = migrations.ToDictionary(m => m.Name, m => MigrationChecksums.ComputeFile(m.FullPath), StringComparer.Ordinal);
        var included = migrations.Where(m => !applied.Contains(m.Name)).ToList();

        var sql = new StringBuilder();
        WriteHeader(sql, generatedAt ?? DateTimeOffset.UtcNow, migrations, included, databaseObjects.Count);
        WriteGuards(sql, migrations, checksums, deployLockTimeoutMilliseconds);

        for (var i = 0; i < migrations.Count; i++)
        {
            var migration = migrations[i];
            var batches = SplitBatches(migration, problems);
            if (applied.Contains(migration.Name) || batches is null)
            {
                continue;
            }

            var previous = i > 0 ? migrations[i - 1].Name : null;
            WriteMigration(sql, migration, batches, previous, checksums[migration.Name]);
        }

        WriteDatabaseObjects(sql, databaseObjects, migrations.Count > 0 ? migrations[^1].Name : null, problems);
        WriteEnd(sql, included.Count, databaseObjects.Count);

        var text = sql.ToString();
        problems.AddRange(CheckInvariants(text));
        return new DeployScript(text, problems, included.Select(m => m.Name).ToList(), databaseObjects.Count);
    }

    /// <summary>
    /// What sqlcmd sends to the server for <paramref name="scriptText"/>: the sqlcmd command lines (<c>:on error</c>,
    /// <c>:setvar</c>) blanked and <c>$(DbMergeSqlcmdMode)</c> replaced by its value. Lines are kept where they were.
    /// </summary>
    public static string AsSqlcmdSends(string scriptText)
    {
        ArgumentNullException.ThrowIfNull(scriptText);
        var lines = scriptText.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i] == OnErrorExitLine || lines[i] == SetvarLine)
            {
                lines[i] = string.Empty;
            }
        }

        return string.Join('\n', lines).Replace(ModeProbe, "on", StringComparison.Ordinal);
    }

    private static void WriteHeader(StringBuilder sql, DateTimeOffset generatedAt, IReadOnlyList<SqlScriptFile> all,
        IReadOnlyList<SqlScriptFile> included, int databaseObjectCount)
    {
        sql.Append("/*\n");
        sql.Append("  DbMerge deploy script\n");
        sql.Append(CultureInfo.InvariantCulture, $"  Generated: {generatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z by 'dbmerge script'.\n");
        sql.Append(CultureInfo.InvariantCulture, $"  Migrations in this script ({included.Count} of {all.Count}; each one's Why/Locks header is repeated above its block):\n");
        foreach (var migration in included)
        {
            sql.Append("    ").Append(Sanitize(migration.Name)).Append('\n');
        }

        if (included.Count < all.Count)
        {
            sql.Append(CultureInfo.InvariantCulture, $"  Omitted as already applied on the target when generated: {all.Count - included.Count} (checksums still verified).\n");
        }

        sql.Append(CultureInfo.InvariantCulture, $"  Then {databaseObjectCount} re-runnable database/ script(s) (CREATE OR ALTER, permissions), every time.\n");
        sql.Append("""

              How to run it - in the target database, in SQLCMD mode:
                sqlcmd -S <server> -d <database> -E -i <this file>
                  (or -U <login> with the password in SQLCMDPASSWORD; -C for a self-signed certificate; -b is not needed)
                SSMS or Azure Data Studio: open the file, switch on SQLCMD Mode (Query menu), choose the target
                database, execute.
              SQLCMD mode is required. The script defines one sqlcmd variable, DbMergeSqlcmdMode, with its own :setvar
              line and reads it once, to detect SQLCMD mode: without SQLCMD mode, or with variable substitution switched
              off (sqlcmd -x), it says so (error 51004) and changes nothing. It needs no -v value, and no other text in it
              is a variable reference (a dollar sign before a parenthesis in carried text is split across two literals).
              It is pure ASCII (other characters are written as NCHAR(n)), so no code page switch is needed, and holds
              no backslash (carried ones are NCHAR(92): T-SQL drops a backslash before a line end from a literal, and
              the Go sqlcmd reads one as an escape inside quotes).

              Guards, before anything is changed, in this order: no open transaction in the session (51008; that
              transaction is left as it was, never rolled back); SQLCMD mode (51004); not a system database - master, model, msdb, tempdb (51005); the deploy lock 'DbMerge.Deploy',
              the runner's, waited for at most 60 s (51003); the database is not newer than this release - its journal
              holds no migration this release lacks (51006); no applied migration changed (51001).
              Stop guard: the script stops at the first error by itself (:on error exit). Where that is not honoured,
              a failed check, migration or database/ script still records why in the session context key
              DbMerge.Deploy.Stopped (each check batch records a pending stop before its work and clears it only
              when it completed, so a check ended by any error stops the script too); every later batch that could
              change anything runs only while that key is unset, and SET NOEXEC ON makes the server skip the rest. The last batch switches NOEXEC off, releases the lock
              and reports 51007 naming the first failure. So nothing after a failure changes anything.
              Safe to run again: each migration runs only when the journal dbo.SchemaVersions has no row for it, in its
              own transaction (XACT_ABORT ON) that also writes its journal row and SHA-256 checksum - the rows
              'dbmerge migrate' writes, so the two can be mixed. A migration stopped by its own SET LOCK_TIMEOUT
              (1222: a busy table) is rolled back and stops the script; run it again later ('dbmerge migrate' retries
              by itself). database/ objects are re-created under SET LOCK_TIMEOUT 3000, retried up to 5 times on 1222
              (after 1, 2, 4, 8, 16 s), so callers of a busy procedure never queue behind its schema lock for long.
              In SSMS a run that stopped at an error leaves that window's session holding the deploy lock until the
              script is run again in it (or the window is closed).
            */

            """);
    }

    private static void WriteGuards(StringBuilder sql, IReadOnlyList<SqlScriptFile> migrations, IReadOnlyDictionary<string, string> checksums, int lockTimeoutMilliseconds)
    {
        // A NOEXEC left on by an interrupted earlier run in the same session would silently skip everything.
        sql.Append("SET NOEXEC OFF;\n");
        sql.Append("GO\n");
        sql.Append(OnErrorExitLine).Append('\n');
        sql.Append(SetvarLine).Append('\n');
        sql.Append("GO\n");

        sql.Append("-- Guard batch: session settings, no open transaction (checked first: it is left as it is), SQLCMD mode, not a system database. Nothing is changed yet.\n");
        sql.Append("SET IMPLICIT_TRANSACTIONS OFF;\n");
        sql.Append("SET NOCOUNT ON;\n");
        sql.Append("SET XACT_ABORT ON;\n");
        sql.Append("SET ANSI_NULLS ON;\n");
        sql.Append("SET ANSI_PADDING ON;\n");
        sql.Append("SET ANSI_WARNINGS ON;\n");
        sql.Append("SET ARITHABORT ON;\n");
        sql.Append("SET CONCAT_NULL_YIELDS_NULL ON;\n");
        sql.Append("SET NUMERIC_ROUNDABORT OFF;\n");
        sql.Append("SET QUOTED_IDENTIFIER ON;\n");
        Pending(sql, string.Empty, "the guard batch (51008, 51004, 51005)");
        sql.Append("IF @@TRANCOUNT > 0\n");
        sql.Append("BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture, $"    DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: the session has an open transaction (@@TRANCOUNT %d); nothing was changed. Run the script in a new session (a new sqlcmd, or a new query window) with no open transaction.")}, @@TRANCOUNT);\n");
        // THROW honours XACT_ABORT: with it ON the THROW would roll back the caller's transaction it refuses to touch.
        sql.Append("    SET XACT_ABORT OFF;\n");
        Stop(sql, "    ", OpenTransactionError, "the session had an open transaction");
        sql.Append(CultureInfo.InvariantCulture, $"    THROW {OpenTransactionError}, @OpenMessage, 1;\n");
        sql.Append("END;\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF N'{ModeProbe}' <> N'on'\n");
        sql.Append("BEGIN\n");
        Stop(sql, "    ", NotSqlcmdModeError, "not run in SQLCMD mode");
        sql.Append(CultureInfo.InvariantCulture, $"    THROW {NotSqlcmdModeError}, {MessageLiteral("DbMerge deploy: this script must run in SQLCMD mode - sqlcmd -i FILE, or SSMS / Azure Data Studio with SQLCMD Mode switched on (Query menu) - with variable substitution on (not sqlcmd -x). Nothing was changed: every later batch is skipped. (Without SQLCMD mode the two lines starting with a colon above also failed, with 'Incorrect syntax near :'.)")}, 1;\n");
        sql.Append("END;\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF {DeploymentJournal.SystemDatabasePredicate}\n");
        sql.Append("BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture, $"    DECLARE @SystemMessage nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: the current database is %s, a system database; nothing was changed. Run the script in the target database (sqlcmd -d <database>, or choose it in SSMS / Azure Data Studio).")}, DB_NAME());\n");
        Stop(sql, "    ", SystemDatabaseError, "the current database is a system database");
        sql.Append(CultureInfo.InvariantCulture, $"    THROW {SystemDatabaseError}, @SystemMessage, 1;\n");
        sql.Append("END;\n");
        Completed(sql, string.Empty);
        sql.Append("GO\n");
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");

        sql.Append("-- The deploy lock (the runner's): held by this session until the end batch releases it.\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF {NotStopped}\n");
        sql.Append("BEGIN\n");
        Pending(sql, "    ", "the deploy-lock step (51003)");
        sql.Append("    DECLARE @LockResult int;\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"    EXEC @LockResult = sys.sp_getapplock @Resource = {Literal(DeploymentJournal.LockResource)}, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = {lockTimeoutMilliseconds};\n");
        sql.Append("    IF @LockResult < 0\n");
        sql.Append("    BEGIN\n");
        Stop(sql, "        ", DeployLockTimeoutError, "another deployment held the deploy lock");
        sql.Append(CultureInfo.InvariantCulture,
            $"        THROW {DeployLockTimeoutError}, {MessageLiteral($"DbMerge deploy: another deployment held the deploy lock {DeploymentJournal.LockResource} for more than {(lockTimeoutMilliseconds / 1000.0).ToString("0.#", CultureInfo.InvariantCulture)} s; nothing was changed. Run the script again when it has finished.")}, 1;\n");
        sql.Append("    END;\n");
        Completed(sql, "    ");
        sql.Append("END;\n");
        sql.Append("GO\n");
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");

        WriteJournalChecks(sql, migrations, checksums);
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");

        sql.Append("-- The journal: created, or given its Checksum column (a journal plain DbUp created).\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF {NotStopped}\n");
        sql.Append("BEGIN\n");
        Pending(sql, "    ", "creating the journal dbo.SchemaVersions");
        foreach (var line in DeploymentJournal.EnsureSql.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd().Split('\n'))
        {
            sql.Append(line.Length == 0 ? string.Empty : "    " + line).Append('\n');
        }

        Completed(sql, "    ");
        sql.Append("END;\n");
        sql.Append("GO\n");
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");
    }

    /// <summary>
    /// Refuses a database that is newer than the release (its journal names a migration the release lacks: 51006) and
    /// one whose applied migration changed (51001), before anything is changed. Only ScriptName is read directly (every
    /// DbUp journal has it); Checksum, which a journal plain DbUp created lacks, is read through sp_executesql only when
    /// the column exists, so the batch compiles against any journal.
    /// </summary>
    private static void WriteJournalChecks(StringBuilder sql, IReadOnlyList<SqlScriptFile> migrations, IReadOnlyDictionary<string, string> checksums)
    {
        sql.Append("-- Refuse a database newer than this release (never downgrade) and one whose applied migration changed.\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF {NotStopped} AND OBJECT_ID(N'dbo.SchemaVersions', N'U') IS NOT NULL\n");
        sql.Append("BEGIN\n");
        Pending(sql, "    ", "the journal checks (51006, 51001)");
        sql.Append("    DROP TABLE IF EXISTS #DbMergeRelease;\n");
        sql.Append("    CREATE TABLE #DbMergeRelease (ScriptName nvarchar(255) COLLATE DATABASE_DEFAULT NOT NULL PRIMARY KEY, Checksum char(64) COLLATE DATABASE_DEFAULT NOT NULL);\n");
        for (var start = 0; start < migrations.Count; start += 500)
        {
            sql.Append("    INSERT INTO #DbMergeRelease (ScriptName, Checksum) VALUES\n");
            var chunk = migrations.Skip(start).Take(500).ToList();
            for (var i = 0; i < chunk.Count; i++)
            {
                sql.Append(CultureInfo.InvariantCulture,
                    $"        ({Literal(chunk[i].Name)}, '{checksums[chunk[i].Name]}'){(i < chunk.Count - 1 ? "," : ";")}\n");
            }
        }

        sql.Append("    DECLARE @Newer nvarchar(max);\n");
        sql.Append("    SELECT @Newer = STRING_AGG(CONVERT(nvarchar(max), j.ScriptName), N', ') WITHIN GROUP (ORDER BY j.ScriptName)\n");
        sql.Append("    FROM dbo.SchemaVersions AS j\n");
        sql.Append("    WHERE NOT EXISTS (SELECT 1 FROM #DbMergeRelease AS r WHERE r.ScriptName = j.ScriptName COLLATE DATABASE_DEFAULT);\n");
        sql.Append("    IF @Newer IS NOT NULL\n");
        sql.Append("    BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"        DECLARE @NewerMessage nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: the database is newer than this release: its journal holds %s, which this release does not have; nothing was changed (an older release would re-create procedures from older code). Deploy the release that has them, or a newer one.")}, LEFT(@Newer, 1500));\n");
        Stop(sql, "        ", DatabaseNewerError, "the database is newer than this release");
        sql.Append(CultureInfo.InvariantCulture, $"        THROW {DatabaseNewerError}, @NewerMessage, 1;\n");
        sql.Append("    END;\n");
        sql.Append("    IF COL_LENGTH(N'dbo.SchemaVersions', N'Checksum') IS NOT NULL\n");
        sql.Append("    BEGIN\n");
        sql.Append("        DECLARE @Changed nvarchar(max);\n");
        sql.Append("        EXEC sys.sp_executesql\n");
        sql.Append("            @stmt = N'SELECT @Changed = STRING_AGG(CONVERT(nvarchar(max), j.ScriptName), N'', '') WITHIN GROUP (ORDER BY j.ScriptName) FROM dbo.SchemaVersions AS j JOIN #DbMergeRelease AS r ON r.ScriptName = j.ScriptName COLLATE DATABASE_DEFAULT WHERE j.Checksum IS NOT NULL AND j.Checksum COLLATE DATABASE_DEFAULT <> r.Checksum;',\n");
        sql.Append("            @params = N'@Changed nvarchar(max) OUTPUT',\n");
        sql.Append("            @Changed = @Changed OUTPUT;\n");
        sql.Append("        IF @Changed IS NOT NULL\n");
        sql.Append("        BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"            DECLARE @ChangedMessage nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: applied migration %s changed since it was applied (the journal checksum differs from the file); nothing was changed. " + MigrationChecksums.AppendOnlyAdvice)}, LEFT(@Changed, 1500));\n");
        Stop(sql, "            ", AppliedMigrationChangedError, "an applied migration changed");
        sql.Append(CultureInfo.InvariantCulture, $"            THROW {AppliedMigrationChangedError}, @ChangedMessage, 1;\n");
        sql.Append("        END;\n");
        sql.Append("    END;\n");
        sql.Append("    DROP TABLE #DbMergeRelease;\n");
        Completed(sql, "    ");
        sql.Append("END;\n");
        sql.Append("GO\n");
    }

    private static void WriteMigration(StringBuilder sql, SqlScriptFile migration, IReadOnlyList<Batch> batches, string? previous, string checksum)
    {
        // Two nested IFs, not one AND: SQL Server does not promise to evaluate the stop flag first, and the journal
        // query must not even be compiled once the script stopped (the journal may not exist yet).
        var guard = $"IF {NotStopped}\nIF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(migration.Name)})";

        sql.Append("-- ").Append(new string('=', 100)).Append('\n');
        sql.Append(CultureInfo.InvariantCulture, $"-- Migration {Sanitize(migration.Name)}  sha256 {checksum}\n");
        WriteHeaderComment(sql, migration);

        void WriteStart()
        {
            if (previous is not null)
            {
                sql.Append(CultureInfo.InvariantCulture, $"    IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(previous)})\n");
                sql.Append("    BEGIN\n");
                Stop(sql, "        ", EarlierStepFailedError, $"{migration.Name}: its predecessor {previous} is not in the journal");
                sql.Append(CultureInfo.InvariantCulture,
                    $"        THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: {migration.Name} not applied: the migration before it, {previous}, is not in the journal, so an earlier step failed. Fix the first error above and run the script again.")}, 1;\n");
                sql.Append("    END;\n");
            }

            sql.Append(CultureInfo.InvariantCulture, $"    PRINT {Literal($"DbMerge deploy: applying {migration.Name}")};\n");
            sql.Append("    SET LOCK_TIMEOUT -1;\n");
            sql.Append("    BEGIN TRANSACTION;\n");
        }

        void WriteTransactionCheck()
        {
            sql.Append("    IF @@TRANCOUNT = 0\n");
            sql.Append("    BEGIN\n");
            Stop(sql, "        ", EarlierStepFailedError, $"{migration.Name}: its transaction was already rolled back");
            sql.Append(CultureInfo.InvariantCulture,
                $"        THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: {migration.Name} stopped: an earlier batch of it failed and its transaction was rolled back; nothing of it was applied. Fix the first error above and run the script again.")}, 1;\n");
            sql.Append("    END;\n");
        }

        for (var b = 0; b < batches.Count; b++)
        {
            sql.Append(guard).Append('\n');
            sql.Append("BEGIN\n");
            if (b == 0)
            {
                WriteStart();
            }
            else
            {
                WriteTransactionCheck();
            }

            WriteBatchBody(sql, batches[b], "    ", $"migration {migration.Name}", retryLockTimeout: false);
            sql.Append("END;\n");
            sql.Append("GO\n");
            sql.Append(EngageNoExec).Append('\n');
            sql.Append("GO\n");
        }

        sql.Append(guard).Append('\n');
        sql.Append("BEGIN\n");
        if (batches.Count > 0)
        {
            WriteTransactionCheck();
        }
        else
        {
            WriteStart(); // a migration with no statement (comments only) is still journaled, as DbUp does
        }

        // Through sp_executesql: the Checksum column is bound only when this runs (it exists by then), so the batch
        // also compiles, under NOEXEC, against a journal plain DbUp created.
        // Inside TRY like every step: a failing journal row (a doomed transaction, 3930; a permission) records the stop.
        sql.Append("    BEGIN TRY\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"        EXEC sys.sp_executesql @stmt = N'{DeploymentJournal.InsertSql}', @params = N'@ScriptName nvarchar(255), @Checksum char(64)', @ScriptName = {Literal(migration.Name)}, @Checksum = '{checksum}';\n");
        sql.Append("        COMMIT TRANSACTION;\n");
        sql.Append("    END TRY\n");
        WriteCatch(sql, "    ", $"migration {migration.Name} (its journal row)");
        sql.Append(CultureInfo.InvariantCulture, $"    PRINT {Literal($"DbMerge deploy: applied {migration.Name}")};\n");
        sql.Append("END;\n");
        sql.Append("GO\n");
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");
    }

    /// <summary>A migration's opening comment (Why / Locks) as line comments, so a reviewer reads it where the migration runs.</summary>
    private static void WriteHeaderComment(StringBuilder sql, SqlScriptFile migration)
    {
        var header = SqlText.HeaderComment(migration.Text);
        if (header is null)
        {
            return;
        }

        var lines = header.Replace("\r\n", "\n", StringComparison.Ordinal)
            .Replace("/*", string.Empty, StringComparison.Ordinal)
            .Replace("*/", string.Empty, StringComparison.Ordinal)
            .Split('\n')
            .Select(l => Sanitize(l.TrimStart().StartsWith("--", StringComparison.Ordinal) ? l.TrimStart()[2..] : l).TrimEnd())
            .SkipWhile(l => l.Length == 0)
            .Reverse().SkipWhile(l => l.Length == 0).Reverse()
            .ToList();
        var indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        foreach (var line in lines)
        {
            sql.Append(line.Length == 0 ? "--" : "--   " + line[indent..]).Append('\n');
        }
    }

    private static void WriteDatabaseObjects(StringBuilder sql, IReadOnlyList<SqlScriptFile> objects, string? lastMigration, List<Finding> problems)
    {
        var carried = objects.Select(o => (File: o, Batches: SplitBatches(o, problems))).Where(o => o.Batches is not null).ToList();
        if (carried.Count == 0)
        {
            return;
        }

        sql.Append("-- ").Append(new string('=', 100)).Append('\n');
        sql.Append("-- Re-runnable objects (database/), in dependency order, every time; each waits at most\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"-- {DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds} ms for its schema lock and is retried up to {DeploymentJournal.LockTimeoutRetries} times on 1222.\n");
        sql.Append(CultureInfo.InvariantCulture, $"IF {NotStopped}\n");
        sql.Append("BEGIN\n");
        Pending(sql, "    ", "the check before the database/ objects");
        if (lastMigration is not null)
        {
            sql.Append(CultureInfo.InvariantCulture, $"    IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(lastMigration)})\n");
            sql.Append("    BEGIN\n");
            Stop(sql, "        ", EarlierStepFailedError, $"the last migration {lastMigration} is not in the journal");
            sql.Append(CultureInfo.InvariantCulture,
                $"        THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: database objects not deployed: the last migration, {lastMigration}, is not in the journal, so an earlier step failed. Fix the first error above and run the script again.")}, 1;\n");
            sql.Append("    END;\n");
        }

        sql.Append(CultureInfo.InvariantCulture, $"    SET LOCK_TIMEOUT {DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds};\n");
        Completed(sql, "    ");
        sql.Append("END;\n");
        sql.Append("GO\n");
        sql.Append(EngageNoExec).Append('\n');
        sql.Append("GO\n");
        foreach (var (file, batches) in carried)
        {
            sql.Append(CultureInfo.InvariantCulture, $"-- {Sanitize(file.RelativePath)}\n");
            foreach (var batch in batches!)
            {
                if (batch.IsSetOnly)
                {
                    // Session options for the CREATE OR ALTER that follows (QUOTED_IDENTIFIER is read when a batch is parsed).
                    WriteBatchBody(sql, batch, string.Empty, file.RelativePath, retryLockTimeout: false);
                }
                else
                {
                    sql.Append(CultureInfo.InvariantCulture, $"IF {NotStopped}\n");
                    sql.Append("BEGIN\n");
                    WriteBatchBody(sql, batch, "    ", file.RelativePath, retryLockTimeout: true);
                    sql.Append("END;\n");
                    sql.Append("GO\n");
                    sql.Append(EngageNoExec).Append('\n');
                }

                sql.Append("GO\n");
            }
        }
    }

    private static void WriteEnd(StringBuilder sql, int migrationCount, int objectCount)
    {
        sql.Append("-- ").Append(new string('=', 100)).Append('\n');
        sql.Append("-- End: executes again after a stop, releases the deploy lock, reports.\n");
        sql.Append("SET NOEXEC OFF;\n");
        sql.Append("GO\n");
        sql.Append(CultureInfo.InvariantCulture, $"DECLARE @Stopped nvarchar(4000) = CONVERT(nvarchar(4000), {StopFlag});\n");
        sql.Append(CultureInfo.InvariantCulture, $"EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = NULL;\n");
        sql.Append("SET LOCK_TIMEOUT -1;\n"); // the session default again (an SSMS window goes on being used)
        // A transaction the session had before the script (51008) is the caller's: left as it was, never rolled back here.
        sql.Append(CultureInfo.InvariantCulture, $"IF @@TRANCOUNT > 0 AND (@Stopped IS NULL OR @Stopped NOT LIKE N'{OpenTransactionStopPrefix}%')\n");
        sql.Append("BEGIN\n");
        sql.Append("    ROLLBACK TRANSACTION;\n");
        sql.Append("    SET @Stopped = COALESCE(@Stopped, N'a transaction left open (rolled back)');\n");
        sql.Append("END;\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"WHILE APPLOCK_MODE(N'public', {Literal(DeploymentJournal.LockResource)}, N'Session') <> N'NoLock'\n");
        sql.Append("BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture, $"    EXEC sys.sp_releaseapplock @Resource = {Literal(DeploymentJournal.LockResource)}, @LockOwner = 'Session';\n");
        sql.Append("END;\n");
        sql.Append("IF @Stopped IS NOT NULL\n");
        sql.Append("BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"    DECLARE @StoppedMessage nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: STOPPED (%s). Nothing after that point was applied or created, and this session holds no deploy lock. Fix the cause (the first error above) and run the script again: applied migrations are skipped.")}, LEFT(@Stopped, 1500));\n");
        sql.Append(CultureInfo.InvariantCulture, $"    THROW {StoppedError}, @StoppedMessage, 1;\n");
        sql.Append("END;\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"PRINT {Literal($"DbMerge deploy: done ({migrationCount} migration(s) in this script, each applied unless already journaled; {objectCount} database object script(s) run).")};\n");
        sql.Append("GO\n");
    }

    /// <summary>
    /// Records, first thing in a guarded batch that is not a carried step, that the batch has not completed: any error
    /// that ends the batch before <see cref="Completed"/> (one the batch does not THROW itself: a permission, a collation
    /// conflict, a statement-level recompile error, an attention) leaves the stop recorded, so the NOEXEC switch after it
    /// engages. The guards fail closed.
    /// </summary>
    private static void Pending(StringBuilder sql, string indent, string step) =>
        sql.Append(indent).Append(CultureInfo.InvariantCulture,
            $"EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = {MessageLiteral($"{step} did not complete: an error above ended it")};\n");

    /// <summary>The last statement of a batch that began with <see cref="Pending"/>: it completed, no stop.</summary>
    private static void Completed(StringBuilder sql, string indent) =>
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = NULL;\n");

    /// <summary>The CATCH of a step: roll back its transaction, record the stop with the original error, re-throw it.</summary>
    private static void WriteCatch(StringBuilder sql, string indent, string what)
    {
        sql.Append(indent).Append("BEGIN CATCH\n");
        sql.Append(indent).Append("    IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;\n");
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"    DECLARE @Stopped nvarchar(4000) = {StoppedReason(what)};\n");
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"    EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = @Stopped;\n");
        sql.Append(indent).Append("    THROW;\n");
        sql.Append(indent).Append("END CATCH;\n");
    }

    /// <summary>The stop reason recorded in a CATCH: the original error number and message, and where.</summary>
    private static string StoppedReason(string what) =>
        $"LEFT(CONCAT(N'error ', ERROR_NUMBER(), N' in {Sanitize(what).Replace("'", "''", StringComparison.Ordinal)}: ', ERROR_MESSAGE()), 1000)";

    /// <summary>Records why the script stops (the session-context key every later batch checks), before the THROW that follows.</summary>
    private static void Stop(StringBuilder sql, string indent, int error, string reason) =>
        sql.Append(indent).Append(CultureInfo.InvariantCulture,
            $"EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = {MessageLiteral($"error {error}: {reason}")};\n");

    /// <summary>
    /// A batch made only of SET statements is written as plain statements (SET inside sp_executesql would revert when
    /// it returns); anything else runs through sp_executesql (so CREATE SCHEMA / CREATE OR ALTER stay first in their
    /// batch) inside TRY/CATCH: a failure, compile errors of the carried text included (XACT_ABORT does not roll back
    /// those), rolls back the open transaction, records the stop and re-throws the original error. With
    /// <paramref name="retryLockTimeout"/>, a lock timeout (1222) is retried with a doubling delay first.
    /// </summary>
    private static void WriteBatchBody(StringBuilder sql, Batch batch, string indent, string what, bool retryLockTimeout)
    {
        if (batch.IsSetOnly)
        {
            foreach (var statement in batch.Statements)
            {
                var text = statement.TrimEnd().TrimEnd(';');
                sql.Append(indent).Append(text).Append(";\n");
            }

            return;
        }

        var stopped = StoppedReason(what);
        sql.Append(indent).Append("DECLARE @Statement nvarchar(max) = ").Append(Literal(batch.Text)).Append(";\n");
        if (!retryLockTimeout)
        {
            sql.Append(indent).Append("BEGIN TRY\n");
            sql.Append(indent).Append("    EXEC sys.sp_executesql @stmt = @Statement;\n");
            sql.Append(indent).Append("END TRY\n");
            WriteCatch(sql, indent, what);
            return;
        }

        var retries = DeploymentJournal.LockTimeoutRetries;
        sql.Append(indent).Append("DECLARE @Attempt int = 1;\n");
        sql.Append(indent).Append("WHILE 1 = 1\n");
        sql.Append(indent).Append("BEGIN\n");
        sql.Append(indent).Append("    BEGIN TRY\n");
        sql.Append(indent).Append("        EXEC sys.sp_executesql @stmt = @Statement;\n");
        sql.Append(indent).Append("        BREAK;\n");
        sql.Append(indent).Append("    END TRY\n");
        sql.Append(indent).Append("    BEGIN CATCH\n");
        sql.Append(indent).Append("        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;\n");
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"        IF ERROR_NUMBER() <> 1222 OR @Attempt > {retries}\n");
        sql.Append(indent).Append("        BEGIN\n");
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"            DECLARE @Stopped nvarchar(4000) = {stopped};\n");
        sql.Append(indent).Append(CultureInfo.InvariantCulture, $"            EXEC sys.sp_set_session_context @key = N'{StopFlagKey}', @value = @Stopped;\n");
        sql.Append(indent).Append("            THROW;\n");
        sql.Append(indent).Append("        END;\n");
        sql.Append(indent).Append("        DECLARE @Wait int = POWER(2, @Attempt - 1);\n");
        // RAISERROR ... WITH NOWAIT, not PRINT: the server sends PRINT output only when the batch ends or a packet fills,
        // so a DBA would see nothing while this object waits (up to a minute), then every retry line at once.
        sql.Append(indent).Append(CultureInfo.InvariantCulture,
            $"        DECLARE @Retry nvarchar(2048) = CONCAT(N'DbMerge deploy: {Sanitize(what).Replace("'", "''", StringComparison.Ordinal)} waited {DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds} ms for its schema lock (1222); retry ', @Attempt, N'/{retries} in ', @Wait, N' s.');\n");
        sql.Append(indent).Append("        RAISERROR(N'%s', 0, 1, @Retry) WITH NOWAIT;\n");
        sql.Append(indent).Append("        DECLARE @Delay char(8) = CONVERT(char(8), DATEADD(SECOND, @Wait, CONVERT(datetime, 0)), 108);\n");
        sql.Append(indent).Append("        WAITFOR DELAY @Delay;\n");
        sql.Append(indent).Append("        SET @Attempt += 1;\n");
        sql.Append(indent).Append("    END CATCH;\n");
        sql.Append(indent).Append("END;\n");
    }

    /// <summary>One GO batch of a source file.</summary>
    private sealed record Batch(string Text, IReadOnlyList<string> Statements, bool IsSetOnly);

    /// <summary>The batches of <paramref name="file"/>, or null (with problems added) when it cannot be carried.</summary>
    private static List<Batch>? SplitBatches(SqlScriptFile file, List<Finding> problems)
    {
        var parsed = SqlText.Parse(file, problems);
        if (parsed.Fragment is not TSqlScript script)
        {
            // Still say which lines sqlcmd would execute: the parse error alone does not tell why the script breaks.
            CheckForSqlcmdCommands(file, SeparatorLines(file.Text), problems);
            return null;
        }

        var before = problems.Count;

        // Batch text is everything between GO lines (leading comments included), exactly what DbUp sends,
        // so a module's definition is the same whichever way it was deployed.
        var segments = new List<(int Start, int End)>();
        var segmentStart = 0;
        foreach (var token in script.ScriptTokenStream)
        {
            if (token.TokenType == TSqlTokenType.Go)
            {
                segments.Add((segmentStart, token.Offset));
                segmentStart = token.Offset + token.Text.Length;
            }
        }

        segments.Add((segmentStart, file.Text.Length));
        CheckForSqlcmdCommands(file, script.ScriptTokenStream.Where(t => t.TokenType == TSqlTokenType.Go).Select(t => t.Line).ToHashSet(), problems);

        var batches = new List<Batch>();
        var tempTablesCreated = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var batch in script.Batches)
        {
            if (batch.Statements.Count == 0)
            {
                continue;
            }

            CheckTempTablesStayInTheirBatch(file, batch, tempTablesCreated, problems);
            CheckSessionOptions(file, batch, problems);
            if (file.RelativePath.StartsWith("migrations/", StringComparison.Ordinal))
            {
                CheckNoTransactionControl(file, batch, problems);
            }

            var (start, end) = segments.First(s => batch.StartOffset >= s.Start && batch.StartOffset < s.End);
            var text = file.Text[start..end].Trim();
            var statements = batch.Statements.Select(s => file.Text.Substring(s.StartOffset, s.FragmentLength)).ToList();
            var setOnly = batch.Statements.All(s => s is PredicateSetStatement or SetCommandStatement or SetTransactionIsolationLevelStatement);
            if (setOnly && statements.Any(s => s.Contains("$(", StringComparison.Ordinal)))
            {
                setOnly = false;
            }

            batches.Add(new Batch(text, statements, setOnly));
        }

        return problems.Count > before ? null : batches;
    }

    /// <summary>
    /// Each batch runs in its own sp_executesql, so a #temp table created in one batch is gone in the next
    /// (DbUp, sending batches on one connection, would keep it): refuse rather than deploy differently.
    /// </summary>
    private static void CheckTempTablesStayInTheirBatch(SqlScriptFile file, TSqlBatch batch, Dictionary<string, int> createdEarlier, List<Finding> problems)
    {
        var visitor = new TempTableVisitor();
        batch.Accept(visitor);
        foreach (var (name, line) in visitor.Referenced)
        {
            if (createdEarlier.TryGetValue(name, out var createdAt) && !visitor.Created.ContainsKey(name))
            {
                problems.Add(new Finding(file.RelativePath, line, RuleId,
                    $"temp table {name} was created in an earlier batch (line {createdAt}); in the deploy script every " +
                    "GO batch runs in its own sp_executesql scope, so it would not exist here. Create and use it in one batch."));
            }
        }

        foreach (var (name, line) in visitor.Created)
        {
            createdEarlier.TryAdd(name, line);
        }
    }

    /// <summary>
    /// Session options that would defeat the deploy script: NOEXEC, PARSEONLY and FMTONLY would switch its stop guard or
    /// its execution off or on behind its back, IMPLICIT_TRANSACTIONS ON would leave transactions open after each step.
    /// </summary>
    private static void CheckSessionOptions(SqlScriptFile file, TSqlBatch batch, List<Finding> problems)
    {
        var visitor = new SessionOptionVisitor();
        batch.Accept(visitor);
        foreach (var set in visitor.Found)
        {
            var forbidden = new List<string>();
            if ((set.Options & SetOptions.NoExec) != 0)
            {
                forbidden.Add("NOEXEC");
            }

            if ((set.Options & SetOptions.ParseOnly) != 0)
            {
                forbidden.Add("PARSEONLY");
            }

            if ((set.Options & SetOptions.FmtOnly) != 0)
            {
                forbidden.Add("FMTONLY");
            }

            if ((set.Options & SetOptions.ImplicitTransactions) != 0 && set.IsOn)
            {
                forbidden.Add("IMPLICIT_TRANSACTIONS ON");
            }

            if (forbidden.Count > 0)
            {
                problems.Add(new Finding(file.RelativePath, set.StartLine, RuleId,
                    $"SET {string.Join(", ", forbidden)}: the deploy script relies on these session options (its stop guard uses NOEXEC, " +
                    "every step must execute and commit its own transaction); a migration or database/ script must not change them."));
            }
        }
    }

    /// <summary>
    /// A migration runs in one transaction the deployment owns, together with its journal row (the deploy script's
    /// BEGIN TRANSACTION ... COMMIT around its batches, DbUp's transaction per script): a COMMIT in it would commit part
    /// of the migration without its journal row (the next run applies it again), a ROLLBACK or BEGIN TRANSACTION would
    /// end or unbalance that transaction. Savepoints (SAVE TRANSACTION, ROLLBACK TRANSACTION name) stay inside it.
    /// </summary>
    private static void CheckNoTransactionControl(SqlScriptFile file, TSqlBatch batch, List<Finding> problems)
    {
        var visitor = new TransactionControlVisitor();
        batch.Accept(visitor);
        foreach (var (statement, line) in visitor.Found)
        {
            problems.Add(new Finding(file.RelativePath, line, RuleId,
                $"{statement} in a migration: a migration runs in one transaction that the deployment owns and that also writes its " +
                "journal row, so its own COMMIT would commit part of it without the journal row (the next run would apply it again), " +
                "and its own BEGIN/ROLLBACK would unbalance or end that transaction. Leave transaction control to the deployment " +
                "(a savepoint, SAVE TRANSACTION / ROLLBACK TRANSACTION name, is fine)."));
        }
    }

    private sealed class TransactionControlVisitor : TSqlFragmentVisitor
    {
        public List<(string Statement, int Line)> Found { get; } = [];

        public override void Visit(BeginTransactionStatement node) => Found.Add(("BEGIN TRANSACTION", node.StartLine));

        public override void Visit(CommitTransactionStatement node) => Found.Add(("COMMIT", node.StartLine));

        public override void Visit(RollbackTransactionStatement node)
        {
            if (node.Name is null)
            {
                Found.Add(("ROLLBACK", node.StartLine));
            }
        }
    }

    private sealed class SessionOptionVisitor : TSqlFragmentVisitor
    {
        public List<PredicateSetStatement> Found { get; } = [];

        public override void Visit(PredicateSetStatement node) => Found.Add(node);
    }

    private sealed class TempTableVisitor : TSqlFragmentVisitor
    {
        public Dictionary<string, int> Created { get; } = new(StringComparer.OrdinalIgnoreCase);

        public List<(string Name, int Line)> Referenced { get; } = [];

        public override void Visit(CreateTableStatement node) => AddCreated(node.SchemaObjectName);

        public override void Visit(SelectStatement node) => AddCreated(node.Into);

        public override void Visit(SchemaObjectName node)
        {
            if (node.BaseIdentifier?.Value is { } name && name.StartsWith('#'))
            {
                Referenced.Add((name, node.StartLine));
            }
        }

        private void AddCreated(SchemaObjectName? name)
        {
            if (name?.BaseIdentifier?.Value is { } value && value.StartsWith('#'))
            {
                Created.TryAdd(value, name.StartLine);
            }
        }
    }

    /// <summary>
    /// sqlcmd treats some line starts as its own commands wherever they are - inside a batch, a comment or a string
    /// (":r", ":setvar", "!!", "exit", "exit the loop", "go", "go 2", "on error ...", ...). Every line of a carried file ends up at
    /// the start of a line of the deploy script (inside a string literal), so such a line is refused with file and line.
    /// </summary>
    private static void CheckForSqlcmdCommands(SqlScriptFile file, IReadOnlySet<int> separatorLines, List<Finding> problems)
    {
        var lines = file.Text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (SqlcmdCommandLine().IsMatch(line) && !separatorLines.Contains(i + 1))
            {
                problems.Add(new Finding(file.RelativePath, i + 1, RuleId,
                    $"this line starts like a sqlcmd command ('{Sanitize(line.Trim())}'): in the deploy script sqlcmd (and SSMS in SQLCMD mode) " +
                    "would execute it wherever it stands, even inside a comment or a string. Reword the line (e.g. put the word in a " +
                    "sentence) so that none starts with ':' or '!!', none starts with 'go', 'exit', 'quit', 'ed' or 'on error' followed by a space or the line end, and none is 'reset'."));
            }
        }
    }

    /// <summary>Lines holding a GO batch separator as ScriptDom's lexer reads them (in code, not in a comment or string).</summary>
    private static HashSet<int> SeparatorLines(string text)
    {
        using var reader = new StringReader(text);
        return new TSql150Parser(initialQuotedIdentifiers: true).GetTokenStream(reader, out _)
            .Where(t => t.TokenType == TSqlTokenType.Go).Select(t => t.Line).ToHashSet();
    }

    // At least as broad as go-sqlcmd's command grammar (pkg/sqlcmd/commands.go): GO, EXIT, QUIT, ED and ON ERROR are
    // commands with any text after a space ("exit the loop ..." is an EXIT with bad arguments), the colon optional.
    [GeneratedRegex(@"^\s*(:|!!|go(\s.*)?$|(exit|quit)(\s.*|\(.*)?$|ed(\s.*)?$|reset\s*$|on\s+error(\s.*)?$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SqlcmdCommandLine();

    /// <summary>
    /// The guarantees the header promises, checked on the finished text: every line sqlcmd would read as a command is a
    /// GO separator or one of the script's two sqlcmd lines; the only variable reference is the SQLCMD-mode probe; pure ASCII.
    /// A violation is a bug of the generator, reported as a finding rather than written.
    /// </summary>
    private static IEnumerable<Finding> CheckInvariants(string text)
    {
        const string where = "(generated) dbmerge script";
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (SqlcmdCommandLine().IsMatch(line) && line != "GO" && line != OnErrorExitLine && line != SetvarLine)
            {
                yield return new Finding(where, i + 1, RuleId, $"the generated line '{Sanitize(line.Trim())}' would be read by sqlcmd as a command; report this as a bug.");
            }
        }

        var probes = Regex.Matches(text, Regex.Escape("$(")).Count;
        var expected = Regex.Matches(text, Regex.Escape(ModeProbe)).Count;
        if (probes != 1 || expected != 1)
        {
            yield return new Finding(where, 0, RuleId,
                $"the generated script holds {probes} sqlcmd variable reference(s); exactly one, {ModeProbe}, is intended. Report this as a bug.");
        }

        var backslash = text.IndexOf('\\', StringComparison.Ordinal);
        if (backslash >= 0)
        {
            yield return new Finding(where, text[..backslash].Count(c => c == '\n') + 1, RuleId,
                "the generated script would contain a backslash (a line continuation in T-SQL literals, an escape to go-sqlcmd); report this as a bug.");
        }

        var nonAscii = text.AsSpan().IndexOfAnyExcept(PrintableAscii);
        if (nonAscii >= 0)
        {
            yield return new Finding(where, text[..nonAscii].Count(c => c == '\n') + 1, RuleId,
                "the generated script would contain a non-ASCII character; report this as a bug.");
        }
    }

    private static readonly System.Buffers.SearchValues<char> PrintableAscii =
        System.Buffers.SearchValues.Create("\t\r\n" + new string(Enumerable.Range(' ', '~' - ' ' + 1).Select(c => (char)c).ToArray()));

    /// <summary>
    /// The exact value as a T-SQL expression in pure ASCII: <c>N'…'</c> with quotes doubled when it can be;
    /// otherwise a concatenation that spells each non-ASCII UTF-16 unit as <c>NCHAR(n)</c> and splits every
    /// "$(" across two literals (so sqlcmd never sees a variable reference) and spells every backslash as <c>NCHAR(92)</c>
    /// (a line continuation before a line end; an escape to go-sqlcmd's batch scanner), starting with
    /// <c>CONVERT(nvarchar(max), …)</c> so the concatenation cannot truncate at 4000 characters. Usable wherever
    /// an expression is allowed (DECLARE initializers, comparisons, VALUES), not as a THROW message.
    /// </summary>
    internal static string Literal(string value)
    {
        var pieces = new List<string>();
        var run = new StringBuilder();
        void EndRun()
        {
            if (run.Length > 0)
            {
                pieces.Add("N'" + run.ToString().Replace("'", "''", StringComparison.Ordinal) + "'");
                run.Clear();
            }
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            // A backslash is spelled too: before a line end T-SQL drops it and the line end from a string literal (a
            // carried "-- C:\" comment would swallow the next line), and go-sqlcmd reads it as an escape inside quotes
            // (it would lose track of where the literal ends, and of every GO after it).
            if (c > '~' || c == '\\' || (c < ' ' && c is not '\t' and not '\r' and not '\n'))
            {
                EndRun();
                pieces.Add(string.Create(CultureInfo.InvariantCulture, $"NCHAR({(int)c})"));
            }
            else
            {
                run.Append(c);
                if (c == '$' && i + 1 < value.Length && value[i + 1] == '(')
                {
                    EndRun();
                }
            }
        }

        EndRun();
        return pieces.Count switch
        {
            0 => "N''",
            1 when pieces[0].StartsWith("N'", StringComparison.Ordinal) => pieces[0],
            _ => "CONVERT(nvarchar(max), " + pieces[0] + ")" + string.Concat(pieces.Skip(1).Select(p => " + " + p)),
        };
    }

    /// <summary>A single ASCII <c>N'…'</c> literal for messages (THROW, FORMATMESSAGE): other characters become '?'.</summary>
    internal static string MessageLiteral(string value) => "N'" + Sanitize(value).Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Text placed in comments and messages: no comment terminators, no sqlcmd variable reference, ASCII.</summary>
    private static string Sanitize(string value) =>
        new string(Typographic().Replace(value, m => m.Value switch
            {
                "\u2192" => "->",
                "\u2190" => "<-",
                "\u2026" => "...",
                "\u2018" or "\u2019" => "'",
                "\u201C" or "\u201D" => "\"",
                "\u2264" => "<=",
                "\u2265" => ">=",
                _ => "-",
            })
            .Replace("*/", "* /", StringComparison.Ordinal).Replace("$(", "$ (", StringComparison.Ordinal)
            .Select(c => c is '\r' or '\n' or '\t' ? ' ' : c == '\\' ? '/' : c < ' ' || c > '~' ? '?' : c).ToArray());

    /// <summary>Typographic characters of prose (arrows, dashes, quotes, ellipsis) that have a plain ASCII spelling.</summary>
    [GeneratedRegex("[\u2190\u2192\u2026\u2018\u2019\u201C\u201D\u2264\u2265\u2013\u2014\u2212]")]
    private static partial Regex Typographic();
}
