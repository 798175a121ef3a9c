using System.Reflection;
using System.Text.RegularExpressions;
using DbMerge.Client;
using DbMerge.Client.Errors;
using Xunit;

namespace DbMerge.Tests.Client;

/// <summary>
/// The client package's own README (src/DbMerge.Client/README.md, packed with it) covers what application code needs:
/// every public method and the procedure it calls, every exception type, every error a caller may retry, and the
/// own-transaction refusals.
/// </summary>
public sealed partial class ClientReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(Repo.Layout.Root, "src", "DbMerge.Client", "README.md"));

    [Fact]
    public void Every_public_async_method_of_the_client_is_in_the_README()
    {
        var methods = typeof(DbMergeClient).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => m.Name.EndsWith("Async", StringComparison.Ordinal))
            .Select(m => m.Name)
            .Distinct()
            .ToList();
        Assert.Contains("MergeUsersAsync", methods);

        Assert.All(methods, m => Assert.Contains($"`{m}(", Readme, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_procedure_the_client_calls_is_in_the_README()
    {
        var procedures = typeof(DbMergeClient).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.Name.EndsWith("Procedure", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.NotEmpty(procedures);

        Assert.All(procedures, p => Assert.Contains($"`{p}`", Readme, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_exception_type_is_in_the_README()
    {
        var exceptions = typeof(DbMergeException).Assembly.GetExportedTypes()
            .Where(t => typeof(DbMergeException).IsAssignableFrom(t))
            .Select(t => t.Name)
            .ToList();
        Assert.Contains("DbMergeLockTimeoutException", exceptions);

        Assert.All(exceptions, e => Assert.Contains($"`{e}`", Readme, StringComparison.Ordinal));
    }

    [Fact]
    public void The_retry_guidance_names_every_lock_timeout_and_conflict_error_a_client_procedure_throws()
    {
        var retry = Readme[Readme.IndexOf("## Retry guidance", StringComparison.Ordinal)..];
        var clientProcedures = new[] { "api.", "dbmerge.User_MergeCore", "dbmerge.User_UnmergeCore" };
        var numbers = ErrorRegistry.All
            .Where(e => e.Kind is DbMergeErrorKind.LockTimeout or DbMergeErrorKind.Conflict)
            .Where(e => clientProcedures.Any(p => e.Procedure.StartsWith(p, StringComparison.Ordinal)))
            .Select(e => e.Number)
            .ToList();
        Assert.Contains(51108, numbers);

        Assert.All(numbers, n => Assert.Contains(n.ToString(System.Globalization.CultureInfo.InvariantCulture), retry, StringComparison.Ordinal));
    }

    /// <summary>
    /// The procedures of database/ that carry the own-transaction guard (DBM013), with the number the guard throws: read
    /// from the procedures themselves, so a new guarded procedure must be documented.
    /// </summary>
    internal static IReadOnlyDictionary<string, int> GuardedProcedures() =>
        Repo.Layout.DatabaseObjects()
            .Select(f => (Name: Path.GetFileNameWithoutExtension(f.RelativePath), Guard: OwnTransactionGuard().Match(f.Text)))
            .Where(g => g.Guard.Success)
            .ToDictionary(g => g.Name, g => int.Parse(g.Guard.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);

    [Fact]
    public void The_transactions_section_names_every_guarded_procedure_the_client_calls_with_its_refusal_number()
    {
        var section = Readme[Readme.IndexOf("## Transactions", StringComparison.Ordinal)..Readme.IndexOf("## Retry guidance", StringComparison.Ordinal)];
        var called = typeof(DbMergeClient).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.Name.EndsWith("Procedure", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToHashSet(StringComparer.Ordinal);
        var guarded = GuardedProcedures().Where(g => called.Contains(g.Key)).ToList();
        Assert.Contains(guarded, g => g.Key == "api.Reconciliation_Confirm");
        Assert.Contains(guarded, g => g.Key == "api.User_Merge");

        // Each on a table row of its own number: `api.X` ... | 51xxx |
        Assert.All(guarded, g => Assert.Contains(section.Split('\n'), line =>
            line.Contains($"`{g.Key}`", StringComparison.Ordinal) && line.Contains($"| {g.Value} |", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_transactions_section_says_an_ambient_TransactionScope_is_refused_too()
    {
        var section = Readme[Readme.IndexOf("## Transactions", StringComparison.Ordinal)..Readme.IndexOf("## Retry guidance", StringComparison.Ordinal)];

        Assert.Contains("TransactionScope", section, StringComparison.Ordinal);
        Assert.Contains("Enlist", section, StringComparison.Ordinal);
        Assert.DoesNotContain("this client always does", section, StringComparison.Ordinal);
    }

    [Fact]
    public void The_README_explains_the_own_transaction_refusals_including_implicit_transactions()
    {
        Assert.Contains("IMPLICIT_TRANSACTIONS ON", Readme, StringComparison.Ordinal);
        foreach (var number in new[] { ErrorRegistry.MergeOpenTransaction, 51214, 51313 })
        {
            Assert.Contains(number.ToString(System.Globalization.CultureInfo.InvariantCulture), Readme, StringComparison.Ordinal);
        }
    }

    [GeneratedRegex(@"IF @@TRANCOUNT > 0 OR \(@@OPTIONS & 2\) = 2\s*\n\s*BEGIN[\s\S]*?THROW (51\d{3}), @OpenMessage, 1;")]
    private static partial Regex OwnTransactionGuard();
}
