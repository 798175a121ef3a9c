namespace DbMerge.Client.Errors;

/// <summary>
/// Every error number DbMerge's procedures <c>THROW</c>, with its meaning. Offline tests keep this list,
/// the <c>THROW</c> statements under <c>database/</c>, and the README's error table in step.
/// Blocks: 51000–51099 general, 51100–51199 user merge, 51200–51299 documents,
/// 51300–51399 invitations, 51400–51499 constraint validation, 51500–51549 reconciliation and outbox,
/// 51550–51599 collections.
/// </summary>
public static partial class ErrorRegistry
{
    public const int FirstNumber = 51000;
    public const int LastNumber = 51999;

    // The per-area lists are properties in the partial files ErrorRegistry.<Area>.cs.
    private static readonly Lazy<IReadOnlyList<DbMergeError>> AllErrors = new(() =>
        new[] { General, UserMerge, Unmerge, Documents, Invitations, Constraints, Reconciliation, Collections }
            .SelectMany(e => e)
            .OrderBy(e => e.Number)
            .ToList());

    private static readonly Lazy<IReadOnlyDictionary<int, DbMergeError>> ByNumber = new(() =>
        AllErrors.Value.ToDictionary(e => e.Number));

    /// <summary>All documented errors, ordered by number.</summary>
    public static IReadOnlyList<DbMergeError> All => AllErrors.Value;

    public static bool TryGet(int number, out DbMergeError error)
    {
        if (ByNumber.Value.TryGetValue(number, out var found))
        {
            error = found;
            return true;
        }

        error = null!;
        return false;
    }

    public static DbMergeError Get(int number) =>
        TryGet(number, out var error)
            ? error
            : throw new KeyNotFoundException($"Error {number} is not in the DbMerge error registry.");

    public static bool IsDbMergeNumber(int number) => number is >= FirstNumber and <= LastNumber;
}
