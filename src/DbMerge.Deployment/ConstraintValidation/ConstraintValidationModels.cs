namespace DbMerge.Deployment.ConstraintValidation;

/// <summary>
/// The progress row of one constraint after a batch (the result of <c>dbmerge.Constraint_ValidateBatch</c>).
/// <see cref="EstimatedTotalRows"/> is approximate (sys.partitions) and null when unknown: progress, never a check.
/// </summary>
public sealed record ConstraintProgress(
    string SchemaName,
    string TableName,
    string ConstraintName,
    string ConstraintType,
    string KeyColumn,
    string Status,
    long? LastKey,
    long RowsChecked,
    long ViolationCount,
    int BatchRows,
    int BatchViolations,
    long? EstimatedTotalRows,
    DateTime StartedAt,
    DateTime UpdatedAt,
    DateTime? FinishedAt)
{
    public bool IsDone => string.Equals(Status, "done", StringComparison.Ordinal);

    public string QualifiedName => $"{SchemaName}.{ConstraintName}";
}

/// <summary>Options for <see cref="ConstraintValidator.ValidateAsync"/>; safe defaults.</summary>
public sealed class ConstraintValidationOptions
{
    /// <summary>Rows per batch (1..100000). Default 5000: a batch reads in milliseconds, so writers barely wait.</summary>
    public int BatchSize { get; init; } = 5000;

    /// <summary>Stop (resumably) after this long; null = until done. At least one batch always runs.</summary>
    public TimeSpan? MaxDuration { get; init; }

    /// <summary>Stop (resumably) after this many batches; null = until done. For tests and careful first runs.</summary>
    public int? MaxBatches { get; init; }

    /// <summary>Start over: delete the constraint's recorded violations and its progress first.</summary>
    public bool Restart { get; init; }

    /// <summary>Timeout of each batch call. Default 60 seconds.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>How a validation run ended.</summary>
/// <param name="Last">The progress row after the last batch.</param>
/// <param name="Batches">Batches run by this call.</param>
/// <param name="RowsCheckedThisRun">Rows read by this call.</param>
/// <param name="Elapsed">Wall-clock time of this call.</param>
public sealed record ConstraintValidationOutcome(ConstraintProgress Last, int Batches, long RowsCheckedThisRun, TimeSpan Elapsed)
{
    /// <summary>True when every existing row was checked.</summary>
    public bool Completed => Last.IsDone;

    /// <summary>Violations recorded for the constraint so far (all of them when <see cref="Completed"/>).</summary>
    public long ViolationCount => Last.ViolationCount;
}

/// <summary>Where the validation of one untrusted constraint stands.</summary>
public enum ConstraintValidationState
{
    /// <summary>No validation has been recorded.</summary>
    NeverRun,

    /// <summary>Started, not finished: resumes after <see cref="UntrustedConstraint.LastKey"/>.</summary>
    InProgress,

    /// <summary>Every existing row was checked; <see cref="UntrustedConstraint.RecordedViolations"/> remain.</summary>
    Done,

    /// <summary>Recorded for a constraint of the same name that has since been dropped and re-created: validate again.</summary>
    Stale,
}

/// <summary>An untrusted (<c>is_not_trusted = 1</c>) CHECK or FOREIGN KEY constraint and its validation state.</summary>
public sealed record UntrustedConstraint(
    string SchemaName,
    string TableName,
    string ConstraintName,
    string ConstraintType,
    bool IsDisabled,
    ConstraintValidationState State,
    long? LastKey,
    long RowsChecked,
    long RecordedViolations,
    long? EstimatedTotalRows,
    DateTime? UpdatedAt,
    DateTime? FinishedAt)
{
    public string QualifiedName => $"{SchemaName}.{ConstraintName}";

    /// <summary>One line for people: "never run", "in progress at key 41000 (41000/100000 rows, 3 violations)", "done with 3 violations".</summary>
    public string Describe() => State switch
    {
        ConstraintValidationState.NeverRun => "never run",
        ConstraintValidationState.Stale => "stale (constraint re-created since its validation): validate again",
        ConstraintValidationState.InProgress =>
            $"in progress at key {LastKey?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(start)"} " +
            $"({RowsChecked}/{(EstimatedTotalRows is { } total ? total.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")} rows, {RecordedViolations} violation(s) so far)",
        ConstraintValidationState.Done => $"done with {RecordedViolations} violation(s)",
        _ => State.ToString(),
    } + (IsDisabled ? " [constraint DISABLED: new writes are not checked]" : string.Empty);
}

/// <summary>Result of <c>dbmerge.Constraint_Trust</c>.</summary>
public sealed record ConstraintTrustResult(
    string SchemaName,
    string TableName,
    string ConstraintName,
    string ConstraintType,
    bool IsTrusted,
    bool AlreadyTrusted,
    DateTime? TrustedAt);

/// <summary>A schema-qualified constraint name as the operator typed it ("schema.name" or "name").</summary>
public sealed record ConstraintName(string? Schema, string Name)
{
    /// <summary>Parses "schema.name", "[schema].[name]" or "name" (schema resolved later).</summary>
    public static ConstraintName Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        var text = value.Trim();
        var dot = FindSeparator(text);
        return dot < 0
            ? new ConstraintName(null, Unquote(text))
            : new ConstraintName(Unquote(text[..dot]), Unquote(text[(dot + 1)..]));
    }

    public override string ToString() => Schema is null ? Name : $"{Schema}.{Name}";

    private static int FindSeparator(string text)
    {
        var inBrackets = false;
        for (var i = 0; i < text.Length; i++)
        {
            switch (text[i])
            {
                case '[': inBrackets = true; break;
                case ']': inBrackets = false; break;
                case '.' when !inBrackets: return i;
            }
        }

        return -1;
    }

    private static string Unquote(string part)
    {
        var trimmed = part.Trim();
        return trimmed.Length >= 2 && trimmed[0] == '[' && trimmed[^1] == ']'
            ? trimmed[1..^1].Replace("]]", "]", StringComparison.Ordinal)
            : trimmed;
    }
}

/// <summary>One recorded violating row (<c>dbmerge.ConstraintViolation</c>).</summary>
/// <param name="KeyValue">The row's clustered key value.</param>
/// <param name="RowValues">The constrained columns of the row as JSON, when it was found.</param>
public sealed record ConstraintViolationRow(string SchemaName, string TableName, string ConstraintName, string KeyColumn, long KeyValue, string? RowValues, DateTime FoundAt);
