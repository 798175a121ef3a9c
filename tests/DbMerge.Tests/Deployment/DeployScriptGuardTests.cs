using System.Text.RegularExpressions;
using DbMerge.Deployment;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Deployment;

/// <summary>
/// The deploy script's stop guard, checked statement by statement on the parsed script: once a guard or a step fails,
/// no later batch changes anything, whether the client stops at the error (sqlcmd with :on error exit) or not (a client
/// that ignores errors, SSMS without SQLCMD mode).
/// </summary>
public sealed class DeployScriptGuardTests
{
    private const string Key = DeployScriptGenerator.StopFlagKey;

    private static readonly Lazy<DeployScript> Script = new(() => DeployScriptGenerator.Build(Repo.Layout));

    private static IReadOnlyList<TSqlBatch> Batches()
    {
        Assert.True(Script.Value.IsValid, string.Join("\n", Script.Value.Problems));
        Assert.Empty(DeployScriptGeneratorTests.Parse(Script.Value.TransactSql, out var fragment));
        return ((TSqlScript)fragment).Batches.ToList();
    }

    private static int GuardBatchIndex(IReadOnlyList<TSqlBatch> batches) =>
        batches.ToList().FindIndex(b => ThrowNumbers(b).Contains(DeployScriptGenerator.NotSqlcmdModeError));

    [Fact]
    public void Every_batch_after_the_guard_batch_is_the_NOEXEC_switch_session_options_or_runs_only_while_no_stop_is_recorded()
    {
        var batches = Batches();
        var guard = GuardBatchIndex(batches);
        Assert.True(guard >= 0, "no guard batch (THROW 51004)");
        Assert.True(batches.Count - guard > 50, "expected the whole script after the guard batch");

        var unguarded = new List<string>();
        for (var i = guard + 1; i < batches.Count - 2; i++)
        {
            var batch = batches[i];
            if (IsEngage(batch) || IsSessionOptionsOnly(batch) || IsGuardedByStopFlag(batch))
            {
                continue;
            }

            unguarded.Add($"batch {i} (line {batch.StartLine}): {Snippet(batch)}");
        }

        Assert.True(unguarded.Count == 0, "batches that would run after a stop:\n" + string.Join("\n", unguarded));
    }

    [Fact]
    public void A_batch_that_can_record_a_stop_is_followed_at_once_by_the_NOEXEC_switch()
    {
        var batches = Batches();
        var recording = Enumerable.Range(0, batches.Count - 1).Where(i => RecordsStop(batches[i])).ToList();
        Assert.True(recording.Count > Repo.Layout.Migrations().Count, "every migration can record a stop");

        var missing = recording.Where(i => !IsEngage(batches[i + 1])).Select(i => $"batch {i} (line {batches[i].StartLine})").ToList();

        Assert.True(missing.Count == 0, "not followed by 'IF SESSION_CONTEXT(...) IS NOT NULL SET NOEXEC ON': " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_numbered_THROW_but_the_final_report_records_the_stop_just_before_it()
    {
        var throws = new StopVisitor();
        foreach (var batch in Batches())
        {
            batch.Accept(throws);
        }

        Assert.Contains(throws.Numbered, t => t.Number == DeployScriptGenerator.DeployLockTimeoutError);
        var unrecorded = throws.Numbered.Where(t => t.Number != DeployScriptGenerator.StoppedError && !t.RecordedBefore).ToList();
        Assert.True(unrecorded.Count == 0, "THROW without the stop recorded before it at lines " + string.Join(", ", unrecorded.Select(t => t.Line)));
        Assert.NotEmpty(throws.Rethrows);
        Assert.All(throws.Rethrows, r => Assert.True(r.RecordedBefore, $"THROW; at line {r.Line} does not record the stop first"));
    }

    [Fact]
    public void Every_carried_batch_runs_inside_TRY_so_that_any_error_of_it_records_the_stop()
    {
        var all = new ExecuteStatementVisitor();
        var insideTry = new TryVisitor();
        foreach (var batch in Batches())
        {
            batch.Accept(all);
            batch.Accept(insideTry);
        }

        var carried = Repo.Layout.AllScripts().Count;
        Assert.True(all.CarriedExecutions >= carried, $"{all.CarriedExecutions} sp_executesql @Statement for {carried} files");
        Assert.Equal(all.CarriedExecutions, insideTry.CarriedExecutionsInTry);
        Assert.Equal(insideTry.TryCount, insideTry.TryWhoseCatchRecordsAndRethrows);
    }

    [Fact]
    public void The_guards_are_checked_in_order_before_the_journal_is_created_or_any_migration_starts()
    {
        var text = Script.Value.TransactSql;
        int At(string s)
        {
            var index = text.IndexOf(s, StringComparison.Ordinal);
            Assert.True(index >= 0, $"'{s}' is not in the script");
            return index;
        }

        var order = new[] { "THROW 51008", "THROW 51004", "THROW 51005", "sp_getapplock", "THROW 51003", "THROW 51006", "THROW 51001", "CREATE TABLE dbo.SchemaVersions", "BEGIN TRANSACTION" }
            .Select(At).ToList();

        Assert.Equal(order.Order(), order);
        Assert.True(At("IF DB_NAME() IN (N'master', N'model', N'msdb', N'tempdb')") < At("CREATE TABLE dbo.SchemaVersions"));
    }

    [Fact]
    public void A_system_database_is_recognised_by_name_in_the_script_and_the_runner_alike_not_by_DB_ID()
    {
        // DB_ID() values in Azure SQL Database are unique only within a database or elastic pool: an id test could
        // refuse a user database there; the four names are fixed everywhere.
        Assert.Contains($"IF {DeploymentJournal.SystemDatabasePredicate}\n", Script.Value.Text);
        Assert.Contains(DeploymentJournal.SystemDatabasePredicate, DeploymentLock.DatabaseSql);
        Assert.DoesNotContain("DB_ID()", Script.Value.Text);
        Assert.DoesNotContain("DB_ID()", DeploymentLock.DatabaseSql);
        Assert.Empty(DeployScriptGeneratorTests.Parse("SELECT CASE WHEN " + DeploymentJournal.SystemDatabasePredicate + " THEN 1 END AS IsSystem;", out _));
    }

    [Fact]
    public void The_open_transaction_guard_comes_first_and_switches_XACT_ABORT_off_before_it_throws_so_the_callers_transaction_survives()
    {
        // THROW honours XACT_ABORT: under ON it would roll back the very transaction the guard refuses to touch. And it
        // must run before the SQLCMD-mode and system-database THROWs, which run with XACT_ABORT ON.
        var guard = Batches()[GuardBatchIndex(Batches())];
        var ifs = guard.Statements.OfType<IfStatement>().ToList();
        Assert.True(ifs.Count >= 3);
        var first = ifs[0];
        Assert.Contains(DeployScriptGenerator.OpenTransactionError, ThrowNumbers(first));
        var body = Assert.IsType<BeginEndBlockStatement>(first.ThenStatement).StatementList.Statements;
        var xactAbortOff = body.ToList().FindIndex(st => st is PredicateSetStatement { IsOn: false } p && (p.Options & SetOptions.XactAbort) != 0);
        Assert.True(xactAbortOff >= 0, "no SET XACT_ABORT OFF in the 51008 branch");
        Assert.True(xactAbortOff < body.ToList().FindIndex(st => st is ThrowStatement), "SET XACT_ABORT OFF must come before THROW 51008");
        Assert.All(ifs.Skip(1).SelectMany(ThrowNumbers), n => Assert.NotEqual(DeployScriptGenerator.OpenTransactionError, n));
    }

    [Fact]
    public void The_end_batch_never_rolls_back_the_transaction_the_open_transaction_guard_refused_and_resets_the_lock_timeout()
    {
        var end = Batches()[^1];
        var rollbackIf = end.Statements.OfType<IfStatement>().Single(i => DbMerge.Schema.SqlText.TextOf(i.ThenStatement).Contains("ROLLBACK", StringComparison.Ordinal));
        var condition = DbMerge.Schema.SqlText.TextOf(rollbackIf.Predicate);

        Assert.Contains("@@TRANCOUNT > 0", condition);
        Assert.Contains($"@Stopped NOT LIKE N'error {DeployScriptGenerator.OpenTransactionError}:%'", condition);
        Assert.Contains(end.Statements, st => st is SetCommandStatement c && DbMerge.Schema.SqlText.TextOf(c).Contains("LOCK_TIMEOUT -1", StringComparison.Ordinal));
        // The 51008 stop is recorded with exactly that prefix.
        Assert.Contains($"@value = N'error {DeployScriptGenerator.OpenTransactionError}: ", Script.Value.Text);
    }

    [Fact]
    public void The_script_starts_by_switching_NOEXEC_off_then_its_two_sqlcmd_lines_and_has_no_other_sqlcmd_command()
    {
        var lines = Script.Value.Text.Split('\n');
        var first = Array.IndexOf(lines, "SET NOEXEC OFF;");

        Assert.Equal(["SET NOEXEC OFF;", "GO", ":on error exit", ":setvar DbMergeSqlcmdMode \"on\"", "GO"], lines[first..(first + 5)]);
        var commands = lines.Where(l => Regex.IsMatch(l, @"^\s*(:|!!|go\b|exit\b|quit\b|reset\s*$|ed\s*$)", RegexOptions.IgnoreCase)).Distinct().Order(StringComparer.Ordinal);
        Assert.Equal([":on error exit", ":setvar DbMergeSqlcmdMode \"on\"", "GO"], commands);
        Assert.Single(Regex.Matches(Script.Value.Text, Regex.Escape("$(")));
    }

    [Fact]
    public void Without_SQLCMD_mode_the_probe_is_not_substituted_and_the_guard_batch_throws_51004()
    {
        // What SSMS without SQLCMD mode sends: every GO batch as written. The ':' batch fails on the server; the
        // guard batch compares the literal text of the probe with N'on'.
        var ssmsBatches = Regex.Split(Script.Value.Text, @"^GO\n", RegexOptions.Multiline);
        var colonBatch = ssmsBatches.Single(b => b.StartsWith(":on error exit\n", StringComparison.Ordinal));
        Assert.NotEmpty(DeployScriptGeneratorTests.Parse(colonBatch, out _));
        var guard = ssmsBatches.Single(b => b.Contains("THROW 51004", StringComparison.Ordinal));
        Assert.Empty(DeployScriptGeneratorTests.Parse(guard, out var withoutMode));
        Assert.Empty(DeployScriptGeneratorTests.Parse(DeployScriptGenerator.AsSqlcmdSends(guard), out var withMode));

        Assert.True(ProbeComparisonIsTrue(withoutMode), "without SQLCMD mode the 51004 branch must be taken");
        Assert.False(ProbeComparisonIsTrue(withMode), "in SQLCMD mode the 51004 branch must not be taken");
    }

    [Fact]
    public void The_end_switches_NOEXEC_off_releases_every_hold_of_the_deploy_lock_and_reports_51007_after_a_stop()
    {
        var batches = Batches();
        var noexecOff = batches[^2];
        var end = batches[^1];

        var off = Assert.IsType<PredicateSetStatement>(Assert.Single(noexecOff.Statements));
        Assert.True((off.Options & SetOptions.NoExec) != 0 && !off.IsOn);
        var endText = DbMerge.Schema.SqlText.TextOf(end);
        Assert.Contains("WHILE APPLOCK_MODE(N'public', N'DbMerge.Deploy', N'Session') <> N'NoLock'", endText);
        Assert.Contains("EXEC sys.sp_releaseapplock @Resource = N'DbMerge.Deploy', @LockOwner = 'Session';", endText);
        Assert.Contains(DeployScriptGenerator.StoppedError, ThrowNumbers(end));
        Assert.Contains($"EXEC sys.sp_set_session_context @key = N'{Key}', @value = NULL;", endText);
        Assert.True(endText.IndexOf("sp_releaseapplock", StringComparison.Ordinal) < endText.IndexOf("THROW 51007", StringComparison.Ordinal));
    }

    [Fact]
    public void The_newer_database_check_knows_every_migration_of_the_release_even_those_left_out_as_applied()
    {
        var migrations = Repo.Layout.Migrations();
        var script = DeployScriptGenerator.Build(Repo.Layout, migrations.Select(m => m.Name).ToList());

        var checks = script.Text[script.Text.IndexOf("CREATE TABLE #DbMergeRelease", StringComparison.Ordinal)..script.Text.IndexOf("THROW 51006", StringComparison.Ordinal)];

        Assert.Empty(script.Migrations);
        Assert.All(migrations, m => Assert.Contains($"(N'{m.Name}', '{MigrationChecksums.ComputeFile(m.FullPath)}')", checks));
        Assert.Contains("WHERE NOT EXISTS (SELECT 1 FROM #DbMergeRelease AS r WHERE r.ScriptName = j.ScriptName COLLATE DATABASE_DEFAULT)", checks);
    }

    [Fact]
    public void The_journal_is_compared_in_the_database_collation_so_a_journal_column_of_another_collation_cannot_conflict()
    {
        var text = Script.Value.Text;
        var checks = text[text.IndexOf("CREATE TABLE #DbMergeRelease", StringComparison.Ordinal)..text.IndexOf("THROW 51001", StringComparison.Ordinal)];

        // Every comparison of a journal column with a #DbMergeRelease column names the collation (else 468 when they differ).
        var comparisons = Regex.Matches(checks, @"(?<left>[rj]\.\w+)(?<collate> COLLATE DATABASE_DEFAULT)? (?<op>=|<>) (?<right>[rj]\.\w+)(?<collate2> COLLATE DATABASE_DEFAULT)?");
        Assert.Equal(3, comparisons.Count);
        Assert.All(comparisons, m => Assert.True(m.Groups["collate"].Success || m.Groups["collate2"].Success, $"'{m.Value}' compares without COLLATE"));
    }

    [Fact]
    public void Every_guarded_batch_that_does_work_outside_a_recording_TRY_fails_closed_it_records_a_pending_stop_first_and_clears_it_last()
    {
        // A batch can end by an error it does not THROW itself (a permission, a collation conflict, a statement-level
        // recompile error, an attention): unless the stop was recorded before its work, the NOEXEC switch after it would
        // not engage and a client that goes on would run the next batches without that batch's checks.
        var batches = Batches();
        var guard = GuardBatchIndex(batches);
        var open = new List<string>();
        for (var i = guard; i < batches.Count - 2; i++)
        {
            var batch = batches[i];
            var work = new WorkVisitor();
            batch.Accept(work);
            if (work.Uncovered.Count > 0 && !IsBracketed(batch))
            {
                open.Add($"batch {i} (line {batch.StartLine}): {string.Join("; ", work.Uncovered)}");
            }
        }

        Assert.True(open.Count == 0, "batches whose work can fail without recording a stop:\n" + string.Join("\n", open));
        var bracketed = batches.Count(IsBracketed);
        Assert.True(bracketed == 5, $"{bracketed} bracketed batches: expected the guard batch, the deploy lock, the journal checks, the journal and the check before the database/ objects");
        Assert.True(IsBracketed(batches[guard]), "the guard batch does not record a pending stop first");
    }

    [Fact]
    public void Every_journal_row_is_written_inside_TRY_whose_CATCH_records_the_stop_and_rethrows()
    {
        var all = 0;
        var covered = 0;
        foreach (var batch in Batches())
        {
            var work = new WorkVisitor();
            batch.Accept(work);
            all += work.JournalInserts;
            covered += work.JournalInsertsInTry;
        }

        Assert.Equal(Repo.Layout.Migrations().Count, all);
        Assert.Equal(all, covered);
    }

    [Fact]
    public void Database_objects_wait_at_most_the_object_lock_timeout_and_are_retried_on_1222_a_bounded_number_of_times()
    {
        var text = Script.Value.Text;
        var objects = text[text.IndexOf("-- Re-runnable objects", StringComparison.Ordinal)..text.IndexOf("-- End:", StringComparison.Ordinal)];
        var perObject = Regex.Matches(objects, @"^ +EXEC sys\.sp_executesql @stmt = @Statement;$", RegexOptions.Multiline).Count;

        Assert.True(perObject >= Repo.Layout.DatabaseObjects().Count);
        Assert.Contains($"    SET LOCK_TIMEOUT {DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds};\n", objects);
        Assert.Equal(perObject, Regex.Matches(objects, $@"IF ERROR_NUMBER\(\) <> 1222 OR @Attempt > {DeploymentJournal.LockTimeoutRetries}\n").Count);
        Assert.Equal(perObject, Regex.Matches(objects, @"WAITFOR DELAY @Delay;").Count);
        // each retry is reported at once (PRINT output would wait for the end of the batch)
        Assert.Equal(perObject, Regex.Matches(objects, @"RAISERROR\(N'%s', 0, 1, @Retry\) WITH NOWAIT;\n +DECLARE @Delay").Count);
        Assert.DoesNotContain("PRINT CONCAT(N'DbMerge deploy: ", objects);
        Assert.DoesNotContain("SET LOCK_TIMEOUT -1", objects);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    /// <summary>
    /// The batch's statements (or those of its one guarding IF's BEGIN...END): the first one that is not a SET records a
    /// stop (not NULL), the last one clears it (NULL).
    /// </summary>
    private static bool IsBracketed(TSqlBatch batch)
    {
        IList<TSqlStatement> statements = batch.Statements is [IfStatement { ThenStatement: BeginEndBlockStatement block }]
            ? block.StatementList.Statements
            : batch.Statements;
        var first = statements.FirstOrDefault(s => s is not PredicateSetStatement and not SetCommandStatement);
        return first is not null && IsSetSessionContext(first, out var pending) && pending is not null and not NullLiteral &&
               IsSetSessionContext(statements[^1], out var cleared) && cleared is NullLiteral;
    }

    /// <summary>
    /// Statements that read or change the database (EXEC other than sp_set_session_context, SELECT, DML, DDL), split into
    /// those inside a TRY whose CATCH records the stop and re-throws and those outside one.
    /// </summary>
    private sealed class WorkVisitor : TSqlFragmentVisitor
    {
        private readonly List<(int Start, int End)> _recordingTries = [];

        private readonly List<TSqlStatement> _work = [];

        public int JournalInserts => _work.Count(IsJournalInsert);

        public int JournalInsertsInTry => _work.Count(w => IsJournalInsert(w) && IsCovered(w));

        public List<string> Uncovered => _work.Where(w => !IsCovered(w)).Select(w => Snippet(w)).ToList();

        public override void Visit(TryCatchStatement node)
        {
            var stops = new StopVisitor();
            node.CatchStatements.Accept(stops);
            if (stops.Rethrows.Count > 0 && stops.Rethrows.All(r => r.RecordedBefore))
            {
                _recordingTries.Add((node.TryStatements.StartOffset, node.TryStatements.StartOffset + node.TryStatements.FragmentLength));
            }
        }

        public override void Visit(TSqlStatement node)
        {
            var isWork = node switch
            {
                ExecuteStatement e => !IsSetSessionContext(e, out _),
                SelectStatement or InsertStatement or UpdateStatement or DeleteStatement => true,
                CreateTableStatement or AlterTableStatement or DropTableStatement or DropObjectsStatement => true,
                _ => false,
            };
            if (isWork)
            {
                _work.Add(node);
            }
        }

        private bool IsCovered(TSqlStatement statement) =>
            _recordingTries.Any(t => statement.StartOffset >= t.Start && statement.StartOffset < t.End);

        private static bool IsJournalInsert(TSqlStatement statement) =>
            statement is ExecuteStatement { ExecuteSpecification.ExecutableEntity: ExecutableProcedureReference proc } &&
            proc.Parameters.Any(p => p.Variable?.Name == "@stmt" && p.ParameterValue is StringLiteral { Value: DeploymentJournal.InsertSql });
    }

    private static bool IsStopFlag(ScalarExpression expression) =>
        expression is FunctionCall { FunctionName.Value: var name, Parameters: [StringLiteral { Value: Key }] } &&
        string.Equals(name, "SESSION_CONTEXT", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>IF SESSION_CONTEXT(N'DbMerge.Deploy.Stopped') IS NOT NULL SET NOEXEC ON;</c> and nothing else.</summary>
    private static bool IsEngage(TSqlBatch batch) =>
        batch.Statements is [IfStatement { ElseStatement: null } s] &&
        s.Predicate is BooleanIsNullExpression { IsNot: true } isNull && IsStopFlag(isNull.Expression) &&
        s.ThenStatement is PredicateSetStatement { IsOn: true } set && set.Options == SetOptions.NoExec;

    /// <summary>Session options only, never NOEXEC / PARSEONLY / FMTONLY: such a batch changes nothing in the database.</summary>
    private static bool IsSessionOptionsOnly(TSqlBatch batch) =>
        batch.Statements.Count > 0 &&
        batch.Statements.All(s => s is PredicateSetStatement p
            ? (p.Options & (SetOptions.NoExec | SetOptions.ParseOnly | SetOptions.FmtOnly)) == 0
            : s is SetCommandStatement or SetTransactionIsolationLevelStatement);

    /// <summary>One IF whose condition is <c>SESSION_CONTEXT(N'DbMerge.Deploy.Stopped') IS NULL [AND …]</c>, without ELSE.</summary>
    private static bool IsGuardedByStopFlag(TSqlBatch batch) =>
        batch.Statements is [IfStatement { ElseStatement: null } s] && Conjuncts(s.Predicate).Any(c =>
            c is BooleanIsNullExpression { IsNot: false } isNull && IsStopFlag(isNull.Expression));

    private static IEnumerable<BooleanExpression> Conjuncts(BooleanExpression expression) => expression switch
    {
        BooleanBinaryExpression { BinaryExpressionType: BooleanBinaryExpressionType.And } and => Conjuncts(and.FirstExpression).Concat(Conjuncts(and.SecondExpression)),
        BooleanParenthesisExpression parenthesis => Conjuncts(parenthesis.Expression),
        _ => [expression],
    };

    private static bool RecordsStop(TSqlBatch batch)
    {
        var visitor = new StopVisitor();
        batch.Accept(visitor);
        return visitor.Records > 0;
    }

    private static List<int> ThrowNumbers(TSqlFragment fragment) =>
        DbMerge.Schema.ErrorNumberSync.ThrowNumbers(fragment).Select(t => t.Number).ToList();

    private static string Snippet(TSqlFragment fragment)
    {
        var text = DbMerge.Schema.SqlText.TextOf(fragment).Trim();
        return text.Length <= 120 ? text : text[..120] + "…";
    }

    /// <summary><c>IF N'…' &lt;&gt; N'on'</c>: true when the two literals differ (the branch that throws 51004 is taken).</summary>
    private static bool ProbeComparisonIsTrue(TSqlFragment guardBatch)
    {
        var visitor = new ProbeVisitor();
        guardBatch.Accept(visitor);
        var comparison = Assert.Single(visitor.Comparisons);
        return !string.Equals(comparison.Left, comparison.Right, StringComparison.Ordinal);
    }

    private static bool IsSetSessionContext(TSqlStatement statement, out ScalarExpression? value)
    {
        value = null;
        if (statement is not ExecuteStatement { ExecuteSpecification.ExecutableEntity: ExecutableProcedureReference proc } ||
            !string.Equals(proc.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value, "sp_set_session_context", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var key = proc.Parameters.FirstOrDefault(p => p.Variable?.Name == "@key")?.ParameterValue;
        value = proc.Parameters.FirstOrDefault(p => p.Variable?.Name == "@value")?.ParameterValue;
        return key is StringLiteral { Value: Key };
    }

    private sealed class StopVisitor : TSqlFragmentVisitor
    {
        public List<(int Number, int Line, bool RecordedBefore)> Numbered { get; } = [];

        public List<(int Line, bool RecordedBefore)> Rethrows { get; } = [];

        public int Records { get; private set; }

        public override void Visit(StatementList node)
        {
            for (var i = 0; i < node.Statements.Count; i++)
            {
                var statement = node.Statements[i];
                if (IsSetSessionContext(statement, out var value) && value is not null and not NullLiteral)
                {
                    Records++;
                }

                if (statement is not ThrowStatement t)
                {
                    continue;
                }

                var recorded = i > 0 && IsSetSessionContext(node.Statements[i - 1], out var before) && before is not null and not NullLiteral;
                if (t.ErrorNumber is IntegerLiteral number)
                {
                    Numbered.Add((int.Parse(number.Value, System.Globalization.CultureInfo.InvariantCulture), t.StartLine, recorded));
                }
                else
                {
                    Rethrows.Add((t.StartLine, recorded));
                }
            }
        }
    }

    private static bool IsCarriedExecution(ExecuteStatement statement) =>
        statement.ExecuteSpecification.ExecutableEntity is ExecutableProcedureReference proc &&
        string.Equals(proc.ProcedureReference.ProcedureReference.Name.BaseIdentifier.Value, "sp_executesql", StringComparison.OrdinalIgnoreCase) &&
        proc.Parameters.Any(p => p.Variable?.Name == "@stmt" && p.ParameterValue is VariableReference { Name: "@Statement" });

    private sealed class ExecuteStatementVisitor : TSqlFragmentVisitor
    {
        public int CarriedExecutions { get; private set; }

        public override void Visit(ExecuteStatement node)
        {
            if (IsCarriedExecution(node))
            {
                CarriedExecutions++;
            }
        }
    }

    private sealed class TryVisitor : TSqlFragmentVisitor
    {
        public int TryCount { get; private set; }

        public int CarriedExecutionsInTry { get; private set; }

        public int TryWhoseCatchRecordsAndRethrows { get; private set; }

        public override void Visit(TryCatchStatement node)
        {
            var inside = new ExecuteStatementVisitor();
            node.TryStatements.Accept(inside);
            if (inside.CarriedExecutions == 0)
            {
                return;
            }

            TryCount++;
            CarriedExecutionsInTry += inside.CarriedExecutions;
            var stops = new StopVisitor();
            node.CatchStatements.Accept(stops);
            if (stops.Rethrows.Count > 0 && stops.Rethrows.All(r => r.RecordedBefore))
            {
                TryWhoseCatchRecordsAndRethrows++;
            }
        }
    }

    private sealed class ProbeVisitor : TSqlFragmentVisitor
    {
        public List<(string Left, string Right)> Comparisons { get; } = [];

        public override void Visit(BooleanComparisonExpression node)
        {
            if (node is { ComparisonType: BooleanComparisonType.NotEqualToBrackets, FirstExpression: StringLiteral left, SecondExpression: StringLiteral right })
            {
                Comparisons.Add((left.Value, right.Value));
            }
        }
    }
}
