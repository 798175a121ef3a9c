namespace DbMerge.Schema.Merge;

/// <summary>
/// The part of L2 both generated cores write the same way: one keyset batch of app.User ids, already in
/// <c>@LockUser</c> (ascending primary key), U-locked through a nested loop in that key order, then the keyset advanced
/// past the batch (stopping on a short batch or at the int maximum, so the loop always ends).
/// </summary>
internal static class UserRowLocks
{
    /// <summary>
    /// Writes the lock statement of a batch into <paramref name="lockedVariable"/>, calls <paramref name="afterLock"/>
    /// (the writer's bound-table entry), then the advance of <c>@LockFrom</c>. Expects <c>@Rows</c> to hold the batch's
    /// row count and <c>@LockLast</c>, <c>@LockFrom</c> and <c>@BatchSize</c> to be declared.
    /// </summary>
    public static void LockBatchAndAdvance(CodeWriter w, string userTable, string keyHint, string lockedVariable, Action afterLock)
    {
        w.Line($"SELECT {lockedVariable} = COUNT(*)");
        w.Line("FROM @LockUser AS lu");
        w.Line($"JOIN {userTable} AS u WITH ({keyHint}, UPDLOCK, ROWLOCK) ON u.UserId = lu.UserId");
        w.Line("OPTION (FORCE ORDER, LOOP JOIN);");
        afterLock();
        w.Line("IF @Rows < @BatchSize BREAK;");
        w.Line("SELECT @LockLast = MAX(lu.UserId) FROM @LockUser AS lu;");
        w.Line("IF @LockLast = 2147483647 BREAK;");
        w.Line("SET @LockFrom = @LockLast + 1;");
    }
}
