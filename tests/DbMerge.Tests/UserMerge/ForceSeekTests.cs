using DbMerge.Schema;
using DbMerge.Schema.Merge;
using DbMerge.Testing;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// Every FORCESEEK hint names only columns a plan can seek on (else SQL Server refuses the statement at run time with
/// error 8622, which offline validation cannot see): see <see cref="ForceSeekSatisfiability"/>.
/// </summary>
public sealed class ForceSeekTests
{
    [Fact]
    public void Every_FORCESEEK_in_the_database_objects_names_only_columns_a_plan_can_seek_on()
    {
        var problems = new List<string>();
        var hinted = 0;
        foreach (var file in Repo.Layout.DatabaseObjects())
        {
            var fragment = Parse(file.Text);
            hinted += file.Text.Split("FORCESEEK (").Length - 1;
            problems.AddRange(ForceSeekSatisfiability.Problems(fragment).Select(p => $"{file.RelativePath} {p}"));
        }

        Assert.True(hinted > 100, $"only {hinted} FORCESEEK hints found");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_checker_reports_a_seek_column_no_predicate_fixes_and_two_hinted_tables_that_each_need_the_other()
    {
        var problems = ForceSeekSatisfiability.Problems(Parse("""
            SELECT 1 FROM app.A AS a WITH (FORCESEEK (IX_A (X, Y))) WHERE a.X = @x;
            SELECT 1 FROM app.A AS a WITH (FORCESEEK (IX_A (X, Y))) JOIN app.B AS b WITH (FORCESEEK (IX_B (Y))) ON b.Y = a.Y WHERE a.X = @x AND a.Y = b.Z;
            SELECT 1 FROM app.A AS a WITH (FORCESEEK (IX_A (X))) JOIN app.B AS b ON b.Y = a.Y WHERE a.X = @x OR a.X = 2;
            SELECT 1 FROM @T AS t JOIN app.A AS a WITH (FORCESEEK (IX_A (X, Y))) ON a.X = t.X AND a.Y = 1 OUTER APPLY (SELECT TOP (1) b.Y FROM app.B AS b WITH (FORCESEEK (IX_B (Y))) WHERE b.Y = a.Y) AS o;
            """));

        Assert.Equal(4, problems.Count);
        Assert.Contains("a (FORCESEEK on X, Y) has no equality on Y", problems[0], StringComparison.Ordinal);
        Assert.Contains(problems, p => p.StartsWith("line 2: a ", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("line 2: b ", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("line 3: a ", StringComparison.Ordinal)); // an OR branch is no seek predicate
    }

    [Fact]
    public void A_merge_children_child_whose_unique_index_has_a_second_column_gets_a_collision_check_a_plan_can_seek()
    {
        // Given a planted child table at most one per (parent, kind): its unique index has a column beyond the parent key
        var scratch = Repo.ScratchCopy();
        PlantedMergeTables.Plant(scratch, PlantedMergeTables.MigrationName, PlantedMergeTables.Sql + "\n" + PlantedMergeTables.ChildUniquePerKindSql);

        // When the merge is generated for it
        var generation = MergeGenerator.Generate(scratch);
        Assert.False(generation.HasErrors, string.Join("\n", generation.Findings));
        var club = generation.Plan.Policies.Single(p => p.Table.Name == "PlantedClubMember");
        var badge = club.Children.Single(c => c.Table.Name == "PlantedClubBadge");
        Assert.Equal(["Kind"], Assert.Single(badge.Uniques).OtherColumns);
        var core = generation.Files.Single(f => f.RelativePath.EndsWith("dbmerge.User_MergeCore.sql", StringComparison.Ordinal)).Text;

        // Then its collision checks (the pre-check and the per-batch one) seek the source's child on the parent key only —
        // the source's Kind is what the target's child is sought by, so naming Kind for the source's child too is error 8622
        Assert.Contains("both hold a app.PlantedClubBadge row", core, StringComparison.Ordinal);
        var problems = ForceSeekSatisfiability.Problems(Parse(core));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static TSqlFragment Parse(string text)
    {
        var fragment = new TSql150Parser(true).Parse(new StringReader(text), out var errors);
        Assert.Empty(errors);
        return fragment;
    }
}
