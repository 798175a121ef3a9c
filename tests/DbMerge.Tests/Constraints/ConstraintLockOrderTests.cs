using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Constraints;

/// <summary>
/// Lock order between the two constraint procedures (lock order review): dbmerge.Constraint_ValidateBatch locks the
/// progress row (dbmerge.ConstraintValidation) and then reads the table; dbmerge.Constraint_Trust must take them in the
/// same order — the progress row (UPDLOCK) inside its transaction before the ALTER's Sch-M on the table. In the other
/// order a restarted validation's batch (progress row held, waiting for the Sch-M) and the ALTER (Sch-M held, waiting
/// for the progress row) deadlock, and every query on the table waits until the deadlock monitor ends it.
/// </summary>
public sealed class ConstraintLockOrderTests
{
    private const string ValidateBatch = "database/dbmerge/Procedures/dbmerge.Constraint_ValidateBatch.sql";
    private const string Trust = "database/dbmerge/Procedures/dbmerge.Constraint_Trust.sql";

    private static bool LocksProgressRow(TSqlFragment f) =>
        f is NamedTableReference { SchemaObject.BaseIdentifier.Value: "ConstraintValidation" } table
        && table.TableHints.Any(h => h.HintKind == TableHintKind.UpdLock);

    private static bool IsSpExecuteSql(TSqlFragment f) =>
        f is ExecutableProcedureReference reference && ProcedureRuleSupport.IsSpExecuteSql(reference);

    private static int First(TSqlFragment procedure, Func<TSqlFragment, bool> match) =>
        ProcedureRuleSupport.Descendants(procedure).Where(match).Select(f => f.StartOffset).DefaultIfEmpty(int.MaxValue).Min();

    [Theory]
    [InlineData(ValidateBatch)]
    [InlineData(Trust)]
    public void The_progress_row_is_locked_inside_the_transaction_before_the_dynamic_statement_touches_the_table(string file)
    {
        var procedure = ProcedureContract.Parse(file).Procedure;
        var begin = First(procedure, f => f is BeginTransactionStatement);
        var progressLock = First(procedure, LocksProgressRow);
        var dynamic = First(procedure, IsSpExecuteSql);

        Assert.True(begin < int.MaxValue && progressLock < int.MaxValue && dynamic < int.MaxValue,
            $"{file}: expected BEGIN TRANSACTION, an UPDLOCK on dbmerge.ConstraintValidation and sp_executesql");
        Assert.True(begin < progressLock, $"{file}: the progress row must be locked inside the transaction (held to commit)");
        Assert.True(progressLock < dynamic, $"{file}: the progress row must be locked before the dynamic statement reads or alters the table");
    }
}
