namespace DbMerge.Schema.Merge;

/// <summary>What a journal row (dbmerge.MergeChange.Operation) did to its row, and so what its undo does.</summary>
[Flags]
public enum JournalOperations
{
    None = 0,

    /// <summary>update: the undo sets the row back to its before-image.</summary>
    Update = 1,

    /// <summary>delete: the undo inserts the before-image again, with its original key.</summary>
    Delete = 2,

    /// <summary>insert: the undo deletes the row again.</summary>
    Insert = 4,
}

/// <summary>One table the merge journals, as the unmerge restores it.</summary>
/// <param name="Order">The table's place in the lock order (L3; 1 = first), which the unmerge's checks follow.</param>
/// <param name="Operations">The journal operations the merge's handlers can write for this table: the undo is generated for exactly these.</param>
/// <param name="Identity">The table's IDENTITY column, or null: a re-insert runs under SET IDENTITY_INSERT.</param>
public sealed record UnmergeTable(ModelTable Table, int Order, JournalOperations Operations, ModelColumn? Identity, SeekPlan PrimaryKey)
{
    /// <summary>Stored columns in model order: the journal's images hold exactly these.</summary>
    public IReadOnlyList<ModelColumn> Columns { get; } = Table.StoredColumns.ToList();

    /// <summary>Primary key columns in key order.</summary>
    public IReadOnlyList<ModelColumn> Key { get; } = Table.PrimaryKey!.Columns.Select(c => Table.Column(c)!).ToList();

    public bool IsUserTable => Table.QualifiedName.Equals($"{MergePlanner.UserSchema}.{MergePlanner.UserTableName}", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The unmerge generator's input: every journaled table with the undo it needs, or the findings that say why it cannot be built.</summary>
public sealed record UnmergePlan(IReadOnlyList<UnmergeTable> Tables, MergePlan Merge, IReadOnlyList<Finding> Findings);

/// <summary>
/// Builds the <see cref="UnmergePlan"/> from the merge's plan — the same policy source, the same model — and checks that
/// every change the merge can make has an undo (rule DBM043): every policy kind declares the journal operations its
/// handler writes (<see cref="OperationsOf"/>; a kind without an entry has no undo), every journaled table's columns can be
/// read back from the journal's JSON images exactly (<see cref="RestorableType"/>), and every row of a table can be followed
/// through the journal by its key (a policy that changes a primary-key column must be the only change of its table).
/// A table the merge can change without an undo is a finding, never a silent gap.
/// </summary>
public static class UnmergePlanner
{
    public const string RuleId = "DBM043";

    /// <summary>
    /// The journal operations a policy kind's handler writes (dbmerge.User_MergeCore): every kind the merge can apply must be
    /// listed here, or it has no undo (null → DBM043). Children of a merge-children parent are re-pointed (update); the
    /// merge's own lock and deactivation of the users are updates of app.User.
    /// </summary>
    public static JournalOperations? OperationsOf(MergePolicyKind kind) => kind switch
    {
        MergePolicyKind.Move => JournalOperations.Update,
        MergePolicyKind.KeepHigherRole => JournalOperations.Update | JournalOperations.Delete,
        MergePolicyKind.Dedupe => JournalOperations.Update | JournalOperations.Delete,
        MergePolicyKind.MergeChildren => JournalOperations.Update | JournalOperations.Delete,
        MergePolicyKind.Readdress => JournalOperations.Update | JournalOperations.Delete,
        MergePolicyKind.Refuse => JournalOperations.None,
        _ => null,
    };

    /// <summary>
    /// Column types whose values survive the journal's round trip exactly: FOR JSON writes them, OPENJSON … WITH (column
    /// type) reads the same value back (strings as Unicode text, binary as base64, date and time types in ISO 8601 with
    /// their full precision). float/real (decimal text of a binary fraction), money, xml, sql_variant, the CLR types and
    /// rowversion are not: a table with such a column cannot be restored byte for byte.
    /// </summary>
    public static bool RestorableType(ModelColumn column)
    {
        ArgumentNullException.ThrowIfNull(column);
        return column.TypeName is "tinyint" or "smallint" or "int" or "bigint" or "bit" or "decimal" or "numeric"
            or "char" or "varchar" or "nchar" or "nvarchar" or "binary" or "varbinary"
            or "date" or "time" or "datetime2" or "datetime" or "smalldatetime" or "datetimeoffset" or "uniqueidentifier";
    }

    public static UnmergePlan Build(MergePlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var findings = new List<Finding>();
        var operations = new Dictionary<string, JournalOperations>(StringComparer.OrdinalIgnoreCase);
        var firstRow = new Dictionary<string, MergePolicyRow>(StringComparer.OrdinalIgnoreCase);
        var keyChanges = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);

        void Add(ModelTable table, JournalOperations ops, MergePolicyRow row, string? changedColumn)
        {
            operations[table.QualifiedName] = operations.GetValueOrDefault(table.QualifiedName) | ops;
            firstRow.TryAdd(table.QualifiedName, row);
            if (!keyChanges.TryGetValue(table.QualifiedName, out var list))
            {
                keyChanges[table.QualifiedName] = list = [];
            }

            list.Add(changedColumn is not null && table.PrimaryKey!.Columns.Contains(changedColumn, StringComparer.OrdinalIgnoreCase)
                ? $"{row.Name} changes key column {changedColumn}"
                : row.Name);
        }

        foreach (var policy in plan.Policies)
        {
            if (OperationsOf(policy.Kind) is not { } ops)
            {
                findings.Add(new Finding(policy.Row.File, policy.Row.Line, RuleId,
                    $"merge policy {policy.Row.Name} ({policy.Row.Policy}): the policy kind {policy.Kind} has no undo: say which journal " +
                    "operations its handler writes in UnmergePlanner.OperationsOf, so that api.User_Unmerge can restore what it changes."));
                continue;
            }

            if (ops == JournalOperations.None)
            {
                continue;
            }

            Add(policy.Table, ops, policy.Row, policy.Column.Name);
            foreach (var child in policy.Children)
            {
                Add(child.Table, JournalOperations.Update, policy.Row, child.Column.Name);
            }
        }

        // The merge's own change of both user rows (locked) and of the source (deactivated) are updates of app.User.
        var user = plan.UserTable;
        if (user.PrimaryKey is not null)
        {
            operations[user.QualifiedName] = operations.GetValueOrDefault(user.QualifiedName) | JournalOperations.Update;
        }

        var tables = new List<UnmergeTable>();
        var order = 0;
        foreach (var table in plan.JournaledTables)
        {
            order++;
            if (table.PrimaryKey is null)
            {
                continue; // the merge planner reports it (DBM041)
            }

            var row = firstRow.GetValueOrDefault(table.QualifiedName);
            var (file, line) = row is null ? (string.Empty, 0) : (row.File, row.Line);
            foreach (var column in table.StoredColumns.Where(c => !RestorableType(c)))
            {
                findings.Add(new Finding(file, line, RuleId,
                    $"{table.QualifiedName}.{column.Name} is {column.TypeText}, which the journal's JSON images do not carry exactly: " +
                    "api.User_Unmerge could not restore the rows a merge changes in this table byte for byte. Use an exact type " +
                    "(e.g. decimal instead of float), or keep the table out of the merge."));
            }

            var changes = keyChanges.GetValueOrDefault(table.QualifiedName) ?? [];
            var keyChanging = changes.Where(c => c.Contains(" changes key column ", StringComparison.Ordinal)).ToList();
            if (keyChanging.Count > 0 && (changes.Count > 1 || table.QualifiedName.Equals(user.QualifiedName, StringComparison.OrdinalIgnoreCase)))
            {
                findings.Add(new Finding(file, line, RuleId,
                    $"{table.QualifiedName}: {string.Join("; ", keyChanging)}, and the table is changed by {string.Join(", ", changes)}: " +
                    "the unmerge follows a row through the journal by its key, which a key change breaks when a second change of the " +
                    "same row can follow. A policy may change a primary-key column only when it is the one change of its table."));
            }

            var identity = table.StoredColumns.FirstOrDefault(c => c.Identity);
            tables.Add(new UnmergeTable(table, order, operations.GetValueOrDefault(table.QualifiedName), identity,
                new SeekPlan(table.PrimaryKey, table.PrimaryKey.Columns, null)));
        }

        return new UnmergePlan(tables, plan, findings);
    }
}
