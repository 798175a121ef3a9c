using System.Globalization;

namespace DbMerge.Schema.Merge;

/// <summary>
/// Writes <c>dbmerge.User_MergeCore</c> from a <see cref="MergePlan"/>. The fixed part (parameters, locks, coverage,
/// history, residual check, error handling) is written here once; the per-policy sections come from the plan. The
/// output is static T-SQL: no dynamic SQL for the data statements, so the offline model validates every column and
/// every index hint of it.
/// </summary>
internal sealed class MergeCoreWriter
{
    public const string ProcedureName = "dbmerge.User_MergeCore";
    public const string RelativePath = "database/dbmerge/Procedures/dbmerge.User_MergeCore.sql";

    /// <summary>Largest @BatchSize: per statement at most 2 × 1000 key locks per index reference, well below 5,000 (header).</summary>
    public const int MaxBatchSize = 1000;

    private readonly MergePlan _plan;
    private readonly CodeWriter _w = new();
    private readonly List<string> _bounds = [];
    private readonly ModelTable _user;
    private readonly SeekPlan _userKey;
    private readonly SeekPlan _userEmail;
    private readonly SeekPlan _userMergedInto;
    private readonly ModelColumn _email;

    private MergeCoreWriter(MergePlan plan)
    {
        _plan = plan;
        _user = plan.UserTable;
        _userKey = new SeekPlan(_user.PrimaryKey!, _user.PrimaryKey!.Columns, null);
        _userMergedInto = MergePlanner.SeekOn(_user, ["MergedIntoUserId"], null)
                          ?? throw new InvalidOperationException("app.User has no index leading with MergedIntoUserId.");
        _userEmail = MergePlanner.SeekOn(_user, ["Email"], SqlPredicate.TryParse("IsActive = 1", out _))
                     ?? throw new InvalidOperationException("app.User has no index leading with Email.");
        _email = _user.Column("Email")!;
    }

    public static string Write(MergePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var writer = new MergeCoreWriter(plan);
        var body = writer.Body();
        var header = writer.Header();
        return "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n" + header + body + "GO\n";
    }

    // ------------------------------------------------------------------------------------------------------------
    // names

    private static string ChangeTable(ModelTable table) => $"@Chg_{table.Schema}_{table.Name}";

    private static string BatchTable(PolicyPlan plan) => $"@Bat_{plan.Table.Schema}_{plan.Table.Name}_{plan.Column.Name}";

    private static string Step(PolicyPlan plan) => $"{plan.ApplyOrder} {plan.Row.Name} ({plan.Row.Policy})";

    private static string PolicyColumns(PolicyPlan plan) =>
        $"{Sql.Literal(plan.Row.SchemaName)}, {Sql.Literal(plan.Row.TableName)}, {Sql.Literal(plan.Row.ColumnName)}";

    private static string PkList(ModelTable table, string alias) => string.Join(", ", table.PrimaryKey!.Columns.Select(c => $"{alias}.{Sql.Name(c)}"));

    /// <summary>
    /// The order of the source index within the seeked range: its key columns after the seek columns, then the primary key
    /// (a nonclustered index's row locator, the clustered key, ends its key) — so TOP (@BatchSize) … ORDER BY reads the first
    /// rows of the range and never sorts it.
    /// </summary>
    private static string SourceOrder(PolicyPlan plan, string alias)
    {
        var rest = plan.Source.Index.Columns.Skip(plan.Source.SeekColumns.Count).ToList();
        var columns = rest.Concat(plan.Table.PrimaryKey!.Columns.Where(c => !rest.Contains(c, StringComparer.OrdinalIgnoreCase)));
        return string.Join(", ", columns.Select(c => $"{alias}.{Sql.Name(c)}"));
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    // ------------------------------------------------------------------------------------------------------------
    // body

    private string Body()
    {
        var w = _w;
        w.Line("CREATE OR ALTER PROCEDURE dbmerge.User_MergeCore");
        using (w.Indent())
        {
            w.Lines([
                "@MergeRunId    bigint,",
                "@Mode          varchar(5),",
                "@SourceUserId  int,",
                "@TargetUserId  int,",
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
                Locks();
                Coverage();
                Refusals();
                foreach (var plan in _plan.Policies)
                {
                    Section(plan);
                }

                Deactivate();
                Residual();
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
        w.Line("DECLARE @Message nvarchar(2048);");
        w.Line("DECLARE @Step nvarchar(400) = N'check parameters';");
        w.Line("DECLARE @Now datetime2(3) = SYSUTCDATETIME();");
        w.Line("DECLARE @Deadline datetime2(3);");
        w.Line("DECLARE @Wait int = @LockTimeoutMs;");
        w.Line("DECLARE @CallerLockTimeout int = @@LOCK_TIMEOUT; -- restored in the CATCH for the failure logging");
        w.Line("DECLARE @RunIsOurs bit = 0; -- set once @MergeRunId is proven this call's running run (51118): only then does the CATCH finish it");
        w.Line("DECLARE @Rows int;");
        w.Line("DECLARE @ChildRows int;");
        w.Line("DECLARE @ChangeSeq int = 0;");
        w.Line("DECLARE @LockResult int;");
        w.Line("DECLARE @FirstUserId int;");
        w.Line("DECLARE @SecondUserId int;");
        w.Line("DECLARE @LockFrom int = -2147483648; -- L2: the keyset of the users' U-locks (ascending UserId)");
        w.Line("DECLARE @LockLast int;");
        w.Line("DECLARE @Locked int;");
        w.Line("DECLARE @Resource nvarchar(255);");
        w.Line("DECLARE @RunStatus varchar(10);");
        w.Line("DECLARE @RunKind varchar(10);");
        w.Line("DECLARE @RunSourceUserId int;");
        w.Line("DECLARE @RunTargetUserId int;");
        w.Line("DECLARE @SourceFound bit = 0;");
        w.Line("DECLARE @TargetFound bit = 0;");
        w.Line($"DECLARE @SourceEmail {_email.TypeText};");
        w.Line($"DECLARE @TargetEmail {_email.TypeText};");
        w.Line("DECLARE @SourceMergedInto int;");
        w.Line("DECLARE @TargetIsActive bit;");
        w.Line("DECLARE @TargetMergedInto int;");
        w.Line("DECLARE @AddressHolder int;");
        w.Line("DECLARE @ReaddressSource bit = 0;");
        w.Line("DECLARE @Refused nvarchar(1500);");
        w.Line("DECLARE @RefusedBy nvarchar(400);");
        w.Line("DECLARE @Fenced int;");
        w.Line("DECLARE @ErrorNumber int;");
        w.Line("DECLARE @ErrorMessage nvarchar(2048);");
        w.Line();
        w.Comment("The summary, one row per policy: Moved/Merged/Deleted are added up from the journal rows of each batch (the flush blocks), so they equal the journal's rows per policy and action; the table variable survives a rollback, so a dry run and a failed run report it too.");
        w.Line("DECLARE @Summary TABLE");
        w.Line("(");
        using (w.Indent())
        {
            w.Lines([
                "ApplyOrder smallint    NOT NULL PRIMARY KEY,",
                "SchemaName sysname     NOT NULL,",
                "TableName  sysname     NOT NULL,",
                "ColumnName sysname     NOT NULL,",
                "Policy     varchar(20) NOT NULL,",
                "Moved      int         NOT NULL DEFAULT (0),",
                "Merged     int         NOT NULL DEFAULT (0),",
                "Deleted    int         NOT NULL DEFAULT (0),",
                "Conflicts  int         NOT NULL DEFAULT (0),",
                "UNIQUE (SchemaName, TableName, ColumnName)",
            ]);
        }

        w.Line(");");
        w.Comment("The policies this procedure was generated from (dbmerge generate merge); the coverage check compares them with dbmerge.MergePolicy.");
        w.Line("DECLARE @Handler TABLE");
        w.Line("(");
        using (w.Indent())
        {
            w.Lines([
                "SchemaName   sysname       NOT NULL,",
                "TableName    sysname       NOT NULL,",
                "ColumnName   sysname       NOT NULL,",
                "Policy       varchar(20)   NOT NULL,",
                "CollisionKey nvarchar(200) NULL,",
                "RankTable    nvarchar(261) NULL,",
                "RowFilter    nvarchar(400) NULL,",
                "ApplyOrder   smallint      NOT NULL,",
                "PRIMARY KEY (SchemaName, TableName, ColumnName)",
            ]);
        }

        w.Line(");");
        w.Comment("The merge-children parents and the child foreign keys this procedure re-points; the coverage check compares them with sys.foreign_keys.");
        w.Line("DECLARE @Parent TABLE (SchemaName sysname NOT NULL, TableName sysname NOT NULL, PRIMARY KEY (SchemaName, TableName));");
        w.Line("DECLARE @Child TABLE (ParentSchemaName sysname NOT NULL, ParentTableName sysname NOT NULL, SchemaName sysname NOT NULL, TableName sysname NOT NULL, ColumnName sysname NOT NULL, PRIMARY KEY (SchemaName, TableName, ColumnName));");
        w.Line("DECLARE @Unhandled TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, Problem nvarchar(1000) NOT NULL);");
        w.Line("DECLARE @Residual TABLE (Seq int IDENTITY(1, 1) NOT NULL PRIMARY KEY, Name nvarchar(400) NOT NULL);");
        w.Comment("L2: one batch of the users whose app.User rows this merge U-locks, ascending (both users and the accounts merged into the source); its primary key orders the nested-loop lock.");
        w.Line("DECLARE @LockUser TABLE (UserId int NOT NULL PRIMARY KEY);");
        w.Line();
        w.Comment("The journal's capture, one table variable per table the merge changes: OUTPUT … INTO fills them per batch (OUTPUT INTO cannot target dbmerge.MergeChange, which has foreign keys and CHECK constraints, and OUTPUT cannot build the JSON images), then a flush writes them to dbmerge.MergeChange in change order. B_ = before the change, A_ = after.");
        foreach (var table in _plan.JournaledTables)
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
                var columns = table.StoredColumns.ToList();
                for (var i = 0; i < columns.Count; i++)
                {
                    w.Line($"B_{columns[i].Name} {columns[i].VariableColumnType} NULL,");
                }

                for (var i = 0; i < columns.Count; i++)
                {
                    w.Line($"A_{columns[i].Name} {columns[i].VariableColumnType} NULL{(i == columns.Count - 1 ? string.Empty : ",")}");
                }
            }

            w.Line(");");
        }

        foreach (var plan in _plan.Policies.Where(p => p.HasCollisions))
        {
            w.Line($"DECLARE {BatchTable(plan)} TABLE");
            w.Line("(");
            using (w.Indent())
            {
                var pk = plan.Table.PrimaryKey!.Columns.Select(c => plan.Table.Column(c)!).ToList();
                foreach (var c in pk)
                {
                    w.Line($"S_{c.Name} {c.VariableColumnType} NOT NULL,");
                }

                foreach (var c in pk)
                {
                    w.Line($"T_{c.Name} {c.VariableColumnType} NULL,");
                }

                if (plan.Rank is { } rank)
                {
                    w.Line("SourceRank int NOT NULL,");
                    w.Line("TargetRank int NULL,");
                    w.Line($"SourceValue {rank.RankedColumn.VariableColumnType} NULL,");
                }

                w.Line($"PRIMARY KEY ({string.Join(", ", pk.Select(c => "S_" + c.Name))})");
            }

            w.Line(");");
        }
    }

    private void CheckParameters()
    {
        var w = _w;
        w.Line("/* ---- check parameters ----------------------------------------------------------------------------------- */");
        w.Line("IF @MergeRunId IS NULL OR @Mode IS NULL OR @Mode NOT IN ('merge', 'sweep') OR @SourceUserId IS NULL OR @TargetUserId IS NULL");
        w.Line($"   OR @IsDryRun IS NULL OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000");
        w.Line($"   OR @MaxDurationMs IS NULL OR @MaxDurationMs NOT BETWEEN 1000 AND 86400000 OR @BatchSize IS NULL OR @BatchSize NOT BETWEEN 1 AND {Int(MaxBatchSize)}");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line($"SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: @MergeRunId, @Mode (merge | sweep), @SourceUserId, @TargetUserId and @IsDryRun are required; @LockTimeoutMs must be 0..600000, @MaxDurationMs 1000..86400000 and @BatchSize 1..{Int(MaxBatchSize)} (run %s, mode %s, lock timeout %s, max duration %s, batch size %s).',");
            w.Line("    ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(5), @Mode), N'NULL'), ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'),");
            w.Line("    ISNULL(CONVERT(nvarchar(12), @MaxDurationMs), N'NULL'), ISNULL(CONVERT(nvarchar(12), @BatchSize), N'NULL'));");
            w.Line("THROW 51110, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
        w.Line("IF @SourceUserId = @TargetUserId");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: source and target are the same user %d.', @SourceUserId);");
            w.Line("THROW 51102, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
        w.Comment("Every lock wait from here on is bounded (51108), the read of dbmerge.MergeRun below too: under READ COMMITTED without RCSI it waits for the X lock of a run's row being finished (a run's committed status, written in its transaction), and the caller's LOCK_TIMEOUT (-1 by default) would let it wait without bound.");
        w.Line("SET LOCK_TIMEOUT @Wait;");
        w.Comment("The run was started by dbmerge.MergeRun_Start (committed, status running, outside this transaction) for this kind of run and these users, by this session: MergeRun_Start takes the session-owned applock DbMerge.MergeRun:<id> (held until MergeRun_Finish), so APPLOCK_MODE proves the run this call's. Without it, another session's running run of the same users passed this check, and the CATCH of a later error (a lock timeout at L1 behind that very run) marked it failed while it was still running (its own commit then found no running row).");
        w.Line("SELECT @RunStatus = r.Status, @RunKind = ISNULL(r.Kind, 'merge'), @RunSourceUserId = r.SourceUserId, @RunTargetUserId = r.TargetUserId");
        w.Line("FROM dbmerge.MergeRun AS r");
        w.Line("WHERE r.MergeRunId = @MergeRunId;");
        w.Line();
        w.Line("IF @RunStatus IS NULL OR @RunStatus <> 'running' OR @RunKind <> @Mode OR @RunSourceUserId IS NULL OR @RunSourceUserId <> @SourceUserId");
        w.Line("   OR @RunTargetUserId IS NULL OR @RunTargetUserId <> @TargetUserId");
        w.Line("   OR APPLOCK_MODE(N'public', CONCAT(N'DbMerge.MergeRun:', @MergeRunId), N'Session') <> N'Exclusive'");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: run %I64d is not a running %s of user %d into user %d started by this session (status %s, kind %s, source %s, target %s, its applock held here: %s): start it with dbmerge.MergeRun_Start.',");
            w.Line("    @MergeRunId, @Mode, @SourceUserId, @TargetUserId, ISNULL(@RunStatus, 'none'), ISNULL(@RunKind, 'none'),");
            w.Line("    ISNULL(CONVERT(nvarchar(12), @RunSourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @RunTargetUserId), N'NULL'),");
            w.Line("    IIF(APPLOCK_MODE(N'public', CONCAT(N'DbMerge.MergeRun:', @MergeRunId), N'Session') = N'Exclusive', N'yes', N'no'));");
            w.Line("THROW 51118, @Message, 1;");
        }

        w.Line("END;");
        w.Line("SET @RunIsOurs = 1;");
        w.Line();
        w.Comment("Checked once the run is proven this call's, so that a call without a transaction is recorded failed (51111) in the run's history.");
        w.Line("IF @@TRANCOUNT = 0");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: requires the caller''s transaction (run %s, source %s, target %s); begin one, or call api.User_Merge.',");
            w.Line("    ISNULL(CONVERT(nvarchar(20), @MergeRunId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @SourceUserId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @TargetUserId), N'NULL'));");
            w.Line("THROW 51111, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
        w.Line("INSERT INTO @Handler (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, RowFilter, ApplyOrder)");
        w.Line("VALUES");
        using (w.Indent())
        {
            var rows = _plan.Policies.Select(p => p.Row).ToList();
            for (var i = 0; i < rows.Count; i++)
            {
                var r = rows[i];
                w.Line($"({Sql.Literal(r.SchemaName)}, {Sql.Literal(r.TableName)}, {Sql.Literal(r.ColumnName)}, {Sql.AnsiLiteral(r.Policy)}, {Sql.Literal(r.CollisionKey)}, " +
                       $"{Sql.Literal(r.RankTable)}, {Sql.Literal(r.RowFilter)}, {Int(r.ApplyOrder)}){(i == rows.Count - 1 ? ";" : ",")}");
            }
        }

        var children = _plan.Policies.Where(p => p.Kind == MergePolicyKind.MergeChildren).ToList();
        if (children.Count > 0)
        {
            w.Line();
            w.Line("INSERT INTO @Parent (SchemaName, TableName)");
            w.Line("VALUES " + string.Join(", ", children.Select(p => $"({Sql.Literal(p.Table.Schema)}, {Sql.Literal(p.Table.Name)})")) + ";");
            var childRows = children.SelectMany(p => p.Children.Select(c => (Parent: p.Table, Child: c))).ToList();
            if (childRows.Count > 0)
            {
                w.Line("INSERT INTO @Child (ParentSchemaName, ParentTableName, SchemaName, TableName, ColumnName)");
                w.Line("VALUES");
                using (w.Indent())
                {
                    for (var i = 0; i < childRows.Count; i++)
                    {
                        var (parent, child) = childRows[i];
                        w.Line($"({Sql.Literal(parent.Schema)}, {Sql.Literal(parent.Name)}, {Sql.Literal(child.Table.Schema)}, {Sql.Literal(child.Table.Name)}, " +
                               $"{Sql.Literal(child.Column.Name)}){(i == childRows.Count - 1 ? ";" : ",")}");
                    }
                }
            }
        }

        w.Line();
        w.Line("INSERT INTO @Summary (ApplyOrder, SchemaName, TableName, ColumnName, Policy)");
        w.Line("SELECT h.ApplyOrder, h.SchemaName, h.TableName, h.ColumnName, h.Policy");
        w.Line("FROM @Handler AS h;");
        w.Line();
        w.Line("SET @Deadline = DATEADD(MILLISECOND, @MaxDurationMs, @Now);");
        w.Line();
    }

    private void Locks()
    {
        var w = _w;
        w.Line("/* ---- L1: applocks on both users, lower id first (transaction-owned) ----------------------------------------- */");
        w.Line("SET @Step = N'L1 applocks DbMerge.User:<id> on both users';");
        w.Line("RAISERROR(N'dbmerge.User_MergeCore: %s', 10, 1, @Step) WITH NOWAIT;");
        w.Line("SET @FirstUserId = IIF(@SourceUserId < @TargetUserId, @SourceUserId, @TargetUserId);");
        w.Line("SET @SecondUserId = IIF(@SourceUserId < @TargetUserId, @TargetUserId, @SourceUserId);");
        foreach (var which in new[] { "@FirstUserId", "@SecondUserId" })
        {
            w.Line($"SET @Resource = CONCAT(N'DbMerge.User:', {which});");
            w.Line("EXEC @LockResult = sys.sp_getapplock @Resource = @Resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;");
            w.Line("IF @LockResult < 0");
            w.Line("BEGIN");
            using (w.Indent())
            {
                w.Line("SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: run %I64d could not take applock %s within %d ms (sp_getapplock returned %d): another merge, sweep or reconciliation holds the user. Nothing was changed; retry later.',");
                w.Line("    @MergeRunId, @Resource, @LockTimeoutMs, @LockResult);");
                w.Line("THROW 51108, @Message, 1;");
            }

            w.Line("END;");
        }

        w.Line();
        LockUsers();
        w.Line("/* ---- L2: the two app.User rows, lower id first ----------------------------------------------------------------- */");
        w.Comment($"A real change of each row (UpdatedAt; one more millisecond when it already holds @Now) converts its U lock (above) to an exclusive lock to the end of the transaction that no read can skip: a read-committed reader may read through an exclusive lock on a row whose page holds no uncommitted change (a lock-avoidance optimisation, so a hint-only XLOCK would not block it), never through an uncommitted change. Every application write that references either user validates its foreign key with a shared lock on that row — under READ COMMITTED SNAPSHOT too — and therefore waits for this merge. Seeks {_userKey.Describe}; one row each.");
        w.Line("SET @Step = N'L2 the two app.User rows';");
        foreach (var which in new[] { "@FirstUserId", "@SecondUserId" })
        {
            w.Line($"UPDATE u");
            w.Line($"SET u.UpdatedAt = IIF(u.UpdatedAt = @Now, DATEADD(MILLISECOND, 1, @Now), @Now)");
            Output(_user, "update", "locked", null, deletedOnly: false);
            w.Line($"FROM {_user.SqlName} AS u WITH ({_userKey.Hint})");
            w.Line($"WHERE u.UserId = {which};");
            AddBound("L2", $"UPDATE {_user.SqlName} (one row)", _userKey, "1 row");
        }

        Flush(_user);
        w.Line();
        w.Comment("Re-read both users under their row locks.");
        w.Line($"SELECT @SourceFound = 1, @SourceEmail = u.Email, @SourceMergedInto = u.MergedIntoUserId");
        w.Line($"FROM {_user.SqlName} AS u WITH ({_userKey.Hint})");
        w.Line("WHERE u.UserId = @SourceUserId;");
        w.Line($"SELECT @TargetFound = 1, @TargetEmail = u.Email, @TargetIsActive = u.IsActive, @TargetMergedInto = u.MergedIntoUserId");
        w.Line($"FROM {_user.SqlName} AS u WITH ({_userKey.Hint})");
        w.Line("WHERE u.UserId = @TargetUserId;");
        w.Line();
        Throw("@SourceFound = 0", 51100, "N'dbmerge.User_MergeCore: source user %d does not exist.', @SourceUserId");
        Throw("@TargetFound = 0", 51101, "N'dbmerge.User_MergeCore: target user %d does not exist.', @TargetUserId");
        Throw("@Mode = 'merge' AND @SourceMergedInto IS NOT NULL", 51104,
            "N'dbmerge.User_MergeCore: source user %d is already merged into user %d.', @SourceUserId, @SourceMergedInto");
        Throw("@Mode = 'sweep' AND (@SourceMergedInto IS NULL OR @SourceMergedInto <> @TargetUserId)", 51117,
            "N'dbmerge.User_MergeCore: user %d is not merged into user %d (merged into %s): a sweep re-points the late references of a merged-away user to the user it was merged into.', @SourceUserId, @TargetUserId, ISNULL(CONVERT(nvarchar(12), @SourceMergedInto), N'nobody')");
        Throw("@TargetIsActive = 0 OR @TargetMergedInto IS NOT NULL", 51103,
            "N'dbmerge.User_MergeCore: target user %d is inactive or merged away (merged into %s); merge into an active user.', @TargetUserId, ISNULL(CONVERT(nvarchar(12), @TargetMergedInto), N'nobody')");
        w.Comment($"The source's address is re-addressed only when no other active user holds it (case-insensitively: the column's collation): an inactive legacy account may share its address with the target or with another active user, whose invitations are theirs. Seeks {_userEmail.Describe}; UPDLOCK, HOLDLOCK keep any active user from taking the address until commit.");
        w.Line($"SELECT @AddressHolder = u.UserId");
        w.Line($"FROM {_user.SqlName} AS u WITH ({_userEmail.Hint}, UPDLOCK, HOLDLOCK)");
        w.Line($"WHERE u.Email = @SourceEmail AND u.IsActive = 1 AND u.UserId <> @SourceUserId{Filter(_userEmail, "u")};");
        w.Line("SET @ReaddressSource = IIF(@AddressHolder IS NULL, 1, 0);");
        AddBound("L2", $"SELECT {_user.SqlName} (the address's active holder)", _userEmail, "1 row");
        w.Line();
    }

    /// <summary>
    /// L2, first: U-locks, ascending UserId, on the rows of both users and of every account merged into the source (the
    /// rows step app.User.MergedIntoUserId changes last), so that the merge takes the users' rows in the order
    /// api.Invitation_Create and api.Invitation_Revoke take them (every holder of an address, ascending).
    /// </summary>
    private void LockUsers()
    {
        var w = _w;
        var m = _userMergedInto;
        w.Line("/* ---- L2: U-locks on both users' and the merged-into-source accounts' app.User rows, ascending UserId ------------ */");
        w.Comment($"api.Invitation_Create and api.Invitation_Revoke lock (UPDLOCK, HOLDLOCK), ascending, the sender's or actor's row and those of every account holding the invitation's address: often the source and the legacy accounts merged into it, which share its address. The merge changes those accounts' rows last (app.User.MergedIntoUserId); locking them only there, after the source's row, closed a cycle with such a call (it holds a legacy account, waits for the source; the merge holds the source, waits for the legacy account). So they are U-locked here with both users, one ascending sequence of UserId, in keyset batches of at most @BatchSize ids: the accounts merged into the source from {m.Describe} (the index's filter repeated, so the filtered index serves the variable's equality), with both users, into @LockUser; then a nested-loop join in @LockUser's key order U-locks each row through {_userKey.Describe} (UPDLOCK, ROWLOCK: held to the end of the transaction; U blocks the invitation calls' UPDLOCK and every writer, not readers). The set is stable while this merge holds DbMerge.User:<source>: every merge or sweep into or of the source takes it. The UPDATEs of the two rows below convert their U locks to X; step app.User.MergedIntoUserId converts the others' (no new lock order).");
        w.Line("SET @Step = N'L2 U-locks on both users and the accounts merged into the source';");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE FROM @LockUser;");
            w.Line("INSERT INTO @LockUser (UserId)");
            w.Line("SELECT TOP (@BatchSize) x.UserId");
            w.Line("FROM (SELECT a.UserId");
            w.Line("      FROM (SELECT TOP (@BatchSize) m.UserId");
            w.Line($"            FROM {_user.SqlName} AS m WITH ({m.Hint})");
            w.Line($"            WHERE m.MergedIntoUserId = @SourceUserId{Filter(m, "m")} AND m.UserId >= @LockFrom");
            w.Line("            ORDER BY m.UserId) AS a");
            w.Line("      UNION");
            w.Line("      SELECT v.UserId FROM (VALUES (@SourceUserId), (@TargetUserId)) AS v (UserId) WHERE v.UserId >= @LockFrom) AS x");
            w.Line("ORDER BY x.UserId;");
            w.Line("SET @Rows = @@ROWCOUNT;");
            AddBound("L2", $"SELECT TOP (@BatchSize) {_user.SqlName} (keys: the accounts merged into the source, with both users)", m, "@BatchSize keys read");
            w.Line("IF @Rows = 0 BREAK;");
            UserRowLocks.LockBatchAndAdvance(w, _user.SqlName, _userKey.Hint, "@Locked", () =>
                AddBound("L2", $"SELECT {_user.SqlName} (U-lock of the batch's rows, ascending; UPDLOCK, ROWLOCK)", _userKey, "@BatchSize (one U key lock each)"));
        }

        w.Line("END;");
        w.Line();
    }

    private void Coverage()
    {
        var w = _w;
        w.Line("/* ---- coverage: every foreign key to app.User has a policy, every policy the handler generated here ---------- */");
        w.Line("SET @Step = N'coverage';");
        w.Line("INSERT INTO @Unhandled (Problem)");
        w.Line("SELECT CONCAT(s.name, N'.', t.name, N'.', c.name, N': foreign key ', fk.name, N' to app.User has no row in dbmerge.MergePolicy (add one in a migration, then run dbmerge generate merge)')");
        w.Line("FROM sys.foreign_keys AS fk");
        w.Line("JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id");
        w.Line("JOIN sys.tables AS t ON t.object_id = fkc.parent_object_id");
        w.Line("JOIN sys.schemas AS s ON s.schema_id = t.schema_id");
        w.Line("JOIN sys.columns AS c ON c.object_id = fkc.parent_object_id AND c.column_id = fkc.parent_column_id");
        w.Line("WHERE fk.referenced_object_id = OBJECT_ID(N'app.[User]')");
        w.Line("  AND NOT EXISTS (SELECT 1");
        w.Line("                  FROM dbmerge.MergePolicy AS p");
        w.Line("                  WHERE p.SchemaName = s.name COLLATE DATABASE_DEFAULT");
        w.Line("                    AND p.TableName = t.name COLLATE DATABASE_DEFAULT");
        w.Line("                    AND p.ColumnName = c.name COLLATE DATABASE_DEFAULT)");
        w.Line("ORDER BY s.name, t.name, c.name;");
        w.Line();
        w.Line("INSERT INTO @Unhandled (Problem)");
        w.Line("SELECT CONCAT(p.SchemaName, N'.', p.TableName, N'.', p.ColumnName, N': the policy in dbmerge.MergePolicy (', p.Policy, N', ApplyOrder ', p.ApplyOrder,");
        w.Line("              N') is not the one this procedure was generated from, or has no handler here: run dbmerge generate merge and deploy')");
        w.Line("FROM dbmerge.MergePolicy AS p");
        w.Line("WHERE NOT EXISTS (SELECT 1");
        w.Line("                  FROM @Handler AS h");
        w.Line("                  WHERE h.SchemaName = p.SchemaName AND h.TableName = p.TableName AND h.ColumnName = p.ColumnName");
        w.Line("                    AND h.Policy = p.Policy AND h.ApplyOrder = p.ApplyOrder");
        w.Line("                    AND (h.CollisionKey = p.CollisionKey OR (h.CollisionKey IS NULL AND p.CollisionKey IS NULL))");
        w.Line("                    AND (h.RankTable = p.RankTable OR (h.RankTable IS NULL AND p.RankTable IS NULL))");
        w.Line("                    AND (h.RowFilter = p.RowFilter OR (h.RowFilter IS NULL AND p.RowFilter IS NULL)))");
        w.Line("UNION ALL");
        w.Line("SELECT CONCAT(h.SchemaName, N'.', h.TableName, N'.', h.ColumnName, N': handled here but has no row in dbmerge.MergePolicy')");
        w.Line("FROM @Handler AS h");
        w.Line("WHERE NOT EXISTS (SELECT 1 FROM dbmerge.MergePolicy AS p");
        w.Line("                  WHERE p.SchemaName = h.SchemaName AND p.TableName = h.TableName AND p.ColumnName = h.ColumnName);");
        w.Line();
        w.Line("INSERT INTO @Unhandled (Problem)");
        w.Line("SELECT CONCAT(cs.name, N'.', ct.name, N'.', cc.name, N': foreign key ', fk.name, N' references ', pp.SchemaName, N'.', pp.TableName,");
        w.Line("              N' (a merge-children parent) but is not re-pointed here: run dbmerge generate merge and deploy')");
        w.Line("FROM @Parent AS pp");
        w.Line("JOIN sys.foreign_keys AS fk ON fk.referenced_object_id = OBJECT_ID(QUOTENAME(pp.SchemaName) + N'.' + QUOTENAME(pp.TableName))");
        w.Line("JOIN sys.foreign_key_columns AS fkc ON fkc.constraint_object_id = fk.object_id");
        w.Line("JOIN sys.tables AS ct ON ct.object_id = fkc.parent_object_id");
        w.Line("JOIN sys.schemas AS cs ON cs.schema_id = ct.schema_id");
        w.Line("JOIN sys.columns AS cc ON cc.object_id = fkc.parent_object_id AND cc.column_id = fkc.parent_column_id");
        w.Line("WHERE NOT EXISTS (SELECT 1 FROM @Child AS h");
        w.Line("                  WHERE h.SchemaName = cs.name COLLATE DATABASE_DEFAULT AND h.TableName = ct.name COLLATE DATABASE_DEFAULT");
        w.Line("                    AND h.ColumnName = cc.name COLLATE DATABASE_DEFAULT);");
        w.Line();
        w.Line("IF EXISTS (SELECT 1 FROM @Unhandled)");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SELECT TOP (1) @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: unhandled reference %s (%d problem(s) in all); nothing was changed.',");
            w.Line("    u.Problem, (SELECT COUNT(*) FROM @Unhandled))");
            w.Line("FROM @Unhandled AS u");
            w.Line("ORDER BY u.Seq;");
            w.Line("THROW 51105, @Message, 1;");
        }

        w.Line("END;");
        w.Line();
    }

    private void Refusals()
    {
        var w = _w;
        w.Line("/* ---- refused collisions and references, before any change ------------------------------------------------ */");
        var refuse = _plan.Policies.Where(p => p.Kind == MergePolicyKind.Refuse).ToList();
        w.Comment($"refuse policies ({(refuse.Count == 0 ? "none today" : string.Join(", ", refuse.Select(p => p.Row.Name)))}): any row of the source refuses the merge, naming the table, the column and the first keys.");
        w.Line("SET @Refused = NULL;");
        w.Line("SET @RefusedBy = NULL;");
        foreach (var plan in refuse)
        {
            w.Comment($"{plan.ApplyOrder} {plan.Row.Name} (refuse): seeks {plan.Source.Describe}; reads at most 5 rows.");
            w.Line($"SET @Step = N'{Step(plan)}';");
            w.Line("IF @RefusedBy IS NULL");
            w.Line("BEGIN");
            using (w.Indent())
            {
                w.Line($"SELECT @Refused = STRING_AGG(CONVERT(nvarchar(max), r.RowKey), N', ')");
                w.Line($"FROM (SELECT TOP (5) {JsonKey(plan.Table, "t")} AS RowKey");
                w.Line($"      FROM {plan.Table.SqlName} AS t WITH ({plan.Source.Hint}, READCOMMITTEDLOCK)");
                w.Line($"      WHERE t.{Sql.Name(plan.Column.Name)} = @SourceUserId{Filter(plan.Source, "t")}");
                w.Line($"      ORDER BY {SourceOrder(plan, "t")}) AS r;");
                w.Line($"SET @RefusedBy = IIF(@Refused IS NULL, NULL, {Sql.Literal(plan.Row.Name)});");
            }

            w.Line("END;");
            AddBound(Int(plan.ApplyOrder), $"SELECT TOP (5) {plan.Table.SqlName} (refuse check)", plan.Source, "5 rows read");
        }

        Throw("@RefusedBy IS NOT NULL", 51114,
            "N'dbmerge.User_MergeCore: refused: the policy of %s is refuse and rows of source user %d reference it (first keys %s); resolve them by hand. Nothing was changed.', @RefusedBy, @SourceUserId, @Refused");

        foreach (var plan in _plan.Policies.Where(p => p.Kind == MergePolicyKind.MergeChildren))
        {
            foreach (var child in plan.Children)
            {
                foreach (var unique in child.Uniques)
                {
                    w.Comment($"{plan.ApplyOrder} {plan.Row.Name} (merge-children): both users' {plan.Table.QualifiedName} rows for the same {string.Join(", ", plan.Key.Select(k => k.Name))} holding a {child.Table.QualifiedName} row where {unique.Index.Name} allows one per parent{(unique.OtherColumns.Count > 0 ? " and " + string.Join(", ", unique.OtherColumns) : string.Empty)} refuses the merge. A pre-check without locks (reads at most 5 collisions); every batch repeats it under key-range locks.");
                    w.Line($"SET @Step = N'{Step(plan)}: {child.Table.QualifiedName}.{child.Column.Name}';");
                    RefuseChildCollision(plan, child, unique, fromBatch: false);
                }
            }
        }

        w.Line();
    }

    private void RefuseChildCollision(PolicyPlan plan, ChildPlan child, ChildUnique unique, bool fromBatch)
    {
        var w = _w;
        var parent = plan.Table;
        var parentKey = parent.PrimaryKey!.Columns[0];
        var childColumn = Sql.Name(child.Column.Name);
        var others = string.Concat(unique.OtherColumns.Select(o => $" AND {NullSafeEquals($"tc.{Sql.Name(o)}", $"sc.{Sql.Name(o)}", child.Table.Column(o)!)}"));
        var locks = fromBatch ? "UPDLOCK, SERIALIZABLE" : "READCOMMITTEDLOCK";
        // The source's child (sc) is sought by the parent key alone (child.Seek: an index leading with it); only the
        // target's child (tc) is sought on the unique index's other columns too, by the source child's values. Naming
        // them for sc as well would leave each of the two seeks waiting for the other's columns: error 8622.
        w.Line("SET @Refused = NULL;");
        w.Line($"SELECT @Refused = STRING_AGG(CONVERT(nvarchar(max), r.Collision), N'; ')");
        if (fromBatch)
        {
            w.Line($"FROM (SELECT TOP (5) CONCAT(N'source ', b.S_{parentKey}, N' and target ', b.T_{parentKey}, N' both hold ', sc.{Sql.Name(child.Table.PrimaryKey!.Columns[0])}, N'/', tc.{Sql.Name(child.Table.PrimaryKey!.Columns[0])}) AS Collision");
            w.Line($"      FROM {BatchTable(plan)} AS b");
            w.Line($"      JOIN {child.Table.SqlName} AS sc WITH ({child.Seek.Hint}, {locks}) ON sc.{childColumn} = b.S_{parentKey}");
            w.Line($"      JOIN {child.Table.SqlName} AS tc WITH ({unique.Seek.Hint}, {locks}) ON tc.{childColumn} = b.T_{parentKey}{others}");
            w.Line($"      WHERE b.T_{parentKey} IS NOT NULL");
            w.Line($"      ORDER BY b.S_{parentKey}) AS r;");
        }
        else
        {
            w.Line($"FROM (SELECT TOP (5) CONCAT(N'source ', s.{Sql.Name(parentKey)}, N' and target ', t.{Sql.Name(parentKey)}, N' (', {KeyText(plan, "s")}, N') both hold ', sc.{Sql.Name(child.Table.PrimaryKey!.Columns[0])}, N'/', tc.{Sql.Name(child.Table.PrimaryKey!.Columns[0])}) AS Collision");
            w.Line($"      FROM {parent.SqlName} AS s WITH ({plan.Source.Hint}, READCOMMITTEDLOCK)");
            w.Line($"      JOIN {parent.SqlName} AS t WITH ({plan.Partner!.Hint}, READCOMMITTEDLOCK) ON {PartnerJoin(plan, "t", "s", "@TargetUserId")}");
            w.Line($"      JOIN {child.Table.SqlName} AS sc WITH ({child.Seek.Hint}, {locks}) ON sc.{childColumn} = s.{Sql.Name(parentKey)}");
            w.Line($"      JOIN {child.Table.SqlName} AS tc WITH ({unique.Seek.Hint}, {locks}) ON tc.{childColumn} = t.{Sql.Name(parentKey)}{others}");
            w.Line($"      WHERE s.{Sql.Name(plan.Column.Name)} = @SourceUserId{Filter(plan.Source, "s")}");
            w.Line($"      ORDER BY s.{Sql.Name(parentKey)}) AS r;");
        }

        Throw("@Refused IS NOT NULL", 51106,
            $"N'dbmerge.User_MergeCore: refused: {plan.Row.Name} (merge-children): the source''s and the target''s {parent.QualifiedName} rows for the same {string.Join(", ", plan.Key.Select(k => k.Name))} both hold a {child.Table.QualifiedName} row, and {unique.Index.Name} allows one per {child.Column.Name}: %s (first collisions, as {parent.QualifiedName}.{parentKey} and {child.Table.QualifiedName}.{child.Table.PrimaryKey!.Columns[0]}); resolve them by hand. Nothing was changed.', @Refused");
        AddBound(Int(plan.ApplyOrder), $"SELECT TOP (5) {child.Table.SqlName} ({(fromBatch ? "collision check under key-range locks, per batch" : "collision pre-check")})", unique.Seek, fromBatch ? "≤ 2 × @BatchSize keys" : "5 rows");
    }

    // ------------------------------------------------------------------------------------------------------------
    // policy sections

    private void Section(PolicyPlan plan)
    {
        var w = _w;
        w.Line($"/* ==== {plan.ApplyOrder} {plan.Row.Name}: {plan.Row.Policy} {new string('=', Math.Max(4, 96 - plan.Row.Name.Length - plan.Row.Policy.Length))} */");
        w.Comment(plan.Row.Description);
        w.Line($"SET @Step = N'{Step(plan)}';");
        w.Line("RAISERROR(N'dbmerge.User_MergeCore: %s', 10, 1, @Step) WITH NOWAIT;");
        switch (plan.Kind)
        {
            case MergePolicyKind.Move:
                Move(plan);
                break;
            case MergePolicyKind.KeepHigherRole or MergePolicyKind.Dedupe:
                Collide(plan, "@SourceUserId", "@TargetUserId");
                break;
            case MergePolicyKind.Readdress:
                w.Line("IF @ReaddressSource = 1");
                w.Line("BEGIN");
                using (w.Indent())
                {
                    if (plan.ReduceDuplicates)
                    {
                        ReduceDuplicates(plan, "@SourceEmail", requireSource: false);
                        ReduceDuplicates(plan, "@TargetEmail", requireSource: true);
                    }

                    Collide(plan, "@SourceEmail", "@TargetEmail");
                }

                w.Line("END;");
                break;
            case MergePolicyKind.MergeChildren:
                MergeChildren(plan);
                break;
            case MergePolicyKind.Refuse:
                w.Comment("Checked before any change (refusals above): no source row is left to move.");
                break;
        }

        w.Line();
    }

    /// <summary>The per-batch guard: the run's deadline, and this batch's lock timeout (the smaller of @LockTimeoutMs and the time left).</summary>
    private void BatchGuard()
    {
        var w = _w;
        w.Line("SET @Wait = DATEDIFF(MILLISECOND, SYSUTCDATETIME(), @Deadline);");
        Throw("@Wait < 1", 51115,
            "N'dbmerge.User_MergeCore: run %I64d used up its time budget of %d ms at step %s; rolled back, nothing was changed: run it again when the tables are quieter, or with a larger @MaxDurationMs.', @MergeRunId, @MaxDurationMs, @Step");
        w.Line("SET @Wait = IIF(@Wait < @LockTimeoutMs, @Wait, @LockTimeoutMs);");
        w.Line("SET LOCK_TIMEOUT @Wait;");
    }

    private void Move(PolicyPlan plan)
    {
        var w = _w;
        var t = plan.Table;
        var column = Sql.Name(plan.Column.Name);
        w.Comment($"Each UPDATE re-points at most @BatchSize rows of {t.QualifiedName} (seeks {plan.Source.Describe}: {plan.Column.Name} = @SourceUserId); a moved row leaves the range, so the loop ends with the first short batch.");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("UPDATE TOP (@BatchSize) t");
            w.Line($"SET t.{column} = @TargetUserId{UpdatedAt(t, "t")}");
            Output(t, "update", "moved", plan, deletedOnly: false);
            w.Line($"FROM {t.SqlName} AS t WITH ({plan.Source.Hint})");
            w.Line($"WHERE t.{column} = @SourceUserId{Filter(plan.Source, "t")};");
            w.Line("SET @Rows = @@ROWCOUNT;");
            AddBound(Int(plan.ApplyOrder), $"UPDATE TOP (@BatchSize) {t.SqlName}", plan.Source, "@BatchSize", Writes(t, [plan.Column.Name]));
            Flush(t);
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
    }

    /// <summary>keep-higher-role, dedupe and readdress: per batch, the source's rows with the target's row for the same resource.</summary>
    private void Collide(PolicyPlan plan, string source, string target)
    {
        var w = _w;
        var t = plan.Table;
        var batch = BatchTable(plan);
        var column = Sql.Name(plan.Column.Name);
        var pk = t.PrimaryKey!.Columns;
        var rank = plan.Rank;
        var verb = plan.Kind == MergePolicyKind.Readdress ? "re-addressed" : "re-pointed";
        w.Comment($"Per batch: the next at most @BatchSize source rows (seeks {plan.Source.Describe}: {plan.Column.Name} = {source}; UPDLOCK holds them to the end), each with the target's row for the same {string.Join(", ", plan.Key.Select(k => k.Name))} (seeks {plan.Partner!.Describe}; UPDLOCK){(rank is null ? string.Empty : $" and both ranks ({rank.Table.QualifiedName})")}. Then{(rank is null ? string.Empty : " the target's row takes the source's higher rank,")} a colliding source row is deleted and the others are {verb} to the target: every source row of the batch leaves the range, so the loop ends with the first short batch.");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line($"DELETE FROM {batch};");
            var columns = pk.Select(c => $"S_{c}").Concat(pk.Select(c => $"T_{c}")).ToList();
            if (rank is not null)
            {
                columns.AddRange(["SourceRank", "TargetRank", "SourceValue"]);
            }

            w.Line($"INSERT INTO {batch} ({string.Join(", ", columns)})");
            var values = pk.Select(c => $"s.{Sql.Name(c)}").Concat(pk.Select(c => $"p.{Sql.Name(c)}")).ToList();
            if (rank is not null)
            {
                values.AddRange([$"ISNULL(sr.{Sql.Name(rank.RankColumn)}, 0)", "p.TargetRank", $"s.{Sql.Name(rank.RankedColumn.Name)}"]);
            }

            w.Line($"SELECT TOP (@BatchSize) {string.Join(", ", values)}");
            w.Line($"FROM {t.SqlName} AS s WITH ({plan.Source.Hint}, UPDLOCK)");
            if (rank is not null)
            {
                w.Line($"LEFT JOIN {rank.Table.SqlName} AS sr WITH ({rank.Seek.Hint}) ON sr.{Sql.Name(rank.ValueColumn)} = s.{Sql.Name(rank.RankedColumn.Name)}");
            }

            var partnerColumns = pk.Select(c => $"pt.{Sql.Name(c)}").ToList();
            if (rank is not null)
            {
                partnerColumns.Add($"ISNULL(pr.{Sql.Name(rank.RankColumn)}, 0) AS TargetRank");
            }

            w.Line($"OUTER APPLY (SELECT TOP (1) {string.Join(", ", partnerColumns)}");
            w.Line($"             FROM {t.SqlName} AS pt WITH ({plan.Partner.Hint}, UPDLOCK)");
            if (rank is not null)
            {
                w.Line($"             LEFT JOIN {rank.Table.SqlName} AS pr WITH ({rank.Seek.Hint}) ON pr.{Sql.Name(rank.ValueColumn)} = pt.{Sql.Name(rank.RankedColumn.Name)}");
            }

            w.Line($"             WHERE {PartnerJoin(plan, "pt", "s", target)}{Filter(plan.Partner, "pt")}{RowFilter(plan, "pt")}");
            w.Line($"             ORDER BY {(rank is null ? string.Empty : $"ISNULL(pr.{Sql.Name(rank.RankColumn)}, 0) DESC, ")}{PkList(t, "pt")}) AS p");
            w.Line($"WHERE s.{column} = {source}{Filter(plan.Source, "s")}{RowFilter(plan, "s")}");
            w.Line($"ORDER BY {SourceOrder(plan, "s")};");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            AddBound(Int(plan.ApplyOrder), $"SELECT TOP (@BatchSize) {t.SqlName} (source rows, UPDLOCK)", plan.Source, "@BatchSize");
            AddBound(Int(plan.ApplyOrder), $"  … OUTER APPLY TOP (1) {t.SqlName} (the target's row, UPDLOCK)", plan.Partner, "1 per source row");
            w.Line();
            w.Line($"UPDATE @Summary SET Conflicts += (SELECT COUNT(*) FROM {batch} AS b WHERE b.T_{pk[0]} IS NOT NULL) WHERE ApplyOrder = {Int(plan.ApplyOrder)};");
            var byKey = string.Join(" AND ", pk.Select(c => $"x.{Sql.Name(c)} = b.T_{c}"));
            var bySource = string.Join(" AND ", pk.Select(c => $"x.{Sql.Name(c)} = b.S_{c}"));
            if (rank is not null)
            {
                w.Comment($"The target's row takes the source's higher {rank.RankedColumn.Name} (seeks {plan.PrimaryKey.Describe} per batch row).");
                w.Line("UPDATE x");
                w.Line($"SET x.{Sql.Name(rank.RankedColumn.Name)} = b.SourceValue{UpdatedAt(t, "x")}");
                Output(t, "update", "merged", plan, deletedOnly: false);
                w.Line($"FROM {batch} AS b");
                w.Line($"JOIN {t.SqlName} AS x WITH ({plan.PrimaryKey.Hint}) ON {byKey}");
                w.Line("WHERE b.SourceRank > b.TargetRank;");
                AddBound(Int(plan.ApplyOrder), $"UPDATE {t.SqlName} (raise the target's rank)", plan.PrimaryKey, "@BatchSize", Writes(t, [rank.RankedColumn.Name]));
            }

            w.Comment($"A source row whose resource the target holds goes (seeks {plan.PrimaryKey.Describe}).");
            w.Line("DELETE x");
            Output(t, "delete", "deleted", plan, deletedOnly: true);
            w.Line($"FROM {batch} AS b");
            w.Line($"JOIN {t.SqlName} AS x WITH ({plan.PrimaryKey.Hint}) ON {bySource}");
            w.Line($"WHERE b.T_{pk[0]} IS NOT NULL;");
            AddBound(Int(plan.ApplyOrder), $"DELETE {t.SqlName} (colliding source rows)", plan.PrimaryKey, "@BatchSize", Writes(t, null));
            w.Comment($"The others are {verb} to the target (seeks {plan.PrimaryKey.Describe}).");
            w.Line("UPDATE x");
            w.Line($"SET x.{column} = {target}{UpdatedAt(t, "x")}");
            Output(t, "update", "moved", plan, deletedOnly: false);
            w.Line($"FROM {batch} AS b");
            w.Line($"JOIN {t.SqlName} AS x WITH ({plan.PrimaryKey.Hint}) ON {bySource}");
            w.Line($"WHERE b.T_{pk[0]} IS NULL;");
            AddBound(Int(plan.ApplyOrder), $"UPDATE {t.SqlName} ({verb})", plan.PrimaryKey, "@BatchSize", Writes(t, [plan.Column.Name]));
            Flush(t);
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
    }

    /// <summary>Readdress without a unique index: reduce one address's duplicates for one resource to the best row (higher rank, then lower key).</summary>
    private void ReduceDuplicates(PolicyPlan plan, string address, bool requireSource)
    {
        var w = _w;
        var t = plan.Table;
        var column = Sql.Name(plan.Column.Name);
        var rank = plan.Rank;
        var pk = t.PrimaryKey!.Columns;
        w.Comment(requireSource
            ? $"The target address's own duplicates for a resource the source's address also holds are reduced the same way, so each such resource has at most one row per address below. Per statement at most @BatchSize rows (seeks {plan.Source.Describe}); each pass reads the target address's rows once."
            : $"No unique index makes ({string.Join(", ", plan.Key.Select(k => k.Name))}) unique per {plan.Column.Name}: the source address's duplicates for one resource are reduced to the best row ({(rank is null ? string.Empty : "higher rank, then ")}lower key) first. Per statement at most @BatchSize rows (seeks {plan.Source.Describe}); each pass reads the source address's rows once.");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line("DELETE TOP (@BatchSize) d");
            Output(t, "delete", "deleted", plan, deletedOnly: true);
            w.Line($"FROM {t.SqlName} AS d WITH ({plan.Source.Hint})");
            if (rank is not null)
            {
                w.Line($"LEFT JOIN {rank.Table.SqlName} AS dr WITH ({rank.Seek.Hint}) ON dr.{Sql.Name(rank.ValueColumn)} = d.{Sql.Name(rank.RankedColumn.Name)}");
            }

            var lines = new List<string>
            {
                $"WHERE d.{column} = {address}{Filter(plan.Source, "d")}{RowFilter(plan, "d")}",
                "  AND EXISTS (SELECT 1",
                $"              FROM {t.SqlName} AS b WITH ({plan.Source.Hint}, READCOMMITTEDLOCK)",
            };
            if (rank is not null)
            {
                lines.Add($"              LEFT JOIN {rank.Table.SqlName} AS br WITH ({rank.Seek.Hint}) ON br.{Sql.Name(rank.ValueColumn)} = b.{Sql.Name(rank.RankedColumn.Name)}");
            }

            lines.Add($"              WHERE b.{column} = {address}{Filter(plan.Source, "b")}{RowFilter(plan, "b")}");
            lines.Add($"                AND {KeyEquals(plan, "b", "d")}");
            var earlier = KeyOrder(pk, "b", "d");
            var better = rank is null
                ? earlier
                : $"ISNULL(br.{Sql.Name(rank.RankColumn)}, 0) > ISNULL(dr.{Sql.Name(rank.RankColumn)}, 0) OR (ISNULL(br.{Sql.Name(rank.RankColumn)}, 0) = ISNULL(dr.{Sql.Name(rank.RankColumn)}, 0) AND ({earlier}))";
            lines.Add($"                AND ({better}))");
            if (requireSource)
            {
                lines.Add("  AND EXISTS (SELECT 1");
                lines.Add($"              FROM {t.SqlName} AS o WITH ({plan.Source.Hint}, READCOMMITTEDLOCK)");
                lines.Add($"              WHERE o.{column} = @SourceEmail{Filter(plan.Source, "o")}{RowFilter(plan, "o")}");
                lines.Add($"                AND {KeyEquals(plan, "o", "d")})");
            }

            lines[^1] += ";";
            w.Lines(lines);
            w.Line("SET @Rows = @@ROWCOUNT;");
            AddBound(Int(plan.ApplyOrder), $"DELETE TOP (@BatchSize) {t.SqlName} (duplicates of {(requireSource ? "the target" : "the source")} address)", plan.Source, "@BatchSize", Writes(t, null));
            Flush(t);
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
    }

    private void MergeChildren(PolicyPlan plan)
    {
        var w = _w;
        var t = plan.Table;
        var batch = BatchTable(plan);
        var column = Sql.Name(plan.Column.Name);
        var pk = t.PrimaryKey!.Columns;
        var parentKey = pk[0];
        w.Comment($"Per batch: the next at most @BatchSize source rows of {t.QualifiedName} (seeks {plan.Source.Describe}; UPDLOCK), each with the target's row for the same {string.Join(", ", plan.Key.Select(k => k.Name))} (seeks {plan.Partner!.Describe}; UPDLOCK). A colliding source row's children ({string.Join(", ", plan.Children.Select(c => c.Table.QualifiedName))}) are re-pointed to the target's row, then it is deleted; a source row without collision moves to the target with its children.");
        w.Line("WHILE 1 = 1");
        w.Line("BEGIN");
        using (w.Indent())
        {
            BatchGuard();
            w.Line($"DELETE FROM {batch};");
            w.Line($"INSERT INTO {batch} ({string.Join(", ", pk.Select(c => $"S_{c}").Concat(pk.Select(c => $"T_{c}")))})");
            w.Line($"SELECT TOP (@BatchSize) {string.Join(", ", pk.Select(c => $"s.{Sql.Name(c)}").Concat(pk.Select(c => $"p.{Sql.Name(c)}")))}");
            w.Line($"FROM {t.SqlName} AS s WITH ({plan.Source.Hint}, UPDLOCK)");
            w.Line($"OUTER APPLY (SELECT TOP (1) {PkList(t, "pt")}");
            w.Line($"             FROM {t.SqlName} AS pt WITH ({plan.Partner.Hint}, UPDLOCK)");
            w.Line($"             WHERE {PartnerJoin(plan, "pt", "s", "@TargetUserId")}{Filter(plan.Partner, "pt")}");
            w.Line($"             ORDER BY {PkList(t, "pt")}) AS p");
            w.Line($"WHERE s.{column} = @SourceUserId{Filter(plan.Source, "s")}");
            w.Line($"ORDER BY {SourceOrder(plan, "s")};");
            w.Line("SET @Rows = @@ROWCOUNT;");
            w.Line("IF @Rows = 0 BREAK;");
            AddBound(Int(plan.ApplyOrder), $"SELECT TOP (@BatchSize) {t.SqlName} (source rows, UPDLOCK)", plan.Source, "@BatchSize");
            AddBound(Int(plan.ApplyOrder), $"  … OUTER APPLY TOP (1) {t.SqlName} (the target's row, UPDLOCK)", plan.Partner, "1 per source row");
            w.Line($"UPDATE @Summary SET Conflicts += (SELECT COUNT(*) FROM {batch} AS b WHERE b.T_{parentKey} IS NOT NULL) WHERE ApplyOrder = {Int(plan.ApplyOrder)};");
            foreach (var child in plan.Children)
            {
                var c = child.Table;
                var childKey = c.PrimaryKey!.Columns[0];
                w.Comment($"Fence: a key-range lock on the end of each batch source row's range of {c.QualifiedName} (seeks {child.Seek.Describe}, the last row by {childKey}, UPDLOCK, SERIALIZABLE): a child the application inserts meanwhile gets a higher {childKey} (IDENTITY), lands in that range and waits for this merge, so the source row can be deleted below. One row and one range per batch row.");
                w.Line("SELECT @Fenced = COUNT(f.FencedKey)");
                w.Line($"FROM {batch} AS b");
                w.Line($"OUTER APPLY (SELECT TOP (1) c.{Sql.Name(childKey)} AS FencedKey");
                w.Line($"             FROM {c.SqlName} AS c WITH ({child.Seek.Hint}, UPDLOCK, SERIALIZABLE)");
                w.Line($"             WHERE c.{Sql.Name(child.Column.Name)} = b.S_{parentKey}");
                w.Line($"             ORDER BY c.{Sql.Name(childKey)} DESC) AS f;");
                AddBound(Int(plan.ApplyOrder), $"SELECT TOP (1) per batch row {c.SqlName} (fence, UPDLOCK, SERIALIZABLE)", child.Seek, "1 row and 1 key range per batch row");
                foreach (var unique in child.Uniques)
                {
                    w.Comment($"Under key-range locks: both rows holding a {c.QualifiedName} row where {unique.Index.Name} allows one refuses the merge (the pre-check above, repeated where a concurrent insert cannot slip in).");
                    RefuseChildCollision(plan, child, unique, fromBatch: true);
                }
            }

            foreach (var child in plan.Children)
            {
                var c = child.Table;
                var childColumn = Sql.Name(child.Column.Name);
                w.Comment($"Children of a colliding source row move to the target's row: at most @BatchSize rows of {c.QualifiedName} per statement (seeks {child.Seek.Describe} per batch row); moved rows leave the source rows' ranges.");
                w.Line("WHILE 1 = 1");
                w.Line("BEGIN");
                using (w.Indent())
                {
                    BatchGuard();
                    w.Line("UPDATE TOP (@BatchSize) c");
                    w.Line($"SET c.{childColumn} = b.T_{parentKey}{UpdatedAt(c, "c")}");
                    Output(c, "update", "merged", plan, deletedOnly: false);
                    w.Line($"FROM {batch} AS b");
                    w.Line($"JOIN {c.SqlName} AS c WITH ({child.Seek.Hint}) ON c.{childColumn} = b.S_{parentKey}");
                    w.Line($"WHERE b.T_{parentKey} IS NOT NULL;");
                    w.Line("SET @ChildRows = @@ROWCOUNT;");
                    AddBound(Int(plan.ApplyOrder), $"UPDATE TOP (@BatchSize) {c.SqlName} (children to the target's row)", child.Seek, "@BatchSize", Writes(c, [child.Column.Name]));
                    Flush(c);
                    w.Line("IF @ChildRows < @BatchSize BREAK;");
                }

                w.Line("END;");
            }

            var bySource = string.Join(" AND ", pk.Select(c => $"x.{Sql.Name(c)} = b.S_{c}"));
            w.Comment($"The colliding source rows, now without children, go (seeks {plan.PrimaryKey.Describe}).");
            w.Line("DELETE x");
            Output(t, "delete", "deleted", plan, deletedOnly: true);
            w.Line($"FROM {batch} AS b");
            w.Line($"JOIN {t.SqlName} AS x WITH ({plan.PrimaryKey.Hint}) ON {bySource}");
            w.Line($"WHERE b.T_{parentKey} IS NOT NULL;");
            AddBound(Int(plan.ApplyOrder), $"DELETE {t.SqlName} (colliding source rows)", plan.PrimaryKey, "@BatchSize", Writes(t, null));
            w.Comment($"The others move to the target with their children (seeks {plan.PrimaryKey.Describe}).");
            w.Line("UPDATE x");
            w.Line($"SET x.{column} = @TargetUserId{UpdatedAt(t, "x")}");
            Output(t, "update", "moved", plan, deletedOnly: false);
            w.Line($"FROM {batch} AS b");
            w.Line($"JOIN {t.SqlName} AS x WITH ({plan.PrimaryKey.Hint}) ON {bySource}");
            w.Line($"WHERE b.T_{parentKey} IS NULL;");
            AddBound(Int(plan.ApplyOrder), $"UPDATE {t.SqlName} (moved)", plan.PrimaryKey, "@BatchSize", Writes(t, [plan.Column.Name]));
            Flush(t);
            w.Line("IF @Rows < @BatchSize BREAK;");
        }

        w.Line("END;");
    }

    private void Deactivate()
    {
        var w = _w;
        var policy = _plan.Policies.FirstOrDefault(p => p.Table.QualifiedName.Equals(_user.QualifiedName, StringComparison.OrdinalIgnoreCase) &&
                                                        p.Column.Name.Equals("MergedIntoUserId", StringComparison.OrdinalIgnoreCase));
        w.Line("/* ---- merge: the source ends inactive, merged into the target (its e-mail kept) ----------------------------- */");
        w.Line("IF @Mode = 'merge'");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @Step = N'deactivate the source';");
            w.Line("UPDATE u");
            w.Line("SET u.IsActive = 0, u.MergedIntoUserId = @TargetUserId, u.UpdatedAt = @Now");
            Output(_user, "update", "merged", policy, deletedOnly: false, lockedWithoutPolicy: policy is null);
            w.Line($"FROM {_user.SqlName} AS u WITH ({_userKey.Hint})");
            w.Line("WHERE u.UserId = @SourceUserId;");
            AddBound("end", $"UPDATE {_user.SqlName} (the source)", _userKey, "1 row", Writes(_user, ["IsActive", "MergedIntoUserId"]));
            Flush(_user);
        }

        w.Line("END;");
        w.Line();
    }

    private void Residual()
    {
        var w = _w;
        w.Line("/* ---- post-condition: nothing references the source any more (committed-locking reads) ------------------------ */");
        w.Comment("READCOMMITTEDLOCK: under READ COMMITTED SNAPSHOT a plain read would not wait for, nor see, a row another transaction wrote and has not committed; these reads do. One seek per column; reads at most 1 row each.");
        w.Line("SET @Step = N'residual check';");
        foreach (var plan in _plan.Policies.Where(p => p.IsUserReference && p.Kind != MergePolicyKind.Refuse))
        {
            w.Line($"IF EXISTS (SELECT 1 FROM {plan.Table.SqlName} AS t WITH ({plan.Source.Hint}, READCOMMITTEDLOCK) WHERE t.{Sql.Name(plan.Column.Name)} = @SourceUserId{Filter(plan.Source, "t")})");
            w.Line($"    INSERT INTO @Residual (Name) VALUES ({Sql.Literal(plan.Row.Name)});");
            AddBound("check", $"SELECT 1 {plan.Table.SqlName} (residual)", plan.Source, "1 row read");
        }

        w.Line("IF EXISTS (SELECT 1 FROM @Residual)");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SELECT @Refused = STRING_AGG(CONVERT(nvarchar(max), r.Name), N', ') WITHIN GROUP (ORDER BY r.Seq) FROM @Residual AS r;");
            w.Line("SET @Message = FORMATMESSAGE(N'dbmerge.User_MergeCore: rows still reference source user %d after the merge, rolled back: %s.', @SourceUserId, @Refused);");
            w.Line("THROW 51107, @Message, 1;");
        }

        w.Line("END;");
        var addresses = _plan.Policies.Where(p => p.Kind == MergePolicyKind.Readdress).ToList();
        if (addresses.Count > 0)
        {
            w.Comment("Rows addressed to the source's e-mail have no foreign key the user row locks could block: one the application writes after its policy's section is not an error here; it is a late reference, which dbmerge status counts and dbmerge users sweep re-addresses.");
            w.Line("SET @Refused = NULL;");
            w.Line("IF @ReaddressSource = 1");
            w.Line("BEGIN");
            using (w.Indent())
            {
                foreach (var plan in addresses)
                {
                    w.Line($"IF EXISTS (SELECT 1 FROM {plan.Table.SqlName} AS t WITH ({plan.Source.Hint}, READCOMMITTEDLOCK) WHERE t.{Sql.Name(plan.Column.Name)} = @SourceEmail{Filter(plan.Source, "t")}{RowFilter(plan, "t")})");
                    w.Line($"    SET @Refused = CONCAT(@Refused + N', ', {Sql.Literal(plan.Row.Name)});");
                    AddBound("check", $"SELECT 1 {plan.Table.SqlName} (late e-mail rows)", plan.Source, "1 row read");
                }
            }

            w.Line("END;");
            w.Line("IF @Refused IS NOT NULL");
            w.Line("    RAISERROR(N'dbmerge.User_MergeCore: rows addressed to the source''s e-mail arrived during the merge (%s); dbmerge users sweep will re-address them.', 10, 1, @Refused) WITH NOWAIT;");
        }

        w.Line();
    }

    private void Finish()
    {
        var w = _w;
        w.Line("/* ---- result: the summary; a merge that is not a dry run records its committed status inside the transaction -- */");
        w.Line("SET @Step = N'finish';");
        w.Line("SET @SummaryJson = (SELECT s.ApplyOrder, s.SchemaName, s.TableName, s.ColumnName, s.Policy, s.Moved, s.Merged, s.Deleted, s.Conflicts");
        w.Line("                    FROM @Summary AS s");
        w.Line("                    ORDER BY s.ApplyOrder");
        w.Line("                    FOR JSON PATH);");
        w.Line();
        w.Line("IF @IsDryRun = 0");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Comment("Written in the merge transaction: committed with the merge, or rolled back with it — a session killed after COMMIT cannot leave a committed merge that looks abandoned.");
            w.Line("UPDATE dbmerge.MergeRun");
            w.Line("SET Status = 'committed', FinishedAt = SYSUTCDATETIME(), SummaryJson = @SummaryJson");
            w.Line("WHERE MergeRunId = @MergeRunId AND Status = 'running';");
        }

        w.Line("END;");
        w.Line();
        w.Line("RAISERROR(N'dbmerge.User_MergeCore: run %I64d done: %d change(s) journaled.', 10, 1, @MergeRunId, @ChangeSeq) WITH NOWAIT;");
    }

    private void Catch()
    {
        var w = _w;
        w.Comment("XACT_ABORT has doomed the caller's transaction: roll it back here (the usual nested-procedure pattern), so the caller's CATCH finds @@TRANCOUNT = 0. A lock timeout (1222) becomes 51108 — or 51115 when the wait was cut to the time left of the run's budget (@Wait < @LockTimeoutMs) — naming the step that waited. The run is recorded as refused or failed, with its error and the summary so far (dbmerge.MergeRun_Finish decides which from the number) — only once it is proven this call's running run (@RunIsOurs, after the 51118 check): before that (51110, 51102, 51118 itself) @MergeRunId may name another session's running run, which must not be marked refused or failed (its own commit would then find no running row, and the history would show a committed run as refused); api.User_Merge's, api.User_Sweep's and reconciliation processing's CATCH record those refusals of their own run.");
        w.Line("IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;");
        w.Line("SET @ErrorNumber = ERROR_NUMBER();");
        w.Line("SET @ErrorMessage = ERROR_MESSAGE();");
        w.Line("IF @ErrorNumber = 1222");
        w.Line("BEGIN");
        using (w.Indent())
        {
            w.Line("SET @ErrorNumber = IIF(@Wait < @LockTimeoutMs, 51115, 51108); -- the wait was cut to the time left: the budget ended it");
            w.Line("SET @ErrorMessage = FORMATMESSAGE(N'dbmerge.User_MergeCore: run %I64d waited %d ms for a lock at step %s without getting it (%s); rolled back, nothing was changed: retry when the blocking transaction has finished.',");
            w.Line("    @MergeRunId, @Wait, @Step, ERROR_MESSAGE());");
        }

        w.Line("END;");
        w.Line("SET @SummaryJson = (SELECT s.ApplyOrder, s.SchemaName, s.TableName, s.ColumnName, s.Policy, s.Moved, s.Merged, s.Deleted, s.Conflicts");
        w.Line("                    FROM @Summary AS s ORDER BY s.ApplyOrder FOR JSON PATH);");
        w.Comment("The failure is logged with the caller's lock timeout, not this run's last @Wait: cut to the time left of the budget (a few ms on the 51115 path), or 0 with @LockTimeoutMs 0, it made MergeRun_Finish's UPDATE of the run's row fail with 1222 on any concurrent reader's lock of it; that 1222 replaced this error for the caller, whose own CATCH then recorded the run failed with 1222 and without its summary.");
        w.Line("SET LOCK_TIMEOUT @CallerLockTimeout;");
        w.Line("IF @RunIsOurs = 1");
        w.Line("    EXEC dbmerge.MergeRun_Finish @MergeRunId = @MergeRunId, @Outcome = NULL, @ErrorNumber = @ErrorNumber, @ErrorMessage = @ErrorMessage, @SummaryJson = @SummaryJson;");
        w.Line("IF ERROR_NUMBER() = 1222 AND @ErrorNumber = 51108 THROW 51108, @ErrorMessage, 1;");
        w.Line("IF ERROR_NUMBER() = 1222 AND @ErrorNumber = 51115 THROW 51115, @ErrorMessage, 1;");
        w.Line("THROW;");
    }

    // ------------------------------------------------------------------------------------------------------------
    // statement parts

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

    /// <summary>OUTPUT … INTO the table's change variable: the operation, the action, the policy served, deleted.* and inserted.*.</summary>
    private void Output(ModelTable table, string operation, string action, PolicyPlan? plan, bool deletedOnly, bool lockedWithoutPolicy = false)
    {
        var columns = table.StoredColumns.ToList();
        var policy = plan is null || lockedWithoutPolicy ? "NULL, NULL, NULL" : PolicyColumns(plan);
        var values = new List<string> { Sql.AnsiLiteral(operation), Sql.AnsiLiteral(action), policy };
        values.AddRange(columns.Select(c => $"deleted.{Sql.Name(c.Name)}"));
        var targets = new List<string> { "Operation", "Action", "PolicySchemaName", "PolicyTableName", "PolicyColumnName" };
        targets.AddRange(columns.Select(c => $"B_{c.Name}"));
        if (!deletedOnly)
        {
            values.AddRange(columns.Select(c => $"inserted.{Sql.Name(c.Name)}"));
            targets.AddRange(columns.Select(c => $"A_{c.Name}"));
        }

        _w.Line($"OUTPUT {string.Join(", ", values)}");
        _w.Line($"INTO {ChangeTable(table)} ({string.Join(", ", targets)})");
    }

    /// <summary>Writes a table's captured changes to dbmerge.MergeChange in change order, adds them to the summary, and empties the capture.</summary>
    private void Flush(ModelTable table)
    {
        var w = _w;
        var change = ChangeTable(table);
        var columns = table.StoredColumns.ToList();
        var pk = table.PrimaryKey!.Columns;
        w.Line($"UPDATE s SET s.Moved += x.Moved, s.Merged += x.Merged, s.Deleted += x.Deleted");
        w.Line("FROM @Summary AS s");
        w.Line("JOIN (SELECT c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName,");
        w.Line("             SUM(IIF(c.Action = 'moved', 1, 0)) AS Moved, SUM(IIF(c.Action = 'merged', 1, 0)) AS Merged, SUM(IIF(c.Action = 'deleted', 1, 0)) AS Deleted");
        w.Line($"      FROM {change} AS c");
        w.Line("      WHERE c.PolicyColumnName IS NOT NULL");
        w.Line("      GROUP BY c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName) AS x");
        w.Line("  ON x.PolicySchemaName = s.SchemaName AND x.PolicyTableName = s.TableName AND x.PolicyColumnName = s.ColumnName;");
        w.Line("INSERT INTO dbmerge.MergeChange (MergeRunId, ChangeSeq, SchemaName, TableName, Operation, Action, PolicySchemaName, PolicyTableName, PolicyColumnName,");
        w.Line("                                 RowKey, BeforeImage, AfterImage, ChangedAt)");
        w.Line($"SELECT @MergeRunId, @ChangeSeq + CONVERT(int, ROW_NUMBER() OVER (ORDER BY c.Seq)), {Sql.Literal(table.Schema)}, {Sql.Literal(table.Name)}, c.Operation, c.Action,");
        w.Line("       c.PolicySchemaName, c.PolicyTableName, c.PolicyColumnName,");
        w.Line($"       (SELECT {string.Join(", ", pk.Select(k => $"IIF(c.Operation = 'delete', c.B_{k}, c.A_{k}) AS {Sql.Bracket(k)}"))} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER),");
        w.Line($"       IIF(c.Operation = 'insert', NULL, (SELECT {string.Join(", ", columns.Select(k => $"c.B_{k.Name} AS {Sql.Bracket(k.Name)}"))}");
        w.Line("                                          FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)),");
        w.Line($"       IIF(c.Operation = 'delete', NULL, (SELECT {string.Join(", ", columns.Select(k => $"c.A_{k.Name} AS {Sql.Bracket(k.Name)}"))}");
        w.Line("                                          FOR JSON PATH, WITHOUT_ARRAY_WRAPPER, INCLUDE_NULL_VALUES)),");
        w.Line("       @Now");
        w.Line($"FROM {change} AS c;");
        w.Line("SET @ChangeSeq += @@ROWCOUNT;");
        w.Line($"DELETE FROM {change};");
    }

    private static string UpdatedAt(ModelTable table, string alias) =>
        table.Column(MergePlanner.UpdatedAtColumn) is { TypeName: "datetime2" } ? $", {alias}.{MergePlanner.UpdatedAtColumn} = @Now" : string.Empty;

    private static string Filter(SeekPlan seek, string alias) => seek.Filter is null ? string.Empty : $" AND {seek.Filter.Qualify(alias)}";

    private static string RowFilter(PolicyPlan plan, string alias) => plan.RowFilter is null ? string.Empty : $" AND {plan.RowFilter.Qualify(alias)}";

    /// <summary>The partner row: same key (NULL-safe for nullable key columns) and held by <paramref name="holder"/>.</summary>
    private static string PartnerJoin(PolicyPlan plan, string partner, string source, string holder) =>
        string.Join(" AND ", plan.Key.Select(k => NullSafeEquals($"{partner}.{Sql.Name(k.Name)}", $"{source}.{Sql.Name(k.Name)}", k))
            .Append($"{partner}.{Sql.Name(plan.Column.Name)} = {holder}"));

    private static string KeyEquals(PolicyPlan plan, string a, string b) =>
        string.Join(" AND ", plan.Key.Select(k => NullSafeEquals($"{a}.{Sql.Name(k.Name)}", $"{b}.{Sql.Name(k.Name)}", k)));

    private static string NullSafeEquals(string left, string right, ModelColumn column) =>
        column.Nullable ? $"({left} = {right} OR ({left} IS NULL AND {right} IS NULL))" : $"{left} = {right}";

    /// <summary><c>a</c>'s key sorts before <c>b</c>'s (lexicographic over the primary key columns).</summary>
    private static string KeyOrder(IReadOnlyList<string> pk, string a, string b)
    {
        var terms = new List<string>();
        for (var i = 0; i < pk.Count; i++)
        {
            var equal = pk.Take(i).Select(c => $"{a}.{Sql.Name(c)} = {b}.{Sql.Name(c)}");
            terms.Add(string.Join(" AND ", equal.Append($"{a}.{Sql.Name(pk[i])} < {b}.{Sql.Name(pk[i])}")));
        }

        return string.Join(" OR ", terms.Select(t => terms.Count > 1 ? $"({t})" : t));
    }

    private static string JsonKey(ModelTable table, string alias) =>
        $"(SELECT {string.Join(", ", table.PrimaryKey!.Columns.Select(c => $"{alias}.{Sql.Name(c)} AS {Sql.Bracket(c)}"))} FOR JSON PATH, WITHOUT_ARRAY_WRAPPER)";

    private static string KeyText(PolicyPlan plan, string alias) =>
        string.Join(", N', ', ", plan.Key.Select(k => $"N'{k.Name} ', ISNULL(CONVERT(nvarchar(40), {alias}.{Sql.Name(k.Name)}), N'NULL')"));

    /// <summary>The indexes a write changes: every index for a DELETE (<paramref name="changed"/> null), else those whose key or INCLUDE columns change.</summary>
    private static IReadOnlyList<string> Writes(ModelTable table, IReadOnlyList<string>? changed)
    {
        var clustered = table.Indexes.FirstOrDefault(i => i.Clustered);
        if (changed is null)
        {
            return table.Indexes.Select(i => i.Name).ToList();
        }

        var all = changed.Append(MergePlanner.UpdatedAtColumn).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return table.Indexes
            .Where(i => i.Clustered || i.Columns.Concat(i.Included).Any(all.Contains) ||
                        (clustered is not null && i.Columns.Any(c => clustered.Columns.Contains(c, StringComparer.OrdinalIgnoreCase) && all.Contains(c))))
            .Select(i => i.Name + (i.Columns.Any(all.Contains) ? " (key: old and new)" : i.Clustered ? string.Empty : " (included)"))
            .ToList();
    }

    private void AddBound(string order, string statement, SeekPlan seek, string rows, IReadOnlyList<string>? writes = null) =>
        _bounds.Add($"{order,-5} {statement}; seeks {seek.Describe}; rows {rows}" + (writes is null ? string.Empty : $"; writes {string.Join(", ", writes)}"));

    // ------------------------------------------------------------------------------------------------------------
    // header

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

    private string Header()
    {
        var lockOrder = Wrap(string.Join(", ", _plan.TablesInLockOrder.Select(t => t.QualifiedName)), "                     ", 116);
        var policies = _plan.Policies.Select(p =>
            $"{p.ApplyOrder,5} {p.Row.Name,-34} {p.Row.Policy,-16} " +
            (p.Key.Count > 0 ? $"key ({string.Join(", ", p.Key.Select(k => k.Name))})" : string.Empty) +
            (p.Rank is null ? string.Empty : $" rank {p.Rank.Table.QualifiedName}") +
            (p.RowFilter is null ? string.Empty : $" rows {p.RowFilter}") +
            (p.Children.Count == 0 ? string.Empty : $" children {string.Join(", ", p.Children.Select(c => $"{c.Table.QualifiedName}.{c.Column.Name}" + (c.Uniques.Count > 0 ? " (at most one per parent: " + string.Join(", ", c.Uniques.Select(u => u.Index.Name)) + ")" : string.Empty)))}") +
            (p.ReduceDuplicates ? " duplicates reduced (no unique index)" : string.Empty)).ToList();
        var h = new CodeWriter();
        h.Line("/*");
        h.Lines(HeaderText.Template(lockOrder, policies, _bounds, MaxBatchSize).Split('\n'));
        h.Line("*/");
        return h.ToString();
    }
}
