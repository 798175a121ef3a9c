using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Tests;

public static partial class ProcedureContract
{
    /// <summary>The procedure of a script text (a repository file's, or a planted copy of one).</summary>
    public static CreateOrAlterProcedureStatement ParseProcedure(SqlScriptFile file) =>
        ((TSqlScript)SqlText.Parse(file).Fragment!).Batches.SelectMany(b => b.Statements).OfType<CreateOrAlterProcedureStatement>().Single();

    /// <summary>
    /// Why <paramref name="procedure"/> does not run at <c>SET DEADLOCK_PRIORITY LOW</c> from before any table access, or
    /// null when it does: exactly one SET DEADLOCK_PRIORITY, LOW, a statement of the procedure's own body (not inside a
    /// block that might not run) before the body's TRY (everything in the TRY may lock), and no table named before it.
    /// </summary>
    public static string? LowDeadlockPriorityViolation(CreateOrAlterProcedureStatement procedure)
    {
        var top = procedure.StatementList.Statements;
        var body = (top.Count == 1 && top[0] is BeginEndBlockStatement block ? block.StatementList.Statements : top).ToList();
        var priorities = ProcedureRuleSupport.All<SetCommandStatement>(procedure)
            .SelectMany(s => s.Commands.OfType<GeneralSetCommand>().Select(c => (Statement: s, Command: c)))
            .Where(c => c.Command.CommandType == GeneralSetCommandType.DeadlockPriority)
            .ToList();
        if (priorities.Count != 1)
        {
            return $"{priorities.Count} SET DEADLOCK_PRIORITY statements in the procedure; exactly one (LOW) is required";
        }

        var (statement, command) = priorities[0];
        if (command.Parameter is not IdentifierLiteral { Value: var value } || !value.Equals("LOW", StringComparison.OrdinalIgnoreCase))
        {
            return $"line {statement.StartLine}: SET DEADLOCK_PRIORITY is not LOW";
        }

        var earlier = ProcedureRuleSupport.All<NamedTableReference>(procedure).FirstOrDefault(t => t.FirstTokenIndex < statement.FirstTokenIndex);
        if (earlier is not null)
        {
            return $"line {earlier.StartLine}: a table is accessed before SET DEADLOCK_PRIORITY LOW (line {statement.StartLine})";
        }

        var tryIndex = body.FindIndex(s => s is TryCatchStatement);
        var setIndex = body.IndexOf(statement);
        return tryIndex >= 0 && setIndex >= 0 && setIndex < tryIndex
            ? null
            : $"line {statement.StartLine}: SET DEADLOCK_PRIORITY LOW must come before the TRY (before any table access), as a statement of the procedure's body";
    }
}
