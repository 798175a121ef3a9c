using DbMerge.Schema.Merge;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// (review 14, lock order) api.Invitation_Create and api.Invitation_Revoke lock, ascending, the user rows of every account
/// holding the invitation's address — often the merge's source S and the legacy accounts M merged into it, which share
/// its address. The merge core used to lock M only at its last policy (app.User.MergedIntoUserId, step 1170), long after
/// S and T (L2): a create holding M and waiting for S closed a cycle with the merge holding S and asking for M. The
/// unmerge core had the same shape (M locked by its last check). Both cores now U-lock the union {S, T, M…} in ascending
/// UserId in L2, before the UPDATEs of S and T and before any L3 table; these tests read the generated T-SQL.
/// </summary>
public sealed class MergedAccountsLockOrderTests
{
    [Fact]
    public void The_merge_core_locks_the_accounts_merged_into_the_source_with_both_users_in_L2_before_their_update_and_any_L3_table()
    {
        var core = Core("dbmerge.User_MergeCore.sql");
        var (fragment, tryStart, tryEnd) = TryBody(core);
        var inTry = All<TSqlFragment>(fragment).Where(f => f.StartOffset >= tryStart && f.StartOffset < tryEnd).ToList();

        // the first statement that reads the accounts merged into the source (IX_app_User_MergedIntoUserId, the filter
        // repeated) collects their keys with both users' into a table variable, at most @BatchSize of them
        var mergedRef = inTry.OfType<NamedTableReference>().First(t => IsUser(t) && SeeksOn(t, "IX_app_User_MergedIntoUserId"));
        var collect = Enclosing<InsertStatement>(inTry, mergedRef);
        Assert.True(collect is not null, $"the first read of the accounts merged into the source (line {mergedRef.StartLine}) is not an INSERT into the L2 lock list: {Line(core, mergedRef)}");
        var list = Assert.IsType<VariableTableReference>(collect.InsertSpecification.Target).Variable.Name;
        var collectText = Text(core, collect);
        Assert.Contains("MergedIntoUserId = @SourceUserId AND ", collectText, StringComparison.Ordinal);
        Assert.Contains("MergedIntoUserId IS NOT NULL", collectText, StringComparison.Ordinal);
        Assert.Contains("@SourceUserId", collectText[collectText.IndexOf("UNION", StringComparison.Ordinal)..], StringComparison.Ordinal);
        Assert.Contains("@TargetUserId", collectText, StringComparison.Ordinal);
        AssertTopBatchSize(collect.InsertSpecification.InsertSource);
        AssertTopBatchSize(All<QuerySpecification>(collect).First(q => All<NamedTableReference>(q).Contains(mergedRef) && q.TopRowFilter is not null));

        // then the U-lock: the list joined to app.User's clustered key, nested loops in the list's key order
        var lockStatement = AssertLockStatement(core, inTry, collect, list);

        // before the UPDATE of S and T (their U locks convert to X) and before the first statement of any L3 table
        var firstUserUpdate = inTry.OfType<UpdateStatement>().First(u => All<NamedTableReference>(u).Any(IsUser));
        Assert.True(lockStatement.StartOffset < firstUserUpdate.StartOffset, $"the U-lock (line {lockStatement.StartLine}) must come before the UPDATE of S and T (line {firstUserUpdate.StartLine})");
        var firstL3 = inTry.OfType<NamedTableReference>().First(t => IsApp(t) && !IsUser(t));
        Assert.True(collect.StartOffset < firstL3.StartOffset && lockStatement.StartOffset < firstL3.StartOffset,
            $"the accounts merged into the source must be locked (line {lockStatement.StartLine}) before the first L3 table (line {firstL3.StartLine}: {Line(core, firstL3)})");

        // and the header's bound table names both statements
        Assert.Contains("L2    SELECT TOP (@BatchSize) app.[User] (keys: the accounts merged into the source", core, StringComparison.Ordinal);
        Assert.Contains("L2    SELECT app.[User] (U-lock", core, StringComparison.Ordinal);
    }

    [Fact]
    public void The_unmerge_core_locks_the_accounts_its_run_re_pointed_with_both_users_in_L2_before_their_update_and_any_check()
    {
        var core = Core("dbmerge.User_UnmergeCore.sql");
        var (fragment, tryStart, tryEnd) = TryBody(core);
        var inTry = All<TSqlFragment>(fragment).Where(f => f.StartOffset >= tryStart && f.StartOffset < tryEnd).ToList();

        // the first statement that U-locks app.User rows through its clustered key is the L2 lock of a list of user ids
        var firstUpdlock = inTry.OfType<NamedTableReference>().First(t => IsUser(t) && SeeksOn(t, "PK_app_User") && HasHint(t, TableHintKind.UpdLock));
        var lockStatement = Enclosing<SelectStatement>(inTry, firstUpdlock);
        Assert.True(lockStatement is not null, $"the first U-lock of app.User (line {firstUpdlock.StartLine}) is not the L2 lock of the users: {Line(core, firstUpdlock)}");
        var list = All<VariableTableReference>(lockStatement).Select(v => v.Variable.Name).FirstOrDefault();
        Assert.True(list is not null, $"the U-lock at line {lockStatement.StartLine} is not driven by a list of user ids: {Line(core, firstUpdlock)}");

        // filled (at most @BatchSize ids) with both users and the app.User keys the undone run journaled
        var fill = inTry.OfType<InsertStatement>().Last(i => i.StartOffset < lockStatement.StartOffset &&
                                                              i.InsertSpecification.Target is VariableTableReference v && v.Variable.Name == list);
        var fillText = Text(core, fill);
        Assert.Contains("@SourceUserId", fillText, StringComparison.Ordinal);
        Assert.Contains("@TargetUserId", fillText, StringComparison.Ordinal);
        AssertTopBatchSize(fill.InsertSpecification.InsertSource);
        var keyList = All<VariableTableReference>(fill.InsertSpecification.InsertSource).Select(v => v.Variable.Name).Distinct().Single();
        var keys = inTry.OfType<InsertStatement>().Where(i => i.StartOffset < fill.StartOffset &&
                                                             i.InsertSpecification.Target is VariableTableReference v && v.Variable.Name == keyList &&
                                                             Text(core, i).Contains("FROM @Journal AS j", StringComparison.Ordinal) &&
                                                             Text(core, i).Contains("OPENJSON(j.RowKey)", StringComparison.Ordinal)).ToList();
        Assert.True(keys.Count == 1, $"the user keys of {keyList} must come from the journal pass's batch of the run's journal (@Journal)");
        var pass = inTry.OfType<WhileStatement>().Single(l => l.StartOffset < keys[0].StartOffset && keys[0].StartOffset < l.StartOffset + l.FragmentLength);
        Assert.Contains("FROM dbmerge.MergeChange AS c WITH (FORCESEEK (PK_dbmerge_MergeChange (MergeRunId)))", Text(core, pass), StringComparison.Ordinal);
        Assert.Contains("SELECT TOP (@BatchSize) c.ChangeSeq", Text(core, pass), StringComparison.Ordinal);
        AssertLockStatement(core, inTry, fill, list);

        // before the UPDATE of S and T and before the check of any table
        var firstUserUpdate = inTry.OfType<UpdateStatement>().First(u => All<NamedTableReference>(u).Any(IsUser));
        Assert.True(lockStatement.StartOffset < firstUserUpdate.StartOffset, $"the U-lock (line {lockStatement.StartLine}) must come before the UPDATE of S and T (line {firstUserUpdate.StartLine})");
        var firstL3 = inTry.OfType<NamedTableReference>().First(t => IsApp(t) && !IsUser(t));
        Assert.True(lockStatement.StartOffset < firstL3.StartOffset, $"the U-lock (line {lockStatement.StartLine}) must come before the first L3 table (line {firstL3.StartLine})");
        Assert.Contains("L2    SELECT app.[User] (U-lock", core, StringComparison.Ordinal);
    }

    // ---- helpers ---------------------------------------------------------------------------------------------

    private static SelectStatement AssertLockStatement(string core, List<TSqlFragment> inTry, TSqlStatement fill, string list)
    {
        var lockStatement = inTry.OfType<SelectStatement>().FirstOrDefault(s => s.StartOffset > fill.StartOffset &&
            All<VariableTableReference>(s).Any(v => v.Variable.Name == list) && All<NamedTableReference>(s).Any(IsUser));
        Assert.True(lockStatement is not null, $"no statement after line {fill.StartLine} locks the rows of {list}");
        var user = All<NamedTableReference>(lockStatement).Single(IsUser);
        Assert.True(SeeksOn(user, "PK_app_User"), $"the U-lock must seek PK_app_User: {Line(core, user)}");
        Assert.True(HasHint(user, TableHintKind.UpdLock) && HasHint(user, TableHintKind.Rowlock), $"the U-lock must read WITH (UPDLOCK, ROWLOCK): {Line(core, user)}");
        var join = All<QualifiedJoin>(lockStatement).Single();
        Assert.True(join.FirstTableReference is VariableTableReference { Variable.Name: var first } && first == list, "the list must drive the join (outer input)");
        var hints = lockStatement.OptimizerHints.Select(h => h.HintKind).ToList();
        Assert.Contains(OptimizerHintKind.ForceOrder, hints);
        Assert.Contains(OptimizerHintKind.LoopJoin, hints);
        return lockStatement;
    }

    private static void AssertTopBatchSize(TSqlFragment fragment)
    {
        var spec = fragment as QuerySpecification ?? (fragment as SelectInsertSource)?.Select as QuerySpecification;
        Assert.True(spec?.TopRowFilter?.Expression is VariableReference { Name: "@BatchSize" } or ParenthesisExpression { Expression: VariableReference { Name: "@BatchSize" } },
            "the statement must be bounded by TOP (@BatchSize)");
    }

    private static string Core(string file) =>
        MergeGenerator.Generate(Repo.Layout).Files.Single(f => f.RelativePath.EndsWith(file, StringComparison.Ordinal)).Text;

    private static (TSqlFragment Fragment, int Start, int End) TryBody(string core)
    {
        var fragment = new TSql150Parser(true).Parse(new StringReader(core), out var errors);
        Assert.Empty(errors);
        var body = All<TryCatchStatement>(fragment).Single().TryStatements;
        return (fragment, body.StartOffset, body.StartOffset + body.FragmentLength);
    }

    private static T? Enclosing<T>(List<TSqlFragment> fragments, TSqlFragment inner)
        where T : TSqlStatement =>
        fragments.OfType<T>().Where(s => s.StartOffset <= inner.StartOffset && inner.StartOffset < s.StartOffset + s.FragmentLength)
            .OrderByDescending(s => s.StartOffset).FirstOrDefault();

    private static bool IsApp(NamedTableReference t) => string.Equals(t.SchemaObject.SchemaIdentifier?.Value, "app", StringComparison.OrdinalIgnoreCase);

    private static bool IsUser(NamedTableReference t) => IsApp(t) && string.Equals(t.SchemaObject.BaseIdentifier.Value, "User", StringComparison.OrdinalIgnoreCase);

    private static bool SeeksOn(NamedTableReference t, string index) =>
        t.TableHints.OfType<ForceSeekTableHint>().Any(h => h.IndexValue is IdentifierOrValueExpression { Value: var name } && name == index);

    private static bool HasHint(NamedTableReference t, TableHintKind kind) => t.TableHints.Any(h => h.HintKind == kind);

    private static string Text(string core, TSqlFragment f) => core.Substring(f.StartOffset, f.FragmentLength);

    private static string Line(string core, TSqlFragment f) => Text(core, f).Split('\n')[0].Trim();

    private static List<T> All<T>(TSqlFragment fragment)
        where T : TSqlFragment
    {
        var visitor = new Collector<T>();
        fragment.Accept(visitor);
        return visitor.Found;
    }

    private sealed class Collector<T> : TSqlFragmentVisitor
        where T : TSqlFragment
    {
        public List<T> Found { get; } = [];

        public override void Visit(TSqlFragment fragment)
        {
            if (fragment is T match)
            {
                Found.Add(match);
            }
        }
    }
}
