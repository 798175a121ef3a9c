using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using DbMerge.Schema;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Deployment;

/// <summary>
/// Writes the DBA deploy script: one file for <c>sqlcmd -b -i FILE</c>, idempotent, holding the same deploy
/// lock and writing the same journal rows (name + checksum) as the <see cref="Migrator"/>, so the runner
/// and the script interoperate both ways.
/// <para>Layout of the output: header comment; session settings; the deploy applock; the journal table
/// (<see cref="DeploymentJournal.EnsureSql"/>); the checksum check of every applied migration (THROW 51001);
/// then per migration a guarded block — each of its GO batches runs through <c>sp_executesql</c> (so
/// CREATE SCHEMA / CREATE OR ALTER stay first in their batch) only when the journal has no row for it,
/// all inside one transaction that also inserts the journal row; then every <c>database/</c> script
/// (RunAlways); finally the lock is released.</para>
/// </summary>
public static partial class DeployScriptGenerator
{
    /// <summary>Error numbers the deploy script throws (documented in the client's error registry).</summary>
    public const int AppliedMigrationChangedError = 51001;
    public const int EarlierStepFailedError = 51002;
    public const int DeployLockTimeoutError = 51003;

    public static string Generate(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied = null) =>
        Generate(layout, alreadyApplied, DateTimeOffset.UtcNow);

    /// <summary>
    /// Generates the script. Migrations named in <paramref name="alreadyApplied"/> (read from the target's
    /// journal) are omitted entirely; their checksums are still verified when the script runs.
    /// </summary>
    public static string Generate(RepositoryLayout layout, IReadOnlyCollection<string>? alreadyApplied, DateTimeOffset generatedAt)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var applied = new HashSet<string>(alreadyApplied ?? [], StringComparer.Ordinal);
        var migrations = layout.Migrations();
        var databaseObjects = layout.DatabaseObjects();
        var checksums = migrations.ToDictionary(m => m.Name, m => MigrationChecksums.ComputeFile(m.FullPath), StringComparer.Ordinal);
        var included = migrations.Where(m => !applied.Contains(m.Name)).ToList();

        var sql = new StringBuilder();
        WriteHeader(sql, generatedAt, migrations, included, databaseObjects.Count);
        WritePrologue(sql);
        WriteChecksumCheck(sql, migrations, checksums);

        for (var i = 0; i < migrations.Count; i++)
        {
            var migration = migrations[i];
            if (applied.Contains(migration.Name))
            {
                continue;
            }

            var previous = i > 0 ? migrations[i - 1].Name : null;
            WriteMigration(sql, migration, previous, checksums[migration.Name]);
        }

        WriteDatabaseObjects(sql, databaseObjects, migrations.Count > 0 ? migrations[^1].Name : null);
        WriteEpilogue(sql, included.Count, databaseObjects.Count);

        var text = sql.ToString();
        if (text.Contains("$(", StringComparison.Ordinal))
        {
            // Unreachable by construction (literals are split); kept as the guarantee the header promises.
            throw new InvalidOperationException("The deploy script would contain a sqlcmd variable reference; report this as a bug.");
        }

        if (text.Any(c => c > '~' || (c < ' ' && c is not '\t' and not '\r' and not '\n')))
        {
            throw new InvalidOperationException("The deploy script would contain a non-ASCII character; report this as a bug.");
        }

        return text;
    }

    private static void WriteHeader(StringBuilder sql, DateTimeOffset generatedAt, IReadOnlyList<SqlScriptFile> all,
        IReadOnlyList<SqlScriptFile> included, int databaseObjectCount)
    {
        sql.Append("/*\n");
        sql.Append("  DbMerge deploy script\n");
        sql.Append(CultureInfo.InvariantCulture, $"  Generated: {generatedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z by 'dbmerge script'.\n");
        sql.Append(CultureInfo.InvariantCulture, $"  Migrations in this script ({included.Count} of {all.Count}):\n");
        foreach (var migration in included)
        {
            sql.Append("    ").Append(Sanitize(migration.Name)).Append('\n');
        }

        if (included.Count < all.Count)
        {
            sql.Append(CultureInfo.InvariantCulture, $"  Omitted as already applied on the target when generated: {all.Count - included.Count} (checksums still verified).\n");
        }

        sql.Append(CultureInfo.InvariantCulture, $"  Then {databaseObjectCount} re-runnable database/ script(s) (CREATE OR ALTER, permissions), every time.\n");
        sql.Append("\n");
        sql.Append("  How to run (sqlcmd 'b' switch is REQUIRED: stop at the first error):\n");
        sql.Append("    sqlcmd -b -S <server> -d <database> -E -i <this file>   (or -U <login>, password in SQLCMDPASSWORD; -C for a self-signed certificate)\n");
        sql.Append("  The script uses no sqlcmd variables and contains no variable reference (a dollar sign before a parenthesis),\n");
        sql.Append("  so it runs unchanged with or without the -x switch. It is pure ASCII (other characters are written as\n");
        sql.Append("  NCHAR(n)), so no code page switch is needed.\n");
        sql.Append("\n");
        sql.Append("  Safe to run again: each migration runs only when the journal dbo.SchemaVersions has no row for it,\n");
        sql.Append("  in its own transaction (XACT_ABORT ON) that also writes its journal row and SHA-256 checksum - the\n");
        sql.Append("  same rows 'dbmerge migrate' writes, so the two can be mixed. The session holds the applock\n");
        sql.Append("  'DbMerge.Deploy' (the runner's lock) for the whole run. Errors: 51001 an applied migration changed;\n");
        sql.Append("  51002 an earlier step failed (script not run with -b); 51003 another deployment holds the lock.\n");
        sql.Append("  A migration stopped by its own SET LOCK_TIMEOUT (error 1222: a busy table) is rolled back and the\n");
        sql.Append("  script stops; run it again later - unlike 'dbmerge migrate', the script does not retry by itself.\n");
        sql.Append("*/\n");
    }

    private static void WritePrologue(StringBuilder sql)
    {
        sql.Append("SET NOCOUNT ON;\n");
        sql.Append("SET XACT_ABORT ON;\n");
        sql.Append("SET ANSI_NULLS ON;\n");
        sql.Append("SET ANSI_PADDING ON;\n");
        sql.Append("SET ANSI_WARNINGS ON;\n");
        sql.Append("SET ARITHABORT ON;\n");
        sql.Append("SET CONCAT_NULL_YIELDS_NULL ON;\n");
        sql.Append("SET NUMERIC_ROUNDABORT OFF;\n");
        sql.Append("SET QUOTED_IDENTIFIER ON;\n");
        sql.Append("GO\n");
        sql.Append("DECLARE @LockResult int;\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"EXEC @LockResult = sys.sp_getapplock @Resource = {Literal(DeploymentJournal.LockResource)}, @LockMode = 'Exclusive', @LockOwner = 'Session', @LockTimeout = {DeploymentJournal.DefaultLockTimeoutMilliseconds};\n");
        sql.Append("IF @LockResult < 0\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"    THROW {DeployLockTimeoutError}, {MessageLiteral($"DbMerge deploy: another deployment held the deploy lock {DeploymentJournal.LockResource} for more than {DeploymentJournal.DefaultLockTimeoutMilliseconds / 1000} s; nothing was applied. Run the script again when it has finished.")}, 1;\n");
        sql.Append("GO\n");
        sql.Append(DeploymentJournal.EnsureSql.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd()).Append('\n');
        sql.Append("GO\n");
    }

    private static void WriteChecksumCheck(StringBuilder sql, IReadOnlyList<SqlScriptFile> migrations, IReadOnlyDictionary<string, string> checksums)
    {
        if (migrations.Count == 0)
        {
            return;
        }

        sql.Append("-- Refuse to continue when an applied migration's file changed (migrations are append-only).\n");
        sql.Append("DECLARE @Changed nvarchar(max);\n");
        sql.Append("SELECT @Changed = STRING_AGG(CONVERT(nvarchar(max), j.ScriptName), N', ')\n");
        sql.Append("FROM dbo.SchemaVersions AS j\n");
        sql.Append("JOIN (VALUES\n");
        for (var i = 0; i < migrations.Count; i++)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"    ({Literal(migrations[i].Name)}, '{checksums[migrations[i].Name]}'){(i < migrations.Count - 1 ? "," : string.Empty)}\n");
        }

        sql.Append(") AS f (ScriptName, Checksum) ON f.ScriptName = j.ScriptName\n");
        sql.Append("WHERE j.Checksum IS NOT NULL AND j.Checksum <> f.Checksum;\n");
        sql.Append("IF @Changed IS NOT NULL\n");
        sql.Append("BEGIN\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"    DECLARE @Message nvarchar(2048) = FORMATMESSAGE({MessageLiteral("DbMerge deploy: applied migration %s changed since it was applied (the journal checksum differs from the file); nothing was applied. " + MigrationChecksums.AppendOnlyAdvice)}, LEFT(@Changed, 1500));\n");
        sql.Append(CultureInfo.InvariantCulture, $"    THROW {AppliedMigrationChangedError}, @Message, 1;\n");
        sql.Append("END;\n");
        sql.Append("GO\n");
    }

    private static void WriteMigration(StringBuilder sql, SqlScriptFile migration, string? previous, string checksum)
    {
        var batches = SplitBatches(migration);
        var guard = $"IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(migration.Name)})";
        var noTransaction = $"    IF @@TRANCOUNT = 0 THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: {migration.Name} stopped: an earlier batch of it failed and its transaction was rolled back, nothing of it was applied. Run this script with sqlcmd -b and fix the first error.")}, 1;\n";

        sql.Append("-- ").Append(new string('=', 100)).Append('\n');
        sql.Append(CultureInfo.InvariantCulture, $"-- Migration {Sanitize(migration.Name)}  sha256 {checksum}\n");
        void WriteStart()
        {
            if (previous is not null)
            {
                sql.Append(CultureInfo.InvariantCulture,
                    $"    IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(previous)}) THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: {migration.Name} not applied: the migration before it, {previous}, is not in the journal, so an earlier step failed. Run this script with sqlcmd -b and fix the first error.")}, 1;\n");
            }

            sql.Append(CultureInfo.InvariantCulture, $"    PRINT {Literal($"DbMerge deploy: applying {migration.Name}")};\n");
            sql.Append("    SET LOCK_TIMEOUT -1;\n");
            sql.Append("    BEGIN TRANSACTION;\n");
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
                sql.Append(noTransaction);
            }

            WriteBatchBody(sql, batches[b], "    ");
            sql.Append("END;\n");
            sql.Append("GO\n");
        }

        sql.Append(guard).Append('\n');
        sql.Append("BEGIN\n");
        if (batches.Count > 0)
        {
            sql.Append(noTransaction);
        }
        else
        {
            WriteStart(); // a migration with no statement (comments only) is still journaled, as DbUp does
        }

        sql.Append(CultureInfo.InvariantCulture,
            $"    INSERT INTO dbo.SchemaVersions (ScriptName, Applied, Checksum) VALUES ({Literal(migration.Name)}, GETUTCDATE(), '{checksum}');\n");
        sql.Append("    COMMIT TRANSACTION;\n");
        sql.Append(CultureInfo.InvariantCulture, $"    PRINT {Literal($"DbMerge deploy: applied {migration.Name}")};\n");
        sql.Append("END;\n");
        sql.Append("GO\n");
    }

    private static void WriteDatabaseObjects(StringBuilder sql, IReadOnlyList<SqlScriptFile> objects, string? lastMigration)
    {
        if (objects.Count == 0)
        {
            return;
        }

        sql.Append("-- ").Append(new string('=', 100)).Append('\n');
        sql.Append("-- Re-runnable objects (database/), in dependency order, every time.\n");
        if (lastMigration is not null)
        {
            sql.Append(CultureInfo.InvariantCulture,
                $"IF NOT EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(lastMigration)}) THROW {EarlierStepFailedError}, {MessageLiteral($"DbMerge deploy: database objects not deployed: the last migration, {lastMigration}, is not in the journal, so an earlier step failed. Run this script with sqlcmd -b and fix the first error.")}, 1;\n");
        }

        sql.Append("SET LOCK_TIMEOUT -1;\n");
        sql.Append("GO\n");
        foreach (var file in objects)
        {
            sql.Append(CultureInfo.InvariantCulture, $"-- {Sanitize(file.RelativePath)}\n");
            foreach (var batch in SplitBatches(file))
            {
                if (batch.IsSetOnly || lastMigration is null)
                {
                    WriteBatchBody(sql, batch, string.Empty);
                }
                else
                {
                    // Never create objects over an incomplete schema, even when the script was run without -b.
                    sql.Append(CultureInfo.InvariantCulture, $"IF EXISTS (SELECT 1 FROM dbo.SchemaVersions WHERE ScriptName = {Literal(lastMigration)})\n");
                    sql.Append("BEGIN\n");
                    WriteBatchBody(sql, batch, "    ");
                    sql.Append("END;\n");
                }

                sql.Append("GO\n");
            }
        }
    }

    private static void WriteEpilogue(StringBuilder sql, int migrationCount, int objectCount)
    {
        sql.Append("EXEC sys.sp_releaseapplock @Resource = ").Append(Literal(DeploymentJournal.LockResource)).Append(", @LockOwner = 'Session';\n");
        sql.Append(CultureInfo.InvariantCulture,
            $"PRINT {Literal($"DbMerge deploy: done ({migrationCount} migration(s) in this script, each applied unless already journaled; {objectCount} database object script(s) run).")};\n");
        sql.Append("GO\n");
    }

    /// <summary>
    /// A batch made only of SET statements is written as plain statements (SET inside sp_executesql would
    /// revert when it returns); anything else runs through sp_executesql so it stays first in its batch.
    /// </summary>
    private static void WriteBatchBody(StringBuilder sql, Batch batch, string indent)
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

        sql.Append(indent).Append("DECLARE @Statement nvarchar(max) = ").Append(Literal(batch.Text)).Append(";\n");
        sql.Append(indent).Append("EXEC sys.sp_executesql @stmt = @Statement;\n");
    }

    /// <summary>One GO batch of a source file.</summary>
    private sealed record Batch(string Text, IReadOnlyList<string> Statements, bool IsSetOnly);

    private static List<Batch> SplitBatches(SqlScriptFile file)
    {
        var parser = new TSql150Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(file.Text);
        var fragment = parser.Parse(reader, out var errors);
        if (errors.Count > 0)
        {
            var first = errors[0];
            throw new InvalidOperationException($"{file.RelativePath}:{first.Line}: does not parse (SQL Server 2019 grammar): {first.Message}");
        }

        // Batch text is everything between GO lines (leading comments included), exactly what DbUp sends,
        // so a module's definition is the same whichever way it was deployed.
        var segments = new List<(int Start, int End)>();
        var segmentStart = 0;
        foreach (var token in fragment.ScriptTokenStream)
        {
            if (token.TokenType == TSqlTokenType.Go)
            {
                segments.Add((segmentStart, token.Offset));
                segmentStart = token.Offset + token.Text.Length;
            }
        }

        segments.Add((segmentStart, file.Text.Length));

        var batches = new List<Batch>();
        var tempTablesCreated = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        foreach (var batch in ((TSqlScript)fragment).Batches)
        {
            if (batch.Statements.Count == 0)
            {
                continue;
            }

            CheckTempTablesStayInTheirBatch(file, batch, tempTablesCreated);

            var (start, end) = segments.First(s => batch.StartOffset >= s.Start && batch.StartOffset < s.End);
            var text = file.Text[start..end].Trim();
            CheckForSqlcmdCommands(file, file.Text[..start].Count(c => c == '\n') + 1, file.Text[start..end]);
            var statements = batch.Statements.Select(s => file.Text.Substring(s.StartOffset, s.FragmentLength)).ToList();
            var setOnly = batch.Statements.All(s => s is PredicateSetStatement or SetCommandStatement or SetTransactionIsolationLevelStatement);
            if (setOnly && statements.Any(s => s.Contains("$(", StringComparison.Ordinal)))
            {
                setOnly = false;
            }

            batches.Add(new Batch(text, statements, setOnly));
        }

        return batches;
    }

    /// <summary>
    /// Each batch runs in its own sp_executesql, so a #temp table created in one batch is gone in the next
    /// (DbUp, sending batches on one connection, would keep it): refuse rather than deploy differently.
    /// </summary>
    private static void CheckTempTablesStayInTheirBatch(SqlScriptFile file, TSqlBatch batch, Dictionary<string, int> createdEarlier)
    {
        var visitor = new TempTableVisitor();
        batch.Accept(visitor);
        foreach (var (name, line) in visitor.Referenced)
        {
            if (createdEarlier.TryGetValue(name, out var createdAt) && !visitor.Created.ContainsKey(name))
            {
                throw new InvalidOperationException(
                    $"{file.RelativePath}:{line}: temp table {name} was created in an earlier batch (line {createdAt}); in the deploy script every " +
                    "GO batch runs in its own sp_executesql scope, so it would not exist here. Create and use it in one batch.");
            }
        }

        foreach (var (name, line) in visitor.Created)
        {
            createdEarlier.TryAdd(name, line);
        }
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
    /// sqlcmd treats some line starts as its own commands even inside a batch (":r", "!!", "exit", …); such a
    /// line inside a migration would break the deploy script, so it is refused with the file and line.
    /// </summary>
    private static void CheckForSqlcmdCommands(SqlScriptFile file, int firstLine, string text)
    {
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (SqlcmdCommandLine().IsMatch(lines[i]))
            {
                throw new InvalidOperationException(
                    $"{file.RelativePath}:{firstLine + i}: this line starts like a sqlcmd command ('{lines[i].Trim()}'); sqlcmd would execute it. Reformat the line.");
            }
        }
    }

    [GeneratedRegex(@"^\s*(:|!!|go(\s+\d+)?\s*$|(exit|quit)\s*(\(.*\))?\s*$|(reset|ed)\s*$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SqlcmdCommandLine();

    /// <summary>
    /// The exact value as a T-SQL expression in pure ASCII: <c>N'…'</c> with quotes doubled when it can be;
    /// otherwise a concatenation that spells each non-ASCII UTF-16 unit as <c>NCHAR(n)</c> and splits every
    /// "$(" across two literals (so sqlcmd never sees a variable reference), starting with
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
            if (c > '~' || (c < ' ' && c is not '\t' and not '\r' and not '\n'))
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

    /// <summary>Text placed in comments: no comment terminators, no sqlcmd variable reference.</summary>
    private static string Sanitize(string value) =>
        new string(value.Replace("*/", "* /", StringComparison.Ordinal).Replace("$(", "$ (", StringComparison.Ordinal)
            .Select(c => c is '\r' or '\n' or '\t' ? ' ' : c < ' ' || c > '~' ? '?' : c).ToArray());
}
