namespace DbMerge.Schema.Merge;

/// <summary>The handler a policy gets (dbmerge.MergePolicy.Policy).</summary>
public enum MergePolicyKind
{
    Move,
    KeepHigherRole,
    Dedupe,
    MergeChildren,
    Readdress,
    Refuse,
}

/// <summary>How a statement seeks: the index, the key columns the FORCESEEK hint names, and the index's filter (repeated in the predicate).</summary>
public sealed record SeekPlan(ModelIndex Index, IReadOnlyList<string> SeekColumns, SqlPredicate? Filter)
{
    /// <summary><c>FORCESEEK (IX_x (A, B))</c>.</summary>
    public string Hint => $"FORCESEEK ({Sql.Name(Index.Name)} ({string.Join(", ", SeekColumns.Select(Sql.Name))}))";

    /// <summary>What a comment says the statement seeks on.</summary>
    public string Describe => $"{Index.Name} ({string.Join(", ", SeekColumns)})";
}

/// <summary>Ranks of a keep-higher-role or readdress policy: <c>RankTable(ValueColumn → RankColumn)</c> ranks <c>RankedColumn</c>.</summary>
public sealed record RankPlan(ModelTable Table, string ValueColumn, string RankColumn, ModelColumn RankedColumn)
{
    /// <summary>The rank lookup seeks the rank table's primary key.</summary>
    public SeekPlan Seek => new(Table.PrimaryKey!, [ValueColumn], null);
}

/// <summary>A unique index of a child table that contains the foreign key to the parent: at most one child per parent (and <see cref="OtherColumns"/>).</summary>
public sealed record ChildUnique(ModelIndex Index, IReadOnlyList<string> OtherColumns, SeekPlan Seek);

/// <summary>A table whose foreign key references a merge-children parent.</summary>
public sealed record ChildPlan(ModelTable Table, ModelForeignKey ForeignKey, ModelColumn Column, SeekPlan Seek, IReadOnlyList<ChildUnique> Uniques, SeekPlan PrimaryKey);

/// <summary>Everything the generator needs to write one policy's section.</summary>
public sealed record PolicyPlan(
    MergePolicyRow Row,
    MergePolicyKind Kind,
    ModelTable Table,
    ModelColumn Column,
    SeekPlan Source,
    SeekPlan PrimaryKey,
    IReadOnlyList<ModelColumn> Key,
    SeekPlan? Partner,
    RankPlan? Rank,
    IReadOnlyList<ChildPlan> Children,
    SqlPredicate? RowFilter,
    bool ReduceDuplicates)
{
    public int ApplyOrder => Row.ApplyOrder;

    /// <summary>Policies on a foreign key to app.User (every kind but readdress).</summary>
    public bool IsUserReference => Kind != MergePolicyKind.Readdress;

    public bool HasCollisions => Kind is MergePolicyKind.KeepHigherRole or MergePolicyKind.Dedupe or MergePolicyKind.MergeChildren or MergePolicyKind.Readdress;
}

/// <summary>The generator's input, validated: one plan per policy, or the findings that say why it cannot be generated.</summary>
public sealed record MergePlan(IReadOnlyList<PolicyPlan> Policies, ModelTable UserTable, IReadOnlyList<Finding> Findings)
{
    /// <summary>Every table a policy changes, in the order the merge first locks it (L3).</summary>
    public IReadOnlyList<ModelTable> TablesInLockOrder
    {
        get
        {
            var seen = new List<ModelTable>();
            foreach (var plan in Policies)
            {
                AddOnce(seen, plan.Table);
                foreach (var child in plan.Children)
                {
                    AddOnce(seen, child.Table);
                }
            }

            return seen;

            static void AddOnce(List<ModelTable> list, ModelTable table)
            {
                if (!list.Any(t => t.QualifiedName.Equals(table.QualifiedName, StringComparison.OrdinalIgnoreCase)))
                {
                    list.Add(table);
                }
            }
        }
    }

    /// <summary>Every table a change is journaled for (the policy tables, their children, and app.User).</summary>
    public IReadOnlyList<ModelTable> JournaledTables
    {
        get
        {
            var tables = TablesInLockOrder.ToList();
            if (!tables.Any(t => t.QualifiedName.Equals(UserTable.QualifiedName, StringComparison.OrdinalIgnoreCase)))
            {
                tables.Add(UserTable);
            }

            return tables;
        }
    }
}

/// <summary>
/// Builds the <see cref="MergePlan"/>: reads each policy against the replayed model and derives everything its handler
/// needs — the index each predicate seeks on, the unique index that makes a collision key unique, the rank table, the
/// child tables of a merge-children parent and their "at most one per parent" unique indexes. A policy the generator
/// cannot build a handler for is a finding (rule DBM041), never a silent gap.
/// </summary>
public static class MergePlanner
{
    public const string RuleId = MergePolicySource.RuleId;

    public const string UserSchema = "app";
    public const string UserTableName = "User";

    /// <summary>The columns of app.User the merge itself reads or writes (the users' row locks, e-mails, deactivation).</summary>
    public static IReadOnlyList<string> UserColumns { get; } = ["UserId", "Email", "IsActive", "MergedIntoUserId", "UpdatedAt"];

    /// <summary>A column of this name (datetime2) is set to the merge's time on every row the merge updates.</summary>
    public const string UpdatedAtColumn = "UpdatedAt";

    /// <summary>Longest RowKey dbmerge.MergeChange holds (nvarchar(400)).</summary>
    public const int MaxRowKeyLength = 400;

    public static MergePlan Build(MergeModel model, MergePolicySet policies)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policies);
        var findings = new List<Finding>(policies.Findings);
        var user = model.Table(UserSchema, UserTableName);
        if (user is null)
        {
            findings.Add(new Finding(string.Empty, 0, RuleId, "the model has no app.User table: the user merge cannot be generated."));
            return new MergePlan([], new ModelTable(UserSchema, UserTableName, [], null, [], []), findings);
        }

        foreach (var column in UserColumns.Where(c => user.Column(c) is null))
        {
            findings.Add(new Finding(string.Empty, 0, RuleId, $"app.User has no column {column}, which the user merge reads or writes."));
        }

        var plans = new List<PolicyPlan>();
        foreach (var row in policies.Rows)
        {
            var errors = new List<string>();
            var plan = BuildPolicy(model, user, row, errors);
            findings.AddRange(errors.Select(e => new Finding(row.File, row.Line, RuleId, $"merge policy {row.Name} ({row.Policy}): {e}")));
            if (plan is not null && errors.Count == 0)
            {
                plans.Add(plan);
            }
        }

        // Lock order: the policies of one table are applied together (one place in L3), or a merge could lock a table,
        // then another, then the first again.
        var seenTables = new List<string>();
        string? previous = null;
        foreach (var row in policies.Rows)
        {
            var table = $"{row.SchemaName}.{row.TableName}".ToUpperInvariant();
            if (table != previous && seenTables.Contains(table))
            {
                findings.Add(new Finding(row.File, row.Line, RuleId,
                    $"merge policy {row.Name}: ApplyOrder {row.ApplyOrder} puts {row.SchemaName}.{row.TableName} after another table although an " +
                    "earlier policy already works on it: give the policies of one table consecutive ApplyOrder values (one place in the lock order)."));
            }

            if (table != previous)
            {
                seenTables.Add(table);
            }

            previous = table;
        }

        return new MergePlan(plans, user, findings);
    }

    private static PolicyPlan? BuildPolicy(MergeModel model, ModelTable user, MergePolicyRow row, List<string> errors)
    {
        MergePolicyKind? kind = row.Policy switch
        {
            "move" => MergePolicyKind.Move,
            "keep-higher-role" => MergePolicyKind.KeepHigherRole,
            "dedupe" => MergePolicyKind.Dedupe,
            "merge-children" => MergePolicyKind.MergeChildren,
            "readdress" => MergePolicyKind.Readdress,
            "refuse" => MergePolicyKind.Refuse,
            _ => null,
        };
        if (kind is null)
        {
            errors.Add($"there is no handler for the policy '{row.Policy}' (known: {string.Join(", ", MergePolicyRow.Kinds)}).");
            return null;
        }

        var table = model.Table(row.SchemaName, row.TableName);
        if (table is null)
        {
            errors.Add($"the model has no table {row.SchemaName}.{row.TableName}.");
            return null;
        }

        var column = table.Column(row.ColumnName);
        if (column is null || column.Computed)
        {
            errors.Add($"{table.QualifiedName} has no stored column {row.ColumnName}.");
            return null;
        }

        if (table.PrimaryKey is null)
        {
            errors.Add($"{table.QualifiedName} has no primary key: a merged row is journaled and re-found by its key.");
            return null;
        }

        CheckRowKey(table, errors);
        var primaryKey = new SeekPlan(table.PrimaryKey, table.PrimaryKey.Columns, null);

        SqlPredicate? rowFilter = null;
        if (row.RowFilter is not null)
        {
            if (kind != MergePolicyKind.Readdress)
            {
                errors.Add("only a readdress policy may have a RowFilter (a reference to app.User left behind would fail the residual check).");
            }

            rowFilter = SqlPredicate.TryParse(row.RowFilter, out var error);
            if (rowFilter is null)
            {
                errors.Add($"RowFilter '{row.RowFilter}' does not parse as a search condition: {error}.");
            }
            else
            {
                foreach (var missing in rowFilter.Columns.Where(c => table.Column(c) is null))
                {
                    errors.Add($"RowFilter '{row.RowFilter}' names {missing}, which {table.QualifiedName} does not have.");
                }
            }
        }

        var isAddress = kind == MergePolicyKind.Readdress;
        var userForeignKey = table.ForeignKeys.FirstOrDefault(fk =>
            fk.Columns.Count == 1 && string.Equals(fk.Columns[0], column.Name, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(fk.ReferencedSchema, UserSchema, StringComparison.OrdinalIgnoreCase) &&
            string.Equals(fk.ReferencedTable, UserTableName, StringComparison.OrdinalIgnoreCase));
        if (isAddress)
        {
            if (!column.IsString)
            {
                errors.Add($"a readdress policy re-addresses an e-mail: {column.Name} is {column.TypeText}, not a string column.");
            }

            if (userForeignKey is not null)
            {
                errors.Add($"{column.Name} is a foreign key to app.User ({userForeignKey.Name}): give it a user policy, not readdress.");
            }
        }
        else
        {
            if (userForeignKey is null)
            {
                errors.Add($"{column.Name} is not a single-column foreign key to app.User: only readdress applies to other columns.");
            }

            if (column.TypeName != "int")
            {
                errors.Add($"{column.Name} is {column.TypeText}; a reference to app.User.UserId is int.");
            }
        }

        var source = SeekOn(table, [column.Name], rowFilter);
        if (source is null)
        {
            errors.Add($"no index of {table.QualifiedName} leads with {column.Name} (with a filter the predicate implies): every statement of a merge " +
                       $"must seek, so add one in a migration (CREATE INDEX IX_{table.Schema}_{table.Name}_{column.Name} ON {table.SqlName} ({column.Name})).");
        }

        var key = new List<ModelColumn>();
        foreach (var name in row.CollisionKeyColumns)
        {
            var keyColumn = table.Column(name);
            if (keyColumn is null || keyColumn.Computed)
            {
                errors.Add($"CollisionKey names {name}, which {table.QualifiedName} does not have.");
            }
            else
            {
                key.Add(keyColumn);
            }
        }

        var collisions = kind is MergePolicyKind.KeepHigherRole or MergePolicyKind.Dedupe or MergePolicyKind.MergeChildren or MergePolicyKind.Readdress;
        if (collisions && key.Count == 0)
        {
            errors.Add("a collision policy needs a CollisionKey (the columns that name the resource both users may hold).");
        }
        else if (!collisions && row.CollisionKey is not null)
        {
            errors.Add($"a {row.Policy} policy has no collisions; CollisionKey '{row.CollisionKey}' would be ignored: set it to NULL.");
        }

        SeekPlan? partner = null;
        var reduceDuplicates = false;
        if (collisions && key.Count > 0)
        {
            partner = PartnerSeek(table, column, key, rowFilter);
            if (partner is null)
            {
                errors.Add($"no index of {table.QualifiedName} seeks on ({string.Join(", ", key.Select(k => k.Name).Append(column.Name))}) " +
                           "(its leading key columns, with a filter the predicate implies): the lookup of the target's row for the same resource must seek.");
            }

            var unique = IsUniquePerHolder(table, column, key, rowFilter);
            if (!unique)
            {
                if (isAddress)
                {
                    reduceDuplicates = true;
                }
                else
                {
                    errors.Add($"no unique index of {table.QualifiedName} makes ({string.Join(", ", key.Select(k => k.Name))}) unique per {column.Name}: " +
                               "without it a user may hold one resource twice and the merge cannot tell which row collides; add a unique index " +
                               $"on ({string.Join(", ", key.Select(k => k.Name).Append(column.Name))}).");
                }
            }
        }

        RankPlan? rank = null;
        if (row.RankTable is not null)
        {
            if (kind is not (MergePolicyKind.KeepHigherRole or MergePolicyKind.Readdress))
            {
                errors.Add($"only keep-higher-role and readdress rank the colliding rows; RankTable '{row.RankTable}' would be ignored: set it to NULL.");
            }
            else
            {
                rank = RankOf(model, table, row.RankTable, errors);
            }
        }
        else if (kind == MergePolicyKind.KeepHigherRole)
        {
            errors.Add("keep-higher-role needs a RankTable (CK_dbmerge_MergePolicy_RankTable).");
        }

        var children = new List<ChildPlan>();
        if (kind == MergePolicyKind.MergeChildren)
        {
            children.AddRange(ChildrenOf(model, table, errors));
        }

        if (source is null || errors.Count > 0)
        {
            return null;
        }

        return new PolicyPlan(row, kind.Value, table, column, source, primaryKey, key, partner, rank, children, rowFilter, reduceDuplicates);
    }

    /// <summary>The index to seek on for <c>columns = values [AND rowFilter]</c>: the columns lead its key (any order); equality columns of the filter may follow.</summary>
    internal static SeekPlan? SeekOn(ModelTable table, IReadOnlyList<string> columns, SqlPredicate? rowFilter)
    {
        var fixedColumns = rowFilter?.EqualityColumns ?? new HashSet<string>();
        var wanted = columns.Select(c => c.ToUpperInvariant()).ToHashSet();
        var candidates = new List<(SeekPlan Plan, int Rank)>();
        foreach (var index in table.Indexes)
        {
            if (index.Columns.Count < wanted.Count ||
                !index.Columns.Take(wanted.Count).Select(c => c.ToUpperInvariant()).ToHashSet().SetEquals(wanted))
            {
                continue;
            }

            var filter = FilterOf(index, columns[0], rowFilter);
            if (index.Filter is not null && filter is null)
            {
                continue;
            }

            var seek = index.Columns.Take(wanted.Count).ToList();
            foreach (var next in index.Columns.Skip(wanted.Count))
            {
                if (!fixedColumns.Contains(next.ToUpperInvariant()))
                {
                    break;
                }

                seek.Add(next);
            }

            // Prefer the most seek columns, then the narrowest index (fewest key columns), then the name.
            candidates.Add((new SeekPlan(index, seek, filter), (seek.Count * 100) - index.Columns.Count));
        }

        return candidates.OrderByDescending(c => c.Rank).ThenBy(c => c.Plan.Index.Name, StringComparer.Ordinal).Select(c => c.Plan).FirstOrDefault();
    }

    /// <summary>
    /// The index for the lookup of the target's row for the same resource: its leading key columns are the key columns, the
    /// holder column and equality columns of the row filter, in any order. FORCESEEK names the leading columns up to the first
    /// nullable key column (those compare NULL-safely; the optimizer may seek on them too, but the hint never depends on it).
    /// </summary>
    private static SeekPlan? PartnerSeek(ModelTable table, ModelColumn holder, IReadOnlyList<ModelColumn> key, SqlPredicate? rowFilter)
    {
        var required = key.Select(k => k.Name.ToUpperInvariant()).Append(holder.Name.ToUpperInvariant()).ToHashSet();
        var fixedColumns = rowFilter?.EqualityColumns ?? new HashSet<string>();
        var candidates = new List<SeekPlan>();
        foreach (var index in table.Indexes)
        {
            var prefix = new List<string>();
            var covered = new HashSet<string>();
            foreach (var column in index.Columns)
            {
                var upper = column.ToUpperInvariant();
                if (!required.Contains(upper) && !fixedColumns.Contains(upper))
                {
                    break;
                }

                prefix.Add(column);
                if (required.Contains(upper))
                {
                    covered.Add(upper);
                }

                if (covered.SetEquals(required))
                {
                    break;
                }
            }

            if (!covered.SetEquals(required))
            {
                continue;
            }

            var filter = FilterOf(index, holder.Name, rowFilter);
            if (index.Filter is not null && filter is null)
            {
                continue;
            }

            var seek = new List<string>();
            foreach (var column in prefix)
            {
                var keyColumn = key.FirstOrDefault(k => k.Name.Equals(column, StringComparison.OrdinalIgnoreCase));
                if (keyColumn is { Nullable: true })
                {
                    break;
                }

                seek.Add(column);
            }

            if (seek.Count > 0)
            {
                candidates.Add(new SeekPlan(index, seek, filter));
            }
        }

        return candidates.OrderByDescending(c => c.SeekColumns.Count).ThenBy(c => c.Index.Columns.Count).ThenBy(c => c.Index.Name, StringComparer.Ordinal).FirstOrDefault();
    }

    /// <summary>True when a unique index makes (key, holder) unique among the rows the policy works on.</summary>
    private static bool IsUniquePerHolder(ModelTable table, ModelColumn holder, IReadOnlyList<ModelColumn> key, SqlPredicate? rowFilter)
    {
        var allowed = key.Select(k => k.Name.ToUpperInvariant()).Append(holder.Name.ToUpperInvariant())
            .Concat(rowFilter?.EqualityColumns ?? new HashSet<string>()).ToHashSet();
        return table.Indexes.Any(i => i.Unique && i.Columns.All(c => allowed.Contains(c.ToUpperInvariant())) &&
                                      (i.Filter is null || FilterOf(i, holder.Name, rowFilter) is not null));
    }

    /// <summary>The index's filter when <c>seekColumn = value [AND rowFilter]</c> implies it (the predicate then repeats it), else null.</summary>
    private static SqlPredicate? FilterOf(ModelIndex index, string seekColumn, SqlPredicate? rowFilter)
    {
        if (index.Filter is null)
        {
            return null;
        }

        var filter = SqlPredicate.TryParse(index.Filter, out _);
        return filter is not null && filter.IsImpliedBy(seekColumn, rowFilter) ? filter : null;
    }

    private static RankPlan? RankOf(MergeModel model, ModelTable table, string rankTable, List<string> errors)
    {
        var parts = rankTable.Split('.');
        var ranks = parts.Length == 2 ? model.Table(parts[0].Trim('[', ']'), parts[1].Trim('[', ']')) : null;
        if (ranks is null)
        {
            errors.Add($"RankTable '{rankTable}' is not a table of the model (write schema.table).");
            return null;
        }

        if (ranks.PrimaryKey is not { Columns.Count: 1 })
        {
            errors.Add($"RankTable {ranks.QualifiedName} needs a single-column primary key (the ranked value).");
            return null;
        }

        var value = ranks.PrimaryKey.Columns[0];
        var rankColumns = ranks.Columns.Where(c => !c.Name.Equals(value, StringComparison.OrdinalIgnoreCase) &&
                                                   c.Name.EndsWith("Rank", StringComparison.OrdinalIgnoreCase) &&
                                                   c.TypeName is "tinyint" or "smallint" or "int").ToList();
        if (rankColumns.Count != 1)
        {
            errors.Add($"RankTable {ranks.QualifiedName} needs exactly one integer column named …Rank (found {rankColumns.Count}).");
            return null;
        }

        // The ranked column: the one with a foreign key to the rank table, else the one named like its key.
        var byForeignKey = table.ForeignKeys.FirstOrDefault(fk => fk.Columns.Count == 1 &&
            fk.QualifiedReferencedTable.Equals(ranks.QualifiedName, StringComparison.OrdinalIgnoreCase));
        var ranked = table.Column(byForeignKey?.Columns[0] ?? value);
        if (ranked is null)
        {
            errors.Add($"{table.QualifiedName} has no column ranked by {ranks.QualifiedName} (a foreign key to it, or a column named {value}).");
            return null;
        }

        return new RankPlan(ranks, value, rankColumns[0].Name, ranked);
    }

    private static IEnumerable<ChildPlan> ChildrenOf(MergeModel model, ModelTable parent, List<string> errors)
    {
        if (parent.PrimaryKey is not { Columns.Count: 1 })
        {
            errors.Add($"merge-children needs a single-column primary key on {parent.QualifiedName} (the children's foreign keys reference it).");
            yield break;
        }

        foreach (var fk in model.ForeignKeysTo(parent.Schema, parent.Name))
        {
            if (fk.QualifiedTable.Equals(parent.QualifiedName, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{fk.Name} references {parent.QualifiedName} from itself: merge-children does not handle a self-reference.");
                continue;
            }

            var child = model.Table(fk.Schema, fk.Table)!;
            if (fk.Columns.Count != 1)
            {
                errors.Add($"child foreign key {fk.Name} of {child.QualifiedName} has {fk.Columns.Count} columns; merge-children re-points single-column keys.");
                continue;
            }

            var column = child.Column(fk.Columns[0])!;
            var seek = SeekOn(child, [column.Name], null);
            if (seek is null)
            {
                errors.Add($"no index of child table {child.QualifiedName} leads with {column.Name}: re-pointing its rows must seek.");
                continue;
            }

            if (child.PrimaryKey is not { Clustered: true, Columns.Count: 1 } || child.Column(child.PrimaryKey.Columns[0]) is not { Identity: true })
            {
                errors.Add($"child table {child.QualifiedName} needs a clustered single-column IDENTITY primary key: a row the application inserts under a " +
                           "source parent during the merge gets the highest key of that parent's range, which the merge key-range-locks (the fence).");
                continue;
            }

            CheckRowKey(child, errors);
            var uniques = new List<ChildUnique>();
            foreach (var index in child.Indexes.Where(i => i.Unique && i.Columns.Contains(column.Name, StringComparer.OrdinalIgnoreCase)))
            {
                if (index.Filter is not null)
                {
                    errors.Add($"unique index {index.Name} of child table {child.QualifiedName} is filtered; merge-children checks unfiltered ones only.");
                    continue;
                }

                var others = index.Columns.Where(c => !c.Equals(column.Name, StringComparison.OrdinalIgnoreCase)).ToList();
                var seekColumns = new List<string>();
                foreach (var c in index.Columns)
                {
                    if (!c.Equals(column.Name, StringComparison.OrdinalIgnoreCase) && child.Column(c) is { Nullable: true })
                    {
                        break;
                    }

                    seekColumns.Add(c);
                }

                uniques.Add(new ChildUnique(index, others, new SeekPlan(index, seekColumns, null)));
            }

            yield return new ChildPlan(child, fk, column, seek, uniques, new SeekPlan(child.PrimaryKey, child.PrimaryKey.Columns, null));
        }
    }

    private static void CheckRowKey(ModelTable table, List<string> errors)
    {
        if (table.PrimaryKey is null)
        {
            return;
        }

        var lengths = table.PrimaryKey.Columns.Select(c => table.Column(c)?.MaxJsonLength).ToList();
        if (lengths.Any(l => l is null) || lengths.Sum(l => l!.Value) + 2 > MaxRowKeyLength)
        {
            errors.Add($"the primary key of {table.QualifiedName} ({string.Join(", ", table.PrimaryKey.Columns)}) can exceed {MaxRowKeyLength} characters " +
                       "as JSON, the size of dbmerge.MergeChange.RowKey.");
        }

        foreach (var column in table.StoredColumns.Where(c => c.Name.Length > 126))
        {
            errors.Add($"column {table.QualifiedName}.{column.Name} is longer than 126 characters; the journal's table variables prefix column names with B_/A_.");
        }
    }
}
