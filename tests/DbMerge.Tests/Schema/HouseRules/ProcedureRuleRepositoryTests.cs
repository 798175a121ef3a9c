using DbMerge.Schema;
using DbMerge.Schema.HouseRules;
using Xunit;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>The repository's own database/ scripts follow DBM001–DBM012, and a planted violation reaches SchemaVerifier with file and line.</summary>
public sealed class ProcedureRuleRepositoryTests
{
    private static readonly HashSet<string> ProcedureRuleIds = ProcedureRules.All.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void The_repository_has_no_procedure_house_rule_finding()
    {
        var parseFindings = new List<Finding>();
        var scripts = Repo.Layout.AllScripts().Select(f => SqlText.Parse(f, parseFindings)).ToList();
        Assert.True(parseFindings.Count == 0, string.Join(Environment.NewLine, parseFindings));
        Assert.Contains(scripts, s => s.File.RelativePath.StartsWith("database/", StringComparison.Ordinal));

        var findings = HouseRuleSet.Check(Repo.Layout, scripts).Where(f => ProcedureRuleIds.Contains(f.Rule)).ToList();

        Assert.True(findings.Count == 0, "house rule findings in the repository:\n" + string.Join(Environment.NewLine, findings));
    }

    [Fact]
    public void Every_database_procedure_is_seen_by_the_rules()
    {
        var scripts = Repo.Layout.DatabaseObjects().Select(f => SqlText.Parse(f)).ToList();
        var procedures = ProcedureRuleSupport.Procedures(new HouseRuleContext(Repo.Layout, scripts)).Select(p => p.Name).ToList();
        var files = scripts.Count(s => HouseRuleSet.KindOf(s.File.RelativePath) == "Procedures");
        Assert.Equal(files, procedures.Count);
        Assert.Contains("api.User_Merge", procedures);
        Assert.Contains("dbmerge.User_MergeCore", procedures);
    }

    [Fact]
    public void A_NOLOCK_planted_in_a_scratch_copy_is_reported_by_the_verifier_with_file_and_line()
    {
        var copy = Repo.ScratchCopy();
        try
        {
            const string relative = "database/api/Procedures/api.User_Find.sql";
            var path = Path.Combine(copy.Root, relative.Replace('/', Path.DirectorySeparatorChar));
            var text = File.ReadAllText(path);
            const string from = "FROM app.[User] AS u";
            Assert.Contains(from, text, StringComparison.Ordinal);
            var planted = text.Replace(from, from + " WITH (NOLOCK)", StringComparison.Ordinal);
            File.WriteAllText(path, planted);
            var line = planted.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList().FindIndex(l => l.Contains("WITH (NOLOCK)", StringComparison.Ordinal)) + 1;

            using var result = SchemaVerifier.Verify(copy, new VerificationOptions { RunCodeAnalysis = false });

            var finding = Assert.Single(result.Findings, f => f.Rule == "DBM006");
            Assert.Equal(relative, finding.File);
            Assert.Equal(line, finding.Line);
            Assert.Contains("api.User_Find", finding.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(result.Findings, f => ProcedureRuleIds.Contains(f.Rule) && f.Rule != "DBM006");
        }
        finally
        {
            Directory.Delete(copy.Root, recursive: true);
        }
    }
}
