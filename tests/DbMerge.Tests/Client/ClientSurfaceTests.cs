using System.Reflection;
using DbMerge.Client;
using Xunit;

namespace DbMerge.Tests.Client;

/// <summary>
/// The public client (DbMerge.Client, the NuGet package application code adopts) exposes only typed api.* wrappers:
/// no benchmark or demo seeding, no generic "run any procedure", no reference to the runner's libraries.
/// </summary>
public sealed class ClientSurfaceTests
{
    private static readonly Assembly Client = typeof(DbMergeClient).Assembly;

    [Fact]
    public void The_client_references_none_of_DbMerges_other_libraries()
    {
        var references = Client.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.Contains("Microsoft.Data.SqlClient", references);

        Assert.DoesNotContain(references, r => r.StartsWith("DbMerge.", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_procedure_the_client_names_is_an_api_procedure()
    {
        var procedures = typeof(DbMergeClient).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f is { IsLiteral: true } && f.Name.EndsWith("Procedure", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();
        Assert.Contains("api.User_Merge", procedures);

        Assert.All(procedures, p => Assert.StartsWith("api.", p, StringComparison.Ordinal));
    }

    [Fact]
    public void The_client_has_no_public_seeding_benchmark_or_generic_execution_member()
    {
        var members = Client.GetExportedTypes()
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Select(m => $"{t.Name}.{m.Name}"))
            .ToList();
        Assert.Contains("DbMergeClient.MergeUsersAsync", members);

        var forbidden = members.Where(m => m.Contains("Seed", StringComparison.OrdinalIgnoreCase)
                                           || m.Contains("Bench", StringComparison.OrdinalIgnoreCase)
                                           || m.Contains("Scenario", StringComparison.OrdinalIgnoreCase)
                                           || m.EndsWith(".ExecuteProcedureAsync", StringComparison.Ordinal)
                                           || m.EndsWith(".OpenConnectionAsync", StringComparison.Ordinal)).ToList();
        Assert.True(forbidden.Count == 0, "DbMerge.Client exposes: " + string.Join(", ", forbidden));
    }

    [Fact]
    public void The_runner_source_holds_no_SQL_statement()
    {
        var runner = Path.Combine(Repo.Layout.Root, "src", "DbMerge.Runner");
        var files = Directory.EnumerateFiles(runner, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToList();
        Assert.Contains(files, f => f.EndsWith("DemoVerb.cs", StringComparison.Ordinal));
        var sql = new System.Text.RegularExpressions.Regex(
            @"\b(INSERT\s+INTO|CREATE\s+DATABASE|DROP\s+DATABASE|DELETE\s+FROM|UPDATE\s+\w+\.\w+\s+SET|SELECT\s+[^""]*\s+FROM\s+\w+\.)|new\s+SqlCommand\(",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);

        var offending = files.SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => sql.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(Repo.Layout.Root, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();
        Assert.True(offending.Count == 0, "the runner holds SQL (move it to DbMerge.Scenarios, DbMerge.Deployment or a procedure): " + string.Join("; ", offending));
    }
}
