using System.Globalization;

namespace DbMerge.Schema.Merge;

/// <summary>
/// Writes <c>dbmerge.User_UnmergeCore</c> from an <see cref="UnmergePlan"/> — the same policies and model as
/// dbmerge.User_MergeCore. The fixed part (parameters, history checks, locks, the journal pass, the restore loop, error
/// handling) is written once; the per-table sections (the check of every journaled row, the restore of every journal
/// operation the table's policies write) come from the plan. Static T-SQL: every column and index hint is validated
/// offline.
/// </summary>
internal sealed class UnmergeCoreWriter
{
    public const string ProcedureName = "dbmerge.User_UnmergeCore";
    public const string RelativePath = "database/dbmerge/Procedures/dbmerge.User_UnmergeCore.sql";

    /// <summary>Conflicts kept (and stored with a refused run); the message names the first <see cref="NamedConflicts"/>.</summary>
    public const int KeptConflicts = 100;

    public const int NamedConflicts = 5;

    private const string Proc = ProcedureName;

    private readonly UnmergePlan _plan;
    private readonly CodeWriter _w = new();
    private readonly List<string> _bounds = [];
    private readonly UnmergeTable _user;
    private readonly SeekPlan _userEmail;
    private readonly ModelColumn _email;
    private readonly IReadOnlyList<UnmergeTable> _tables;

    private UnmergeCoreWriter(UnmergePlan plan)
    {
        _plan = plan;
        _tables = plan.Tables.Where(t => t.Operations != JournalOperations.None).ToList();
        _user = _tables.Single(t => t.IsUserTable);
        _userEmail = MergePlanner.SeekOn(_user.Table, ["Email"], SqlPredicate.TryParse("IsActive = 1", out _))
                     ?? throw new InvalidOperationException("app.User has no index leading with Email.");
        _email = _user.Table.Column("Email")!;
    }

    public static string Write(UnmergePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var writer = new UnmergeCoreWriter(plan);
        var body = writer.Body();
        var header = writer.Header();
        return "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n" + header + body + "GO\n";
    }

    // ------------------------------------------------------------------------------------------------------------
    // names and expressions

    private static string ChangeTable(UnmergeTable table) => $"@Chg_{table.Table.Schema}_{table.Table.Name}";

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The type a column is read from a JSON image with: strings as Unicode text (exact), everything else as the column's own type.</summary>
    private static string JsonType(ModelColumn column) => column.IsString ? "nvarchar(max)" : column.TypeText;

    /// <summary><c>[A] int '$."A"', …</c>: the WITH clause of OPENJSON over an image.</summary>
    private static string WithClause(IEnumerable<ModelColumn> columns) =>
        string.Join(", ", columns.Select(c => $"{Sql.Bracket(c.Name)} {JsonType(c)} '$.\"{c.Name}\"'"));

    /// <summary>The WITH clause of OPENJSON over a RowKey: key columns in their own types, so a join on them seeks the primary key.</summary>
    internal static string KeyWithClause(IEnumerable<ModelColumn> columns) =>
        string.Join(", ", columns.Select(c => $"{Sql.Bracket(c.Name)} {c.TypeText} '$.\"{c.Name}\"'"));

    /// <summary>
    /// The current value of <paramref name="column"/> of row <paramref name="alias"/>. For app.User's UpdatedAt it sees through
    /// this unmerge's own lock of the two accounts (L2: UpdatedAt set to the unmerge's time, kept in @Accounts): while a row
    /// still carries that value, its value before the lock is the one compared.
    /// </summary>
    private string Current(UnmergeTable table, ModelColumn column, string alias) =>
        table.IsUserTable && column.Name.Equals(MergePlanner.UpdatedAtColumn, StringComparison.OrdinalIgnoreCase)
            ? $"IIF(o.UserId IS NOT NULL AND {alias}.{Sql.Name(column.Name)} = o.LockedUpdatedAt, o.UpdatedAt, {alias}.{Sql.Name(column.Name)})"
            : $"{alias}.{Sql.Name(column.Name)}";

    /// <summary>
    /// Exact, NULL-safe equality of a current value and an image value: strings and binary by their bytes and length (no
    /// case folding, no trailing-space padding), datetimeoffset by its bytes (the offset too), everything else by value.
    /// </summary>
    private static string Equal(ModelColumn column, string current, string image)
    {
        var both = $"({current} IS NULL AND {image} IS NULL)";
        if (column.IsString)
        {
            return $"((CONVERT(varbinary(max), CONVERT(nvarchar(max), {current})) = CONVERT(varbinary(max), {image}) AND DATALENGTH(CONVERT(nvarchar(max), {current})) = DATALENGTH({image})) OR {both})";
        }

        if (column.TypeName is "binary" or "varbinary" or "datetimeoffset")
        {
            return $"((CONVERT(varbinary(max), {current}) = CONVERT(varbinary(max), {image}) AND DATALENGTH({current}) = DATALENGTH({image})) OR {both})";
        }

        return $"({current} = {image} OR {both})";
    }

    private string RowEquals(UnmergeTable table, string alias, string image) =>
        string.Join("\n    AND ", table.Columns.Select(c => Equal(c, Current(table, c, alias), $"{image}.{Sql.Bracket(c.Name)}")));

    private static string KeyJoin(UnmergeTable table, string alias, string key) =>
        string.Join(" AND ", table.Key.Select(k => $"{alias}.{Sql.Name(k.Name)} = {key}.{Sql.Bracket(k.Name)}"));

    /// <summary>True (1 = 1) when <paramref name="image"/> holds exactly the table's stored columns, by name.</summary>
    private static string ShapeMismatch(UnmergeTable table, string image) =>
        $"(SELECT COUNT(*) FROM OPENJSON({image}) AS s WHERE s.[key] IN ({string.Join(", ", table.Columns.Select(c => Sql.Literal(c.Name)))})) <> {Int(table.Columns.Count)}\n" +
        $"                       OR (SELECT COUNT(*) FROM OPENJSON({image})) <> {Int(table.Columns.Count)}";

    private static string RunRange(string alias) => $"{alias}.ChangeSeq > @RunBottom AND {alias}.ChangeSeq <= @RunTop";

    // ------------------------------------------------------------------------------------------------------------
    // body

    private string Body()
    {
        var w = _w;
        w.Line($"CREATE OR ALTER PROCEDURE {Proc}");
        using (w.Indent())
        {
            w.Lines([
                "@UnmergeRunId  bigint,",
                "@MergeRunId    bigint,",
                "@IsDryRun      bit,",
                "@LockTimeoutMs int,",
                "@MaxDurationMs int,",
                "@BatchSize     int,",
                "@SummaryJson   nvarchar(max) OUTPUT",
            ]);
        }

        w.Line("WITH EXECUTE AS OWNER");
        w.Line("AS");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET NOCOUNT, XACT_ABORT ON;");
            w.Line();
            Declarations();
            w.Line();
            w.Line("BEGIN TRY");
            using (w.Indent())
            {
                CheckParameters();
                ApplockAndHistory();
                JournalPass();
                UserRows();
                foreach (var table in _tables)
                {
                    Check(table);
                }

                Conflicts();
                Restore();
                Finish();
            }

            w.Line("END TRY");
            w.Line("BEGIN CATCH");
            using (w.Indent())
            {
                Catch();
            }

            w.Line("END CATCH;");
        }

        w.Line("END;");
        return w.ToString();
    }

    private void Declarations()
    {
        var w = _w;
        w.Lines([
            "DECLARE @Message nvarchar(2048);",
            "DECLARE @Step nvarchar(400) = N'check parameters';",
            "DECLARE @Now datetime2(3) = SYSUTCDATETIME();",
            "DECLARE @Deadline datetime2(3);",
            "DECLARE @Wait int = @LockTimeoutMs;",
            "DECLARE @CallerLockTimeout int = @@LOCK_TIMEOUT; -- restored in the CATCH for the failure logging",
            "DECLARE @Rows int;",
            "DECLARE @Done int;",
            "DECLARE @Expected int;",
            "DECLARE @ChangeSeq int = 0;",
            "DECLARE @LockResult int;",
            "DECLARE @Resource nvarchar(255);",
            "DECLARE @RunStatus varchar(10);",
            "DECLARE @RunKind varchar(10);",
            "DECLARE @RunUndoes bigint;",
            "DECLARE @RunSourceUserId int;",
            "DECLARE @RunTargetUserId int;",
            "DECLARE @RunIsOurs bit = 0; -- set once @UnmergeRunId is proven this call's running unmerge (51153): only then does the CATCH finish it",
            "DECLARE @MergeFound bit = 0;",
            "DECLARE @MergeStatus varchar(10);",
            "DECLARE @MergeKind varchar(10);",
            "DECLARE @MergeFinishedAt datetime2(3);",
            "DECLARE @MergeSummary nvarchar(max);",
            "DECLARE @SourceUserId int;",
            "DECLARE @TargetUserId int;",
            "DECLARE @FirstUserId int;",
            "DECLARE @SecondUserId int;",
            "DECLARE @UndoneBy bigint;",
            "DECLARE @LaterRunId bigint;",
            "DECLARE @LaterKind varchar(10);",
            "DECLARE @LaterSourceUserId int;",
            "DECLARE @LaterTargetUserId int;",
            "DECLARE @Locked int;",
            "DECLARE @LockFrom int = -2147483648; -- L2: the keyset of the users' U-locks (ascending UserId)",
            "DECLARE @LockLast int;",
            "DECLARE @UsersLocked int;",
            "DECLARE @OldJournal bigint;",
            $"DECLARE @SourceEmail {_email.TypeText};",
            "DECLARE @SourceWasActive bit;",
            "DECLARE @AddressHolder int;",
            "DECLARE @JournalSeq int = 0;",
            "DECLARE @Changes int = 0;",
            "DECLARE @Unknown nvarchar(400);",
            "DECLARE @Key nvarchar(400);",
            "DECLARE @Room int;",
            "DECLARE @ConflictCount int = 0;",
            "DECLARE @ConflictText nvarchar(1200);",
            "DECLARE @Next int;",
            "DECLARE @RunTop int;",
            "DECLARE @RunBottom int;",
            "DECLARE @RunSchemaName sysname;",
            "DECLARE @RunTableName sysname;",
            "DECLARE @RunOperation varchar(6);",
            "DECLARE @RunPolicySchemaName sysname;",
            "DECLARE @RunPolicyTableName sysname;",
            "DECLARE @RunPolicyColumnName sysname;",
            "DECLARE @Undone int;",
            "DECLARE @IdentityInsert nvarchar(300);",
            "DECLARE @ErrorNumber int;",
            "DECLARE @ErrorMessage nvarchar(2048);",
        ]);
        w.Line();
        w.Comment("The tables this procedure restores, in the lock order (L3) their checks follow, with the journal operations it undoes (1 update, 2 delete, 4 insert): a journal row of any other table, or of another operation, refuses the unmerge (51155).");
        w.Line("DECLARE @Table TABLE (TableOrder smallint NOT NULL PRIMARY KEY, SchemaName sysname NOT NULL, TableName sysname NOT NULL, Operations tinyint NOT NULL, UNIQUE (SchemaName, TableName));");
        w.Comment("Every row the merge journaled, once, with the last change the merge made to it (the journal pass): what the check compares the row with. RowKey compares byte for byte.");
        w.Line("DECLARE @Row TABLE (TableOrder smallint NOT NULL, RowKey nvarchar(400) COLLATE Latin1_General_100_BIN2 NOT NULL, LastSeq int NOT NULL, PRIMARY KEY (TableOrder, RowKey));");
        w.Line("DECLARE @Journal TABLE (ChangeSeq int NOT NULL PRIMARY KEY, TableOrder smallint NULL, Undoable bit NOT NULL, SchemaName sysname NOT NULL, TableName sysname NOT NULL, Operation varchar(6) NOT NULL, RowKey nvarchar(400) COLLATE Latin1_General_100_BIN2 NOT NULL);");
        w.Line("DECLARE @Check TABLE (RowKey nvarchar(400) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY, LastSeq int NOT NULL);");
        w.Line("DECLARE @Found TABLE (RowKey nvarchar(400) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY, Problem nvarchar(200) NOT NULL);");
        w.Line("DECLARE @Conflict TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, SchemaName sysname NOT NULL, TableName sysname NOT NULL, RowKey nvarchar(400) NOT NULL, Problem nvarchar(200) NOT NULL);");
        w.Comment("One batch of the merge's journal, newest first (the restore).");
        w.Line("DECLARE @Undo TABLE");
        w.Line("(");
        using (w.Indent())
        {
            w.Lines([
                "ChangeSeq        int            NOT NULL PRIMARY KEY,",
                "SchemaName       sysname        NOT NULL,",
                "TableName        sysname        NOT NULL,",
                "Operation        varchar(6)     NOT NULL,",
                "Action           varchar(10)    NOT NULL,",
                "PolicySchemaName sysname        NULL,",
                "PolicyTableName  sysname        NULL,",
                "PolicyColumnName sysname        NULL,",
                "RowKey           nvarchar(400)  COLLATE Latin1_General_100_BIN2 NOT NULL,",
                "BeforeImage      nvarchar(max)  NULL,",
                "AfterImage       nvarchar(max)  NULL",
            ]);
        }

        w.Line(");");
        w.Comment("L2: every app.User row the run journaled (both users, the accounts it re-pointed from the source: policy app.User.MergedIntoUserId), collected by the journal pass, and one batch of them with both users, U-locked ascending (the primary key orders the nested-loop lock).");
        w.Line("DECLARE @UserKey TABLE (UserId int NOT NULL PRIMARY KEY);");
        w.Line("DECLARE @LockUser TABLE (UserId int NOT NULL PRIMARY KEY);");
        w.Comment("The two accounts' UpdatedAt before this unmerge's own lock (L2) and the value the lock wrote: the checks and restores compare a row that still carries the lock's value with its value before it.");
        w.Line("DECLARE @Accounts TABLE (UserId int NOT NULL PRIMARY KEY, UpdatedAt datetime2(3) NOT NULL, LockedUpdatedAt datetime2(3) NOT NULL);");
        w.Comment("The report, one row per policy of the undone run (its summary) and one for its lock of the two user rows: the merge's changes undone, by the action they undid. Table variables survive a rollback: a dry run and a refused run report it too.");
        w.Line("DECLARE @Summary TABLE");
        w.Line("(");
        using (w.Indent())
        {
            w.Lines([
                "ApplyOrder smallint    NOT NULL,",
                "SchemaName sysname     NOT NULL,",
                "TableName  sysname     NOT NULL,",
                "ColumnName sysname     NOT NULL,",
                "Policy     varchar(20) NOT NULL,",
                "Moved      int         NOT NULL DEFAULT (0),",
                "Merged     int         NOT NULL DEFAULT (0),",
                "Deleted    int         NOT NULL DEFAULT (0),",
                "Locked     int         NOT NULL DEFAULT (0),",
                "PRIMARY KEY (SchemaName, TableName, ColumnName, Policy)",
            ]);
        }

        w.Line(");");
        w.Comment("This unmerge's own journal, one capture per table it changes (as dbmerge.User_MergeCore's): OUTPUT … INTO fills them per statement, a flush writes them to dbmerge.MergeChange under @UnmergeRunId in change order. B_ = before the change, A_ = after.");
        foreach (var table in _tables)
        {
            w.Line($"DECLARE {ChangeTable(table)} TABLE");
            w.Line("(");
            using (w.Indent())
            {
                w.Line("Seq              int IDENTITY(1, 1) NOT NULL PRIMARY KEY,");
                w.Line("Operation        varchar(6)  NOT NULL,");
                w.Line("Action           varchar(10) NOT NULL,");
                w.Line("PolicySchemaName sysname     NULL,");
                w.Line("PolicyTableName  sysname     NULL,");
                w.Line("PolicyColumnName sysname     NULL,");
                var columns = table.Columns;
                foreach (var c in columns)
                {
                    w.Line($"B_{c.Name} {c.VariableColumnType} NULL,");
                }

                for (var i = 0; i < columns.Count; i++)
                {
                    w.Line($"A_{columns[i].Name} {columns[i].VariableColumnType} NULL{(i == columns.Count - 1 ? string.Empty : ",")}");
                }
            }

            w.Line(");");
        }
    }

    private void CheckParameters()
    {
        var w = _w;
        w.Line("/* ---- check parameters and the run ------------------------------------------------------------------------ */");
        Throw("@@TRANCOUNT = 0", 51152,
            $"N'{Proc}: requires the caller''s transaction (unmerge run %s of run %s); begin one, or call api.User_Unmerge.', ISNULL(CONVERT(nvarchar(20), @UnmergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL')");
        w.Line();
        w.Line("IF @UnmergeRunId IS NULL OR @MergeRunId IS NULL OR @IsDryRun IS NULL OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000");
        w.Line($"   OR @MaxDurationMs IS NULL OR @MaxDurationMs NOT BETWEEN 1000 AND 86400000 OR @BatchSize IS NULL OR @BatchSize NOT BETWEEN 1 AND {Int(MergeCoreWriter.MaxBatchSize)}");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line($"SET @Message = FORMATMESSAGE(N'{Proc}: @UnmergeRunId, @MergeRunId and @IsDryRun are required; @LockTimeoutMs must be 0..600000, @MaxDurationMs 1000..86400000 and @BatchSize 1..{Int(MergeCoreWriter.MaxBatchSize)} (unmerge run %s, run %s, lock timeout %s, max duration %s, batch size %s).',");
            w.Line("    ISNULL(CONVERT(nvarchar(20), @UnmergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'),");
            w.Line("    ISNULL(CONVERT(nvarchar(12), @MaxDurationMs), N'NULL'), ISNULL(CONVERT(nvarchar(12), @BatchSize), N'NULL'));");
            w.Line("THROW 51141, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
        w.Comment("Every lock wait from here on is bounded (51150), the reads of dbmerge.MergeRun before the applocks too: under READ COMMITTED without RCSI they wait for the X lock of a run's row being finished (a merge's committed status, written in its transaction), and the caller's LOCK_TIMEOUT (-1 by default) would let them wait without bound.");
        w.Line("SET LOCK_TIMEOUT @Wait;");
        w.Comment("The run to undo: its users (never changed after its start) and, read again under the users' applocks below, its outcome. Seeks PK_dbmerge_MergeRun.");
        w.Line("SELECT @MergeFound = 1, @SourceUserId = m.SourceUserId, @TargetUserId = m.TargetUserId");
        w.Line("FROM dbmerge.MergeRun AS m WITH (FORCESEEK (PK_dbmerge_MergeRun (MergeRunId)))");
        w.Line("WHERE m.MergeRunId = @MergeRunId;");
        Throw("@MergeFound = 0", 51142, $"N'{Proc}: no run has id %I64d: nothing to undo.', @MergeRunId");
        Throw("@SourceUserId IS NULL OR @TargetUserId IS NULL OR @SourceUserId = @TargetUserId", 51143,
            $"N'{Proc}: run %I64d names no source and target user (source %s, target %s): it is not a merge or sweep that changed anything; nothing to undo.', @MergeRunId, ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL')");
        w.Line();
        w.Comment("This call's own run was started by dbmerge.MergeRun_Start (committed, status running, outside this transaction) as an unmerge of @MergeRunId and its users, by this session: APPLOCK_MODE of its session-owned applock DbMerge.MergeRun:<id> proves it (another session's running unmerge of the same run must not pass and then be marked failed by this call's CATCH).");
        w.Line("SELECT @RunStatus = r.Status, @RunKind = r.Kind, @RunUndoes = r.UndoesMergeRunId, @RunSourceUserId = r.SourceUserId, @RunTargetUserId = r.TargetUserId");
        w.Line("FROM dbmerge.MergeRun AS r WITH (FORCESEEK (PK_dbmerge_MergeRun (MergeRunId)))");
        w.Line("WHERE r.MergeRunId = @UnmergeRunId;");
        w.Line("IF @RunStatus IS NULL OR @RunStatus <> 'running' OR @RunKind IS NULL OR @RunKind <> 'unmerge' OR @RunUndoes IS NULL OR @RunUndoes <> @MergeRunId");
        w.Line("   OR @RunSourceUserId IS NULL OR @RunSourceUserId <> @SourceUserId OR @RunTargetUserId IS NULL OR @RunTargetUserId <> @TargetUserId");
        w.Line("   OR APPLOCK_MODE(N'public', CONCAT(N'DbMerge.MergeRun:', @UnmergeRunId), N'Session') <> N'Exclusive'");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line($"SET @Message = FORMATMESSAGE(N'{Proc}: run %I64d is not a running unmerge of run %I64d and its users %d and %d started by this session (status %s, kind %s, undoes %s, its applock held here: %s): start it with dbmerge.MergeRun_Start.',");
            w.Line("    @UnmergeRunId, @MergeRunId, @SourceUserId, @TargetUserId, ISNULL(@RunStatus, 'none'), ISNULL(@RunKind, 'none'), ISNULL(CONVERT(nvarchar(20), @RunUndoes), N'NULL'),");
            w.Line("    IIF(APPLOCK_MODE(N'public', CONCAT(N'DbMerge.MergeRun:', @UnmergeRunId), N'Session') = N'Exclusive', N'yes', N'no'));");
            w.Line("THROW 51153, @Message, 1;");
        }

        w.Line("END;");
        w.Line("SET @RunIsOurs = 1;");
        w.Line();
        w.Line("INSERT INTO @Table (TableOrder, SchemaName, TableName, Operations)");
        w.Line("VALUES");
        using (w.Indent())
        {
            for (var i = 0; i < _tables.Count; i++)
            {
                var t = _tables[i];
                w.Line($"({Int(t.Order)}, {Sql.Literal(t.Table.Schema)}, {Sql.Literal(t.Table.Name)}, {Int((int)t.Operations)}){(i == _tables.Count - 1 ? ";" : ",")}");
            }
        }

        w.Line();
        w.Line("SET @Deadline = DATEADD(MILLISECOND, @MaxDurationMs, @Now);");
        w.Line();
    }

    private void ApplockAndHistory()
    {
        var w = _w;
        w.Line("/* ---- L1: applocks on both users, lower id first (transaction-owned), as the merge takes them ----------------- */");
        w.Line("SET @Step = N'L1 applocks DbMerge.User:<id> on both users';");
        w.Line($"RAISERROR(N'{Proc}: %s', 10, 1, @Step) WITH NOWAIT;");
        w.Line("SET @FirstUserId = IIF(@SourceUserId < @TargetUserId, @SourceUserId, @TargetUserId);");
        w.Line("SET @SecondUserId = IIF(@SourceUserId < @TargetUserId, @TargetUserId, @SourceUserId);");
        foreach (var which in new[] { "@FirstUserId", "@SecondUserId" })
        {
            w.Line($"SET @Resource = CONCAT(N'DbMerge.User:', {which});");
            w.Line("EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;");
            Throw("@LockResult < 0", 51150,
                $"N'{Proc}: unmerge run %I64d could not take applock %s within %d ms (sp_getapplock returned %d): a merge, sweep, unmerge or reconciliation holds the user. Nothing was changed; retry later.', @UnmergeRunId, @Resource, @LockTimeoutMs, @LockResult");
        }

        w.Line();
        w.Line("/* ---- the run must be a committed merge or sweep, not undone, with journal v2, and the last run of its users -- */");
        w.Comment("Under the applocks no merge, sweep or unmerge of either user runs: the history read here cannot change until commit. dbmerge.MergeRun is last in the lock order, but these reads wait for nothing another DbMerge transaction holds (a run of these users would hold the applocks; the journal of a committed run is never written again).");
        w.Line("SET @Step = N'history';");
        w.Line("SELECT @MergeStatus = m.Status, @MergeKind = ISNULL(m.Kind, 'merge'), @MergeFinishedAt = m.FinishedAt, @MergeSummary = m.SummaryJson");
        w.Line("FROM dbmerge.MergeRun AS m WITH (FORCESEEK (PK_dbmerge_MergeRun (MergeRunId)))");
        w.Line("WHERE m.MergeRunId = @MergeRunId;");
        Throw("@MergeStatus <> 'committed' OR @MergeKind NOT IN ('merge', 'sweep') OR @MergeFinishedAt IS NULL", 51143,
            $"N'{Proc}: run %I64d is a %s with status %s: only a committed merge or sweep can be undone (a dry run, refused, failed, running or abandoned run changed nothing; an unmerge is undone by merging again).', @MergeRunId, @MergeKind, ISNULL(@MergeStatus, 'none')");
        w.Comment("Undone already? Seeks UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed (UndoesMergeRunId), the predicate repeating its filter.");
        w.Line("SELECT @UndoneBy = u.MergeRunId");
        w.Line("FROM dbmerge.MergeRun AS u WITH (FORCESEEK (UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed (UndoesMergeRunId)))");
        w.Line("WHERE u.UndoesMergeRunId = @MergeRunId AND u.UndoesMergeRunId IS NOT NULL AND u.Status = 'committed';");
        Throw("@UndoneBy IS NOT NULL", 51144,
            $"N'{Proc}: run %I64d was already undone by unmerge run %I64d; nothing was changed.', @MergeRunId, @UndoneBy");
        w.Comment($"Journal v2: the run's first two changes are its lock of both user rows (app.User, action locked; dbmerge.User_MergeCore writes them before anything else). Their before-images are the accounts as they were before the run: the source's e-mail and active flag are what the restore writes back. Seeks PK_dbmerge_MergeChange (MergeRunId, ChangeSeq); 2 rows.");
        w.Line("SELECT @Locked = COUNT(*)");
        w.Line("FROM dbmerge.MergeChange AS c WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId)))");
        w.Line("CROSS APPLY OPENJSON(c.RowKey) WITH (UserId int '$.\"UserId\"') AS k");
        w.Line($"WHERE c.MergeRunId = @MergeRunId AND c.ChangeSeq BETWEEN 1 AND 2 AND c.Action = 'locked' AND c.Operation = 'update'");
        w.Line($"  AND c.SchemaName = {Sql.Literal(_user.Table.Schema)} AND c.TableName = {Sql.Literal(_user.Table.Name)} AND (k.UserId = @SourceUserId OR k.UserId = @TargetUserId);");
        w.Line("IF @Locked <> 2");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Comment("A run merged before journal v2 (migration 0040) has before-images only, in dbmerge.MergeJournal: no after-images to prove nothing changed since, no change order to replay. Seeks PK_dbmerge_MergeJournal (MergeRunId, …).");
            w.Line("SELECT @OldJournal = COUNT_BIG(*) FROM dbmerge.MergeJournal AS j WITH (FORCESEEK (PK_dbmerge_MergeJournal (MergeRunId))) WHERE j.MergeRunId = @MergeRunId;");
            w.Line($"SET @Message = FORMATMESSAGE(N'{Proc}: run %I64d has no journal v2 (dbmerge.MergeChange: %d of its 2 lock rows; dbmerge.MergeJournal: %I64d row(s)): a merge journaled before migration 0040 kept before-images only, without after-images or change order, so it cannot be undone safely. Nothing was changed.',");
            w.Line("    @MergeRunId, @Locked, @OldJournal);");
            w.Line("THROW 51145, @Message, 1;");
        }

        w.Line("END;");
        w.Line("SELECT @SourceEmail = b.Email, @SourceWasActive = b.IsActive");
        w.Line("FROM dbmerge.MergeChange AS c WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId)))");
        w.Line($"CROSS APPLY OPENJSON(c.BeforeImage) WITH (UserId int '$.\"UserId\"', Email {JsonType(_email)} '$.\"Email\"', IsActive bit '$.\"IsActive\"') AS b");
        w.Line("WHERE c.MergeRunId = @MergeRunId AND c.ChangeSeq BETWEEN 1 AND 2 AND b.UserId = @SourceUserId;");
        w.Comment("A later committed merge or sweep of either user, not undone itself, changed what this run left: undo it first (newest first). Later means committed later: a run's committed status and FinishedAt are written inside its transaction, and runs of a common user serialize on its applock, so their FinishedAt follow their commit order (run id breaks a tie; it is the start order). Seeks IX_dbmerge_MergeRun_SourceUserId / _TargetUserId per user (the users' history), PK_dbmerge_MergeRun per run, UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed per candidate.");
        w.Line("SELECT TOP (1) @LaterRunId = r.MergeRunId, @LaterKind = ISNULL(r.Kind, 'merge'), @LaterSourceUserId = r.SourceUserId, @LaterTargetUserId = r.TargetUserId");
        w.Line("FROM (SELECT s.MergeRunId FROM dbmerge.MergeRun AS s WITH (FORCESEEK (IX_dbmerge_MergeRun_SourceUserId (SourceUserId))) WHERE s.SourceUserId = @FirstUserId AND s.SourceUserId IS NOT NULL");
        w.Line("      UNION");
        w.Line("      SELECT s.MergeRunId FROM dbmerge.MergeRun AS s WITH (FORCESEEK (IX_dbmerge_MergeRun_SourceUserId (SourceUserId))) WHERE s.SourceUserId = @SecondUserId AND s.SourceUserId IS NOT NULL");
        w.Line("      UNION");
        w.Line("      SELECT s.MergeRunId FROM dbmerge.MergeRun AS s WITH (FORCESEEK (IX_dbmerge_MergeRun_TargetUserId (TargetUserId))) WHERE s.TargetUserId = @FirstUserId AND s.TargetUserId IS NOT NULL");
        w.Line("      UNION");
        w.Line("      SELECT s.MergeRunId FROM dbmerge.MergeRun AS s WITH (FORCESEEK (IX_dbmerge_MergeRun_TargetUserId (TargetUserId))) WHERE s.TargetUserId = @SecondUserId AND s.TargetUserId IS NOT NULL) AS x");
        w.Line("JOIN dbmerge.MergeRun AS r WITH (FORCESEEK (PK_dbmerge_MergeRun (MergeRunId))) ON r.MergeRunId = x.MergeRunId");
        w.Line("WHERE r.MergeRunId <> @MergeRunId AND r.Status = 'committed' AND ISNULL(r.Kind, 'merge') IN ('merge', 'sweep')");
        w.Line("  AND (r.FinishedAt > @MergeFinishedAt OR (r.FinishedAt = @MergeFinishedAt AND r.MergeRunId > @MergeRunId))");
        w.Line("  AND NOT EXISTS (SELECT 1 FROM dbmerge.MergeRun AS u WITH (FORCESEEK (UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed (UndoesMergeRunId)))");
        w.Line("                  WHERE u.UndoesMergeRunId = r.MergeRunId AND u.UndoesMergeRunId IS NOT NULL AND u.Status = 'committed')");
        w.Line("ORDER BY r.FinishedAt, r.MergeRunId;");
        Throw("@LaterRunId IS NOT NULL", 51146,
            $"N'{Proc}: refused: %s run %I64d (user %s into user %s) committed after run %I64d and involves its user %d or %d: undo run %I64d first (the newest first). Nothing was changed.', @LaterKind, @LaterRunId, ISNULL(CONVERT(nvarchar(12), @LaterSourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LaterTargetUserId), N'NULL'), @MergeRunId, @SourceUserId, @TargetUserId, @LaterRunId");
        AddBound("hist", "SELECT dbmerge.MergeRun (later runs of both users)", "IX_dbmerge_MergeRun_SourceUserId / _TargetUserId (user), PK_dbmerge_MergeRun", "the two users' runs");
        w.Line();
        w.Comment("The report's rows: the policies of the undone run, from its summary (dbmerge.MergeSummary_Rows reads the merge summary's shape), and its lock of the two user rows.");
        w.Line("INSERT INTO @Summary (ApplyOrder, SchemaName, TableName, ColumnName, Policy)");
        w.Line("SELECT j.ApplyOrder, j.SchemaName, j.TableName, j.ColumnName, j.Policy");
        w.Line("FROM dbmerge.MergeSummary_Rows(@MergeSummary) AS j");
        w.Line("WHERE j.SchemaName IS NOT NULL AND j.TableName IS NOT NULL AND j.ColumnName IS NOT NULL AND j.Policy IS NOT NULL;");
        w.Line("INSERT INTO @Summary (ApplyOrder, SchemaName, TableName, ColumnName, Policy)");
        w.Line($"VALUES (0, {Sql.Literal(_user.Table.Schema)}, {Sql.Literal(_user.Table.Name)}, {Sql.Literal(MergePlanner.UpdatedAtColumn)}, 'locked');");
        w.Line();
    }

    private void UserRows()
    {
        var w = _w;
        var user = _user.Table;
        var key = new SeekPlan(user.PrimaryKey!, user.PrimaryKey!.Columns, null);
        w.Line("/* ---- L2: U-locks on both users' and the re-pointed accounts' app.User rows, ascending UserId (as the merge) ------ */");
        w.Comment($"api.Invitation_Create and api.Invitation_Revoke lock (UPDLOCK, HOLDLOCK), ascending, every account holding an invitation's address: often the source and the accounts merged into it (they share its address), whose MergedIntoUserId the restore sets back to the source. Checked only in the last check table (app.User, L3), after the two users' rows, they closed a cycle with such a call (it holds such an account, waits for the source; the unmerge holds the source, waits for that account). So every app.User row the run journaled (@UserKey, from the journal pass) is U-locked here with both users, one ascending sequence of UserId, in keyset batches of at most @BatchSize ids: a nested-loop join in @LockUser's key order through {key.Describe} (UPDLOCK, ROWLOCK: held to commit). The UPDATEs below convert the two users' U locks to X; the app.User check re-reads the others under the locks they already hold.");
        w.Line("SET @Step = N'L2 U-locks on both users and the accounts the run re-pointed';");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE FROM @LockUser;");
            w.Line("INSERT INTO @LockUser (UserId)");
            w.Line("SELECT TOP (@BatchSize) x.UserId");
            w.Line("FROM (SELECT k.UserId FROM @UserKey AS k WHERE k.UserId >= @LockFrom");
            w.Line("      UNION");
            w.Line("      SELECT v.UserId FROM (VALUES (@SourceUserId), (@TargetUserId)) AS v (UserId) WHERE v.UserId >= @LockFrom) AS x");
            w.Line("ORDER BY x.UserId;");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            UserRowLocks.LockBatchAndAdvance(w, user.SqlName, key.Hint, "@UsersLocked", () =>
                AddBound("L2", $"SELECT {user.SqlName} (U-lock, ascending, of both users and the run's other app.User rows; UPDLOCK, ROWLOCK)", key.Describe, "@BatchSize (one U key lock each)"));
        }

        w.Line("END;");
        w.Line();
        w.Line("/* ---- L2: the two app.User rows, lower id first, by a real change (as the merge) --------------------------------- */");
        w.Comment($"A real change of each row (UpdatedAt; one more millisecond when it already holds @Now) converts its U lock (above) to an exclusive lock to the end of the transaction that no read can skip (dbmerge.User_MergeCore's header says why a hint-only lock would not do): every application write that references either user validates its foreign key against that row and waits for this unmerge. Journaled as action locked; @Accounts keeps the value before and after, so the checks and the restore see through it (the restore of the two rows writes their pre-merge images back). Seeks {key.Describe}; one row each.");
        w.Line("SET @Step = N'L2 the two app.User rows';");
        foreach (var which in new[] { "@FirstUserId", "@SecondUserId" })
        {
            w.Line("UPDATE u");
            w.Line("SET u.UpdatedAt = IIF(u.UpdatedAt = @Now, DATEADD(MILLISECOND, 1, @Now), @Now)");
            Output(_user, "update", "locked", null, JournalOperations.Update);
            w.Line($"FROM {user.SqlName} AS u WITH ({key.Hint})");
            w.Line($"WHERE u.UserId = {which};");
            AddBound("L2", $"UPDATE {user.SqlName} (one row)", key.Describe, "1 row");
        }

        w.Line($"INSERT INTO @Accounts (UserId, UpdatedAt, LockedUpdatedAt) SELECT c.B_UserId, c.B_UpdatedAt, c.A_UpdatedAt FROM {ChangeTable(_user)} AS c;");
        Flush(_user);
        w.Line();
        w.Comment($"The source becomes active again only if no other active user holds its e-mail now (UQ_app_User_Email_Active; compared case-insensitively, the column's collation). Seeks {_userEmail.Describe}; UPDLOCK, HOLDLOCK keep any user from taking the address until commit (as the merge's address check does, in L2 position).");
        w.Line("SET @Step = N'the source''s e-mail';");
        w.Line("IF @SourceWasActive = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SELECT TOP (1) @AddressHolder = u.UserId");
            w.Line($"FROM {user.SqlName} AS u WITH ({_userEmail.Hint}, UPDLOCK, HOLDLOCK)");
            w.Line($"WHERE u.Email = @SourceEmail AND u.IsActive = 1 AND u.UserId <> @SourceUserId{(_userEmail.Filter is null ? string.Empty : " AND " + _userEmail.Filter.Qualify("u"))}");
            w.Line("ORDER BY u.UserId;");
        }

        w.Line("END;");
        AddBound("L2", $"SELECT TOP (1) {user.SqlName} (the source's address held by another active user)", _userEmail.Describe, "1 row");
        Throw("@AddressHolder IS NOT NULL", 51147,
            $"N'{Proc}: refused: the e-mail %s of source user %d is now held by active user %d: the source cannot become active again (UQ_app_User_Email_Active). Nothing was changed; resolve the duplicate account first.', @SourceEmail, @SourceUserId, @AddressHolder");
        w.Line();
    }

    private void JournalPass()
    {
        var w = _w;
        w.Line("/* ---- the journal pass: every row the merge journaled, once, with its last change --------------------------------- */");
        w.Comment("Before L2 (it reads only the run's committed journal, which no transaction writes again: no lock another DbMerge transaction holds). Batches of @BatchSize journal rows in change order (seeks PK_dbmerge_MergeChange (MergeRunId, ChangeSeq) from the last batch's end): keys only, no application table is read; the app.User keys are kept for L2. A row the merge changed several times (re-addressed, then its issuer moved; the source locked, then deactivated) is compared with its last change's after-image.");
        w.Line("SET @Step = N'journal pass';");
        w.Line($"RAISERROR(N'{Proc}: %s', 10, 1, @Step) WITH NOWAIT;");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE FROM @Journal;");
            w.Line("INSERT INTO @Journal (ChangeSeq, TableOrder, Undoable, SchemaName, TableName, Operation, RowKey)");
            w.Line("SELECT TOP (@BatchSize) c.ChangeSeq, t.TableOrder,");
            w.Line("       IIF(t.Operations & CASE c.Operation WHEN 'update' THEN 1 WHEN 'delete' THEN 2 WHEN 'insert' THEN 4 ELSE 0 END <> 0, 1, 0),");
            w.Line("       c.SchemaName, c.TableName, c.Operation, c.RowKey");
            w.Line("FROM dbmerge.MergeChange AS c WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId)))");
            w.Line("LEFT JOIN @Table AS t ON t.SchemaName = c.SchemaName AND t.TableName = c.TableName");
            w.Line("WHERE c.MergeRunId = @MergeRunId AND c.ChangeSeq > @JournalSeq");
            w.Line("ORDER BY c.ChangeSeq;");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            AddBound("pass", "SELECT TOP (@BatchSize) dbmerge.MergeChange (keys of the merge's journal)", "PK_dbmerge_MergeChange (MergeRunId, ChangeSeq)", "@BatchSize");
            w.Line("SET @Changes += @Rows;");
            w.Line("SELECT @JournalSeq = MAX(j.ChangeSeq) FROM @Journal AS j;");
            w.Line("SET @Unknown = NULL;");
            w.Line("SELECT TOP (1) @Unknown = CONCAT(j.SchemaName, N'.', j.TableName, N' (', j.Operation, N', change ', j.ChangeSeq, N')')");
            w.Line("FROM @Journal AS j");
            w.Line("WHERE j.TableOrder IS NULL OR j.Undoable = 0");
            w.Line("ORDER BY j.ChangeSeq;");
            Throw("@Unknown IS NOT NULL", 51155,
                $"N'{Proc}: run %I64d journaled a change this procedure has no undo for: %s (it was generated from the current policies and tables; a table or policy that changed since the merge cannot be undone). Nothing was changed.', @MergeRunId, @Unknown");
            w.Line("UPDATE r SET r.LastSeq = x.LastSeq");
            w.Line("FROM @Row AS r");
            w.Line("JOIN (SELECT j.TableOrder, j.RowKey, MAX(j.ChangeSeq) AS LastSeq FROM @Journal AS j GROUP BY j.TableOrder, j.RowKey) AS x");
            w.Line("  ON x.TableOrder = r.TableOrder AND x.RowKey = r.RowKey;");
            w.Line("INSERT INTO @Row (TableOrder, RowKey, LastSeq)");
            w.Line("SELECT j.TableOrder, j.RowKey, MAX(j.ChangeSeq)");
            w.Line("FROM @Journal AS j");
            w.Line("WHERE NOT EXISTS (SELECT 1 FROM @Row AS r WHERE r.TableOrder = j.TableOrder AND r.RowKey = j.RowKey)");
            w.Line("GROUP BY j.TableOrder, j.RowKey;");
            w.Comment($"The batch's {_user.Table.QualifiedName} keys (L2 locks them with both users before anything else).");
            w.Line("INSERT INTO @UserKey (UserId)");
            w.Line("SELECT DISTINCT k.UserId");
            w.Line("FROM @Journal AS j");
            w.Line($"CROSS APPLY OPENJSON(j.RowKey) WITH ({KeyWithClause(_user.Key)}) AS k");
            w.Line($"WHERE j.TableOrder = {Int(_user.Order)} AND k.UserId IS NOT NULL");
            w.Line("  AND NOT EXISTS (SELECT 1 FROM @UserKey AS x WHERE x.UserId = k.UserId);");
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
        w.Line();
    }

    private static IEnumerable<string> Operations(JournalOperations operations)
    {
        if (operations.HasFlag(JournalOperations.Update))
        {
            yield return "update";
        }

        if (operations.HasFlag(JournalOperations.Delete))
        {
            yield return "delete";
        }

        if (operations.HasFlag(JournalOperations.Insert))
        {
            yield return "insert";
        }
    }

    /// <summary>The check of one table: every journaled row, locked (UPDLOCK), compared with what the merge left.</summary>
    private void Check(UnmergeTable table)
    {
        var w = _w;
        var t = table.Table;
        var pk = table.PrimaryKey;
        var keyColumn = Sql.Name(table.Key[0].Name);
        w.Line($"/* ---- check {table.Order} {t.QualifiedName} {new string('-', Math.Max(4, 96 - t.QualifiedName.Length))} */");
        w.Comment($"Every row of {t.QualifiedName} the merge journaled, in batches of @BatchSize by key: the row now (seeks {pk.Describe}; UPDLOCK, held to commit: nobody changes it before its restore) must be exactly the after-image of the merge's last change of it, byte for byte, or — when the merge deleted it — not exist. A key that does not exist is not range-locked (a range lock past the last key would make every application insert into the table wait): a row inserted with that key meanwhile fails its re-insert (2627 → 51149, rolled back). The journal image must hold exactly the table's columns (a column added or dropped since the merge cannot be restored).");
        w.Line($"SET @Step = N'check {t.QualifiedName}';");
        w.Line("SET @Key = N'';");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE FROM @Check;");
            w.Line("INSERT INTO @Check (RowKey, LastSeq)");
            w.Line($"SELECT TOP (@BatchSize) r.RowKey, r.LastSeq FROM @Row AS r WHERE r.TableOrder = {Int(table.Order)} AND r.RowKey > @Key ORDER BY r.RowKey;");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            w.Line("SELECT @Key = MAX(c.RowKey) FROM @Check AS c;");
            w.Line("DELETE FROM @Found;");
            w.Line("INSERT INTO @Found (RowKey, Problem)");
            w.Line("SELECT ch.RowKey, p.Problem");
            w.Line("FROM @Check AS ch");
            w.Line("JOIN dbmerge.MergeChange AS j WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId, ChangeSeq))) ON j.MergeRunId = @MergeRunId AND j.ChangeSeq = ch.LastSeq");
            w.Line($"CROSS APPLY OPENJSON(ch.RowKey) WITH ({KeyWithClause(table.Key)}) AS k");
            w.Line($"OUTER APPLY OPENJSON(j.AfterImage) WITH ({WithClause(table.Columns)}) AS a");
            w.Line($"LEFT JOIN {t.SqlName} AS t WITH ({pk.Hint}, UPDLOCK) ON {KeyJoin(table, "t", "k")}");
            if (table.IsUserTable)
            {
                w.Line("LEFT JOIN @Accounts AS o ON o.UserId = t.UserId");
            }

            w.Line("CROSS APPLY (SELECT CASE");
            using (w.Indent())
            {
                using (w.Indent())
                {
                    w.Line($"WHEN {ShapeMismatch(table, "IIF(j.Operation = 'delete', j.BeforeImage, j.AfterImage)")}");
                    w.Line("     THEN N'its journal image does not hold the table''s columns (the table changed since the merge)'");
                    w.Line($"WHEN j.Operation = 'delete' AND t.{keyColumn} IS NOT NULL THEN N'deleted by the merge, exists again'");
                    w.Line($"WHEN j.Operation <> 'delete' AND t.{keyColumn} IS NULL THEN N'deleted since the merge'");
                    w.Line("WHEN j.Operation <> 'delete' AND NOT (");
                    using (w.Indent())
                    {
                        w.Line(RowEquals(table, "t", "a"));
                    }

                    w.Line(") THEN N'changed since the merge'");
                }

                w.Line("END AS Problem) AS p");
            }

            w.Line("WHERE p.Problem IS NOT NULL;");
            AddBound(Int(table.Order), $"SELECT {t.SqlName} (check, UPDLOCK)", pk.Describe, "@BatchSize keys (one U key lock per existing row)");
            w.Line("SET @ConflictCount += @@ROWCOUNT;");
            w.Line($"SET @Room = {Int(KeptConflicts)} - (SELECT COUNT(*) FROM @Conflict);");
            w.Line("INSERT INTO @Conflict (SchemaName, TableName, RowKey, Problem)");
            w.Line($"SELECT TOP (@Room) {Sql.Literal(t.Schema)}, {Sql.Literal(t.Name)}, f.RowKey, f.Problem FROM @Found AS f ORDER BY f.RowKey;");
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
        w.Line();
    }

    private void Conflicts()
    {
        var w = _w;
        w.Line("/* ---- refuse, changing nothing, when a row is not as the merge left it ---------------------------------------------- */");
        w.Line("IF @ConflictCount > 0");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SELECT @ConflictText = STRING_AGG(CONVERT(nvarchar(max), CONCAT(x.SchemaName, N'.', x.TableName, N' ', x.RowKey, N': ', x.Problem)), N'; ') WITHIN GROUP (ORDER BY x.Seq)");
            w.Line($"FROM (SELECT TOP ({Int(NamedConflicts)}) c.Seq, c.SchemaName, c.TableName, c.RowKey, c.Problem FROM @Conflict AS c ORDER BY c.Seq) AS x;");
            w.Line($"SET @Message = FORMATMESSAGE(N'{Proc}: refused: %d row(s) that run %I64d journaled are no longer as it left them, and undoing it would overwrite those later changes; first: %s. Nothing was changed (unmerge run %I64d lists up to {Int(KeptConflicts)}: dbmerge merges show).',");
            w.Line("    @ConflictCount, @MergeRunId, @ConflictText, @UnmergeRunId);");
            w.Line("THROW 51148, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
    }

    private void Restore()
    {
        var w = _w;
        w.Line("/* ---- restore: the journal replayed newest first ---------------------------------------------------------------- */");
        w.Comment("Batches of @BatchSize journal rows in descending change order (seeks PK_dbmerge_MergeChange (MergeRunId, ChangeSeq) below the last batch's start). Within a batch, each run of consecutive changes of one table, operation and policy is undone by one statement (a statement of the merge wrote one such run): an update is set back to the before-image of its first change in the run, a delete inserted again (with its key: IDENTITY_INSERT), an insert deleted; each only if the row is exactly as the run's last change left it, and each statement must touch exactly the run's rows (51154): the restore re-proves what the checks proved, so no lock semantics (optimized locking, a lock released early) can make it overwrite a later change. Every existing row written was locked by the checks (UPDLOCK), in lock order, before the first write.");
        w.Line("SET @Step = N'restore';");
        w.Line($"RAISERROR(N'{Proc}: %s', 10, 1, @Step) WITH NOWAIT;");
        w.Line("SET @Next = 2147483647;");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE FROM @Undo;");
            w.Line("INSERT INTO @Undo (ChangeSeq, SchemaName, TableName, Operation, Action, PolicySchemaName, PolicyTableName, PolicyColumnName, RowKey, BeforeImage, AfterImage)");
            w.Line("SELECT TOP (@BatchSize) c.ChangeSeq, c.SchemaName, c.TableName, c.Operation, c.Action, c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName, c.RowKey, c.BeforeImage, c.AfterImage");
            w.Line("FROM dbmerge.MergeChange AS c WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId)))");
            w.Line("WHERE c.MergeRunId = @MergeRunId AND c.ChangeSeq < @Next");
            w.Line("ORDER BY c.ChangeSeq DESC;");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            AddBound("undo", "SELECT TOP (@BatchSize) dbmerge.MergeChange (the merge's journal, newest first)", "PK_dbmerge_MergeChange (MergeRunId, ChangeSeq)", "@BatchSize");
            w.Line("SELECT @Next = MIN(u.ChangeSeq) FROM @Undo AS u;");
            w.Comment("The report: the batch's changes by policy and action (the whole batch is undone below, or the unmerge fails).");
            w.Line("UPDATE s SET s.Moved += x.Moved, s.Merged += x.Merged, s.Deleted += x.Deleted");
            w.Line("FROM @Summary AS s");
            w.Line("JOIN (SELECT u.PolicySchemaName, u.PolicyTableName, u.PolicyColumnName,");
            w.Line("             SUM(IIF(u.Action = 'moved', 1, 0)) AS Moved, SUM(IIF(u.Action = 'merged', 1, 0)) AS Merged, SUM(IIF(u.Action = 'deleted', 1, 0)) AS Deleted");
            w.Line("      FROM @Undo AS u");
            w.Line("      WHERE u.PolicyColumnName IS NOT NULL");
            w.Line("      GROUP BY u.PolicySchemaName, u.PolicyTableName, u.PolicyColumnName) AS x");
            w.Line("  ON x.PolicySchemaName = s.SchemaName AND x.PolicyTableName = s.TableName AND x.PolicyColumnName = s.ColumnName AND s.Policy <> 'locked';");
            w.Line("UPDATE s SET s.Locked += (SELECT COUNT(*) FROM @Undo AS u WHERE u.Action = 'locked')");
            w.Line("FROM @Summary AS s");
            w.Line("WHERE s.Policy = 'locked';");
            w.Line("WHILE 1 = 1");
            w.Line("BEGIN");
            using (w.Indent())
            {
                w.Line("SET @RunTop = NULL;");
                w.Line("SELECT TOP (1) @RunTop = u.ChangeSeq, @RunSchemaName = u.SchemaName, @RunTableName = u.TableName, @RunOperation = u.Operation,");
                w.Line("       @RunPolicySchemaName = u.PolicySchemaName, @RunPolicyTableName = u.PolicyTableName, @RunPolicyColumnName = u.PolicyColumnName");
                w.Line("FROM @Undo AS u");
                w.Line("ORDER BY u.ChangeSeq DESC;");
                w.Line("IF @RunTop IS NULL BREAK;");
                w.Line("SELECT @RunBottom = ISNULL(MAX(u.ChangeSeq), 0)");
                w.Line("FROM @Undo AS u");
                w.Line("WHERE u.ChangeSeq < @RunTop");
                w.Line("  AND NOT (u.SchemaName = @RunSchemaName AND u.TableName = @RunTableName AND u.Operation = @RunOperation");
                w.Line("           AND CASE WHEN (u.PolicySchemaName = @RunPolicySchemaName AND u.PolicyTableName = @RunPolicyTableName AND u.PolicyColumnName = @RunPolicyColumnName)");
                w.Line("                       OR (u.PolicyColumnName IS NULL AND @RunPolicyColumnName IS NULL) THEN 1 ELSE 0 END = 1);");
                w.Line("SET @Expected = (SELECT COUNT(DISTINCT u.RowKey) FROM @Undo AS u WHERE " + RunRange("u") + ");");
                w.Line("SET @Undone = (SELECT COUNT(*) FROM @Undo AS u WHERE " + RunRange("u") + ");");
                w.Line("SET @Step = CONCAT(N'restore ', @RunSchemaName, N'.', @RunTableName, N' (', @RunOperation, N' undone, changes ', @RunBottom + 1, N'..', @RunTop, N')');");
                var first = true;
                foreach (var table in _tables)
                {
                    foreach (var operation in Operations(table.Operations))
                    {
                        w.Line($"{(first ? "IF" : "ELSE IF")} @RunSchemaName = {Sql.Literal(table.Table.Schema)} AND @RunTableName = {Sql.Literal(table.Table.Name)} AND @RunOperation = {Sql.AnsiLiteral(operation)}");
                        first = false;
                        w.Line("BEGIN");
                        using (w.Indent())
                        {
                            switch (operation)
                            {
                                case "update":
                                    RestoreUpdate(table);
                                    break;
                                case "delete":
                                    RestoreDelete(table);
                                    break;
                                default:
                                    RestoreInsert(table);
                                    break;
                            }

                            Flush(table);
                        }

                        w.Line("END");
                    }
                }

                w.Line("ELSE");
                w.Line("BEGIN");
                using (w.Indent())
                {
                    w.Line($"SET @Message = FORMATMESSAGE(N'{Proc}: run %I64d journaled a change this procedure has no undo for: %s.%s (%s, changes %d..%d). Nothing was changed.', @MergeRunId, @RunSchemaName, @RunTableName, @RunOperation, @RunBottom + 1, @RunTop);");
                    w.Line("THROW 51155, @Message, 1;");
                }

                w.Line("END;");
                w.Line("DELETE FROM @Undo WHERE ChangeSeq > @RunBottom;");
            }

            w.Line("END;");
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
        w.Line();
        w.Comment("Post-condition: the report accounts for every change of the run's journal (each was undone by a statement that touched exactly its rows).");
        w.Line("SET @Step = N'post-condition';");
        w.Line("SET @Undone = (SELECT SUM(s.Moved + s.Merged + s.Deleted + s.Locked) FROM @Summary AS s);");
        Throw("@Undone IS NULL OR @Undone <> @Changes", 51154,
            $"N'{Proc}: post-condition failed: run %I64d journaled %d change(s), the report accounts for %s (a policy of the journal missing from the run''s summary); rolled back, nothing was changed.', @MergeRunId, @Changes, ISNULL(CONVERT(nvarchar(12), @Undone), N'NULL')");
        w.Line();
    }

    private void RestoreUpdate(UnmergeTable table)
    {
        var w = _w;
        var t = table.Table;
        var set = table.Columns.Where(c => !c.Identity).ToList();
        w.Comment($"Undo updates of {t.QualifiedName}: each row (by the key its last change in the run left, seeks {table.PrimaryKey.Describe}) that is exactly that change's after-image gets the before-image of its first change in the run: every stored column.");
        w.Line("UPDATE x");
        w.Line("SET " + string.Join(",\n    ", set.Select(c => $"x.{Sql.Name(c.Name)} = b.{Sql.Bracket(c.Name)}")));
        Output(table, "update", "restored", "@Run", JournalOperations.Update);
        w.Line("FROM (SELECT u.RowKey, MIN(u.ChangeSeq) AS FirstSeq, MAX(u.ChangeSeq) AS LastSeq FROM @Undo AS u WHERE " + RunRange("u") + " GROUP BY u.RowKey) AS r");
        w.Line("JOIN @Undo AS f ON f.ChangeSeq = r.FirstSeq");
        w.Line("JOIN @Undo AS l ON l.ChangeSeq = r.LastSeq");
        w.Line($"CROSS APPLY OPENJSON(r.RowKey) WITH ({KeyWithClause(table.Key)}) AS k");
        w.Line($"CROSS APPLY OPENJSON(f.BeforeImage) WITH ({WithClause(table.Columns)}) AS b");
        w.Line($"CROSS APPLY OPENJSON(l.AfterImage) WITH ({WithClause(table.Columns)}) AS a");
        w.Line($"JOIN {t.SqlName} AS x WITH ({table.PrimaryKey.Hint}) ON {KeyJoin(table, "x", "k")}");
        if (table.IsUserTable)
        {
            w.Line("LEFT JOIN @Accounts AS o ON o.UserId = x.UserId");
        }

        w.Line("WHERE " + RunRange("f"));
        w.Line("  AND " + RowEquals(table, "x", "a") + ";");
        w.Line("SET @Done = @@ROWCOUNT;");
        AddBound(Int(table.Order), $"UPDATE {t.SqlName} (restore before-images)", table.PrimaryKey.Describe, "≤ @BatchSize (one run of a batch)", Writes(t));
        MustTouchEveryRow(t);
    }

    private void RestoreDelete(UnmergeTable table)
    {
        var w = _w;
        var t = table.Table;
        var columns = string.Join(", ", table.Columns.Select(c => Sql.Name(c.Name)));
        w.Comment($"Undo deletes of {t.QualifiedName}: the before-image inserted again with its original key{(table.Identity is null ? string.Empty : $" (IDENTITY_INSERT: one table per session at a time, ON for this statement only; the owner's right, WITH EXECUTE AS OWNER)")}; a key that exists again fails the statement (2627, 51149) — the checks found none.");
        if (table.Identity is not null)
        {
            w.Line($"SET @IdentityInsert = {Sql.Literal(t.QualifiedName)};");
            w.Line($"SET IDENTITY_INSERT {t.SqlName} ON;");
        }

        w.Line($"INSERT INTO {t.SqlName} ({columns})");
        Output(table, "insert", "reinserted", "@Run", JournalOperations.Insert);
        w.Line($"SELECT {string.Join(", ", table.Columns.Select(c => $"b.{Sql.Bracket(c.Name)}"))}");
        w.Line("FROM (SELECT u.RowKey, MIN(u.ChangeSeq) AS FirstSeq FROM @Undo AS u WHERE " + RunRange("u") + " GROUP BY u.RowKey) AS r");
        w.Line("JOIN @Undo AS f ON f.ChangeSeq = r.FirstSeq");
        w.Line($"CROSS APPLY OPENJSON(f.BeforeImage) WITH ({WithClause(table.Columns)}) AS b");
        w.Line("WHERE " + RunRange("f") + ";");
        w.Line("SET @Done = @@ROWCOUNT;");
        if (table.Identity is not null)
        {
            w.Line($"SET IDENTITY_INSERT {t.SqlName} OFF;");
            w.Line("SET @IdentityInsert = NULL;");
        }

        AddBound(Int(table.Order), $"INSERT {t.SqlName} (re-insert deleted rows)", "(an insert: no read)", "≤ @BatchSize (one run of a batch)", Writes(t, all: true));
        MustTouchEveryRow(t);
    }

    private void RestoreInsert(UnmergeTable table)
    {
        var w = _w;
        var t = table.Table;
        w.Comment($"Undo inserts of {t.QualifiedName}: each row (seeks {table.PrimaryKey.Describe}) that is exactly what the merge inserted is deleted again.");
        w.Line("DELETE x");
        Output(table, "delete", "removed", "@Run", JournalOperations.Delete);
        w.Line("FROM (SELECT u.RowKey, MAX(u.ChangeSeq) AS LastSeq FROM @Undo AS u WHERE " + RunRange("u") + " GROUP BY u.RowKey) AS r");
        w.Line("JOIN @Undo AS l ON l.ChangeSeq = r.LastSeq");
        w.Line($"CROSS APPLY OPENJSON(r.RowKey) WITH ({KeyWithClause(table.Key)}) AS k");
        w.Line($"CROSS APPLY OPENJSON(l.AfterImage) WITH ({WithClause(table.Columns)}) AS a");
        w.Line($"JOIN {t.SqlName} AS x WITH ({table.PrimaryKey.Hint}) ON {KeyJoin(table, "x", "k")}");
        if (table.IsUserTable)
        {
            w.Line("LEFT JOIN @Accounts AS o ON o.UserId = x.UserId");
        }

        w.Line("WHERE " + RunRange("l"));
        w.Line("  AND " + RowEquals(table, "x", "a") + ";");
        w.Line("SET @Done = @@ROWCOUNT;");
        AddBound(Int(table.Order), $"DELETE {t.SqlName} (rows the merge inserted)", table.PrimaryKey.Describe, "≤ @BatchSize (one run of a batch)", Writes(t, all: true));
        MustTouchEveryRow(t);
    }

    private void MustTouchEveryRow(ModelTable table) =>
        Throw("@Done <> @Expected", 51154,
            $"N'{Proc}: post-condition failed at %s: %d of %d {table.QualifiedName} row(s) were exactly as the merge left them when restored (a row changed after the checks); rolled back, nothing was changed.', @Step, @Done, @Expected");

    private void Finish()
    {
        var w = _w;
        w.Line("/* ---- result: the report; an unmerge that is not a dry run records its committed status inside the transaction -- */");
        w.Line("SET @Step = N'finish';");
        SummaryJson();
        w.Line();
        w.Line("IF @IsDryRun = 0");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Comment("Written in the unmerge transaction: committed with the restore, or rolled back with it. From now on the undone run shows as undone (UQ_dbmerge_MergeRun_UndoesMergeRunId_Committed: at most one committed unmerge per run).");
            w.Line("UPDATE dbmerge.MergeRun");
            w.Line("SET Status = 'committed', FinishedAt = SYSUTCDATETIME(), SummaryJson = @SummaryJson");
            w.Line("WHERE MergeRunId = @UnmergeRunId AND Status = 'running';");
        }

        w.Line("END;");
        w.Line();
        w.Line($"RAISERROR(N'{Proc}: unmerge run %I64d of run %I64d done: %d change(s) undone, %d change(s) journaled.', 10, 1, @UnmergeRunId, @MergeRunId, @Changes, @ChangeSeq) WITH NOWAIT;");
    }

    private void SummaryJson()
    {
        var w = _w;
        w.Line("SET @SummaryJson = (SELECT JSON_QUERY((SELECT s.ApplyOrder, s.SchemaName, s.TableName, s.ColumnName, s.Policy, s.Moved, s.Merged, s.Deleted, s.Locked");
        w.Line("                                       FROM @Summary AS s");
        w.Line("                                       ORDER BY s.ApplyOrder, s.SchemaName, s.TableName, s.ColumnName");
        w.Line("                                       FOR JSON PATH)) AS Tables,");
        w.Line("                           @ConflictCount AS ConflictCount,");
        w.Line("                           JSON_QUERY((SELECT c.SchemaName, c.TableName, c.RowKey, c.Problem FROM @Conflict AS c ORDER BY c.Seq FOR JSON PATH)) AS Conflicts");
        w.Line("                    FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES);");
    }

    private void Catch()
    {
        var w = _w;
        w.Comment("XACT_ABORT has doomed the caller's transaction: roll it back here (the nested-procedure pattern of dbmerge.User_MergeCore), so the caller's CATCH finds @@TRANCOUNT = 0. IDENTITY_INSERT is switched off for the table a failed re-insert left it on (SET options of a procedure end with it; this makes it explicit). A lock timeout (1222) becomes 51150 — or 51151 when the wait was cut to the time left of the run's budget — and a constraint a restore violated (547 foreign key, 2601/2627 duplicate key: a row written since the merge is in the way) becomes 51149, both naming the step. The run is recorded as refused or failed with its error and the report so far (dbmerge.MergeRun_Finish) only once it is proven this call's running unmerge (@RunIsOurs, after the 51153 check): before that (51152, 51141, 51142, the first 51143, 51153 itself) @UnmergeRunId may name another session's running merge or unmerge, which must not be marked refused or failed (its own commit would then find no running row, and history would show a committed run as refused); api.User_Unmerge's CATCH records those refusals of its own run.");
        w.Line("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;");
        foreach (var table in _tables.Where(t => t.Identity is not null && t.Operations.HasFlag(JournalOperations.Delete)))
        {
            w.Line($"IF @IdentityInsert = {Sql.Literal(table.Table.QualifiedName)} SET IDENTITY_INSERT {table.Table.SqlName} OFF;");
        }

        w.Line("SET @ErrorNumber = ERROR_NUMBER();");
        w.Line("SET @ErrorMessage = ERROR_MESSAGE();");
        w.Line("IF @ErrorNumber = 1222");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @ErrorNumber = IIF(@Wait < @LockTimeoutMs, 51151, 51150); -- the wait was cut to the time left: the budget ended it");
            w.Line($"SET @ErrorMessage = FORMATMESSAGE(N'{Proc}: unmerge run %I64d waited %d ms for a lock at step %s without getting it (%s); rolled back, nothing was changed: retry when the blocking transaction has finished.',");
            w.Line("    @UnmergeRunId, @Wait, @Step, ERROR_MESSAGE());");
        }

        w.Line("END;");
        w.Line("IF @ErrorNumber IN (547, 2601, 2627)");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @ErrorNumber = 51149;");
            w.Line($"SET @ErrorMessage = FORMATMESSAGE(N'{Proc}: refused at step %s of unmerge run %I64d: a row written since run %I64d is in the way of the restore (%s); rolled back, nothing was changed.',");
            w.Line("    @Step, @UnmergeRunId, @MergeRunId, ERROR_MESSAGE());");
        }

        w.Line("END;");
        SummaryJson();
        w.Comment("The failure is logged with the caller's lock timeout, not this run's last @Wait (cut to the time left of the budget, or 0 with @LockTimeoutMs 0): under it dbmerge.MergeRun_Finish's UPDATE of the run's row could fail with 1222 on a concurrent reader's lock and replace this error (as in dbmerge.User_MergeCore).");
        w.Line("SET LOCK_TIMEOUT @CallerLockTimeout;");
        w.Line("IF @RunIsOurs = 1");
        w.Line("    EXEC dbmerge.MergeRun_Finish @MergeRunId = @UnmergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber, @ErrorMessage = @ErrorMessage, @SummaryJson = @SummaryJson;");
        w.Line("IF ERROR_NUMBER() = 1222 AND @ErrorNumber = 51150 THROW 51150, @ErrorMessage, 1;");
        w.Line("IF ERROR_NUMBER() = 1222 AND @ErrorNumber = 51151 THROW 51151, @ErrorMessage, 1;");
        w.Line("IF ERROR_NUMBER() IN (547, 2601, 2627) THROW 51149, @ErrorMessage, 1;");
        w.Line("THROW;");
    }

    // ------------------------------------------------------------------------------------------------------------
    // statement parts

    private void BatchGuard()
    {
        var w = _w;
        w.Line("SET @Wait = DATEDIFF(MILLISECOND, SYSUTCDATETIME(), @Deadline);");
        Throw("@Wait < 1", 51151,
            $"N'{Proc}: unmerge run %I64d used up its time budget of %d ms at step %s; rolled back, nothing was changed: run it again when the tables are quieter, or with a larger @MaxDurationMs.', @UnmergeRunId, @MaxDurationMs, @Step");
        w.Line("SET @Wait = IIF(@Wait < @LockTimeoutMs, @Wait, @LockTimeoutMs);");
        w.Line("SET LOCK_TIMEOUT @Wait;");
    }

    private void Throw(string condition, int number, string formatArguments)
    {
        var w = _w;
        w.Line($"IF {condition}");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line($"SET @Message = FORMATMESSAGE({formatArguments});");
            w.Line($"THROW {Int(number)}, @Message, 1;");
        }

        w.Line("END;");
    }

    /// <summary>
    /// OUTPUT … INTO the table's capture: operation, action, the policy of the run undone (<paramref name="policy"/>
    /// "@Run": the run's variables; null: none), deleted.* (update, delete) and inserted.* (update, insert).
    /// </summary>
    private void Output(UnmergeTable table, string operation, string action, string? policy, JournalOperations kind)
    {
        var columns = table.Columns;
        var values = new List<string>
        {
            Sql.AnsiLiteral(operation), Sql.AnsiLiteral(action),
            policy is null ? "NULL, NULL, NULL" : "@RunPolicySchemaName, @RunPolicyTableName, @RunPolicyColumnName",
        };
        var targets = new List<string> { "Operation", "Action", "PolicySchemaName", "PolicyTableName", "PolicyColumnName" };
        if (kind != JournalOperations.Insert)
        {
            values.AddRange(columns.Select(c => $"deleted.{Sql.Name(c.Name)}"));
            targets.AddRange(columns.Select(c => $"B_{c.Name}"));
        }

        if (kind != JournalOperations.Delete)
        {
            values.AddRange(columns.Select(c => $"inserted.{Sql.Name(c.Name)}"));
            targets.AddRange(columns.Select(c => $"A_{c.Name}"));
        }

        _w.Line($"OUTPUT {string.Join(", ", values)}");
        _w.Line($"INTO {ChangeTable(table)} ({string.Join(", ", targets)})");
    }

    /// <summary>Writes a table's captured changes to dbmerge.MergeChange under this unmerge's run id, in change order, and empties the capture.</summary>
    private void Flush(UnmergeTable table)
    {
        var w = _w;
        var change = ChangeTable(table);
        var columns = table.Columns;
        w.Line("INSERT INTO dbmerge.MergeChange (MergeRunId, ChangeSeq, SchemaName, TableName, Operation, Action, PolicySchemaName, PolicyTableName, PolicyColumnName,");
        w.Line("                                 RowKey, BeforeImage, AfterImage, ChangedAt)");
        w.Line($"SELECT @UnmergeRunId, @ChangeSeq + CONVERT(int, ROW_NUMBER() OVER (ORDER BY c.Seq)), {Sql.Literal(table.Table.Schema)}, {Sql.Literal(table.Table.Name)}, c.Operation, c.Action,");
        w.Line("       c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName,");
        w.Line($"       (SELECT {string.Join(", ", table.Key.Select(k => $"IIF(c.Operation = 'delete', c.B_{k.Name}, c.A_{k.Name}) AS {Sql.Bracket(k.Name)}"))} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER),");
        w.Line($"       IIF(c.Operation = 'insert', NULL, (SELECT {string.Join(", ", columns.Select(k => $"c.B_{k.Name} AS {Sql.Bracket(k.Name)}"))}");
        w.Line("                                          FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)),");
        w.Line($"       IIF(c.Operation = 'delete', NULL, (SELECT {string.Join(", ", columns.Select(k => $"c.A_{k.Name} AS {Sql.Bracket(k.Name)}"))}");
        w.Line("                                          FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)),");
        w.Line("       @Now");
        w.Line($"FROM {change} AS c;");
        w.Line("SET @ChangeSeq += @@ROWCOUNT;");
        w.Line($"DELETE FROM {change};");
    }

    /// <summary>The indexes a restore writes: every index for an insert or delete, else those holding a column (an update sets every stored column; unchanged values write no index key).</summary>
    private static IReadOnlyList<string> Writes(ModelTable table, bool all = false) =>
        all ? table.Indexes.Select(i => i.Name).ToList() : table.Indexes.Select(i => i.Name + (i.Clustered ? string.Empty : " (keys whose values change: old and new)")).ToList();

    private void AddBound(string order, string statement, string seek, string rows, IReadOnlyList<string>? writes = null) =>
        _bounds.Add($"{order,-5} {statement}; seeks {seek}; rows {rows}" + (writes is null ? string.Empty : $"; writes {string.Join(", ", writes)}"));

    // ------------------------------------------------------------------------------------------------------------
    // header

    private string Header()
    {
        var lockOrder = string.Join(", ", _tables.Select(t => t.Table.QualifiedName));
        var tables = _tables.Select(t =>
            $"{t.Order,3} {t.Table.QualifiedName,-26} undoes {string.Join(", ", Operations(t.Operations))}" +
            (t.Identity is null || !t.Operations.HasFlag(JournalOperations.Delete) ? string.Empty : $"; re-inserts under IDENTITY_INSERT ({t.Identity.Name})")).ToList();
        var h = new CodeWriter();
        h.Line("/*");
        h.Lines(UnmergeHeaderText.Template(Wrap(lockOrder, "                     ", 116), tables, _bounds, MergeCoreWriter.MaxBatchSize, KeptConflicts, NamedConflicts).Split('\n'));
        h.Line("*/");
        return h.ToString();
    }

    private static string Wrap(string text, string indent, int width)
    {
        var lines = new List<string>();
        var line = indent;
        foreach (var word in text.Split(' '))
        {
            if (line.Length + word.Length > width && line.Length > indent.Length)
            {
                lines.Add(line.TrimEnd());
                line = indent;
            }

            line += word + " ";
        }

        lines.Add(line.TrimEnd());
        return string.Join("\n", lines);
    }
}
