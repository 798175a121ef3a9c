using System.Runtime.CompilerServices;
using Microsoft.SqlServer.Dac.Model;

namespace DbMerge.Schema.Merge;

/// <summary>A file the generator writes: its path relative to the repository and its exact text (LF line endings).</summary>
public sealed record GeneratedFile(string RelativePath, string Text);

/// <summary>What the generator produced: the files (none when the plan has errors), the plan and its findings.</summary>
public sealed record MergeGeneration(IReadOnlyList<GeneratedFile> Files, MergePlan Plan, IReadOnlyList<Finding> Findings)
{
    public bool HasErrors => Findings.Any(f => f.Severity == FindingSeverity.Error);
}

/// <summary>
/// `dbmerge generate merge`: the user merge's per-table code, generated from the merge policies (the migrations'
/// dbmerge.MergePolicy rows) and the replayed model's table definitions. Writes dbmerge.User_MergeCore, the
/// late-reference procedures, the undo dbmerge.User_UnmergeCore and the journal reader api.MergeRun_Journal under
/// database/; <see cref="Stale"/> says which committed files differ
/// (DBM042, `generate merge --check`, and an offline test).
/// </summary>
public static class MergeGenerator
{
    /// <summary>The files the generator owns.</summary>
    public static IReadOnlyList<string> Paths { get; } =
        [MergeCoreWriter.RelativePath, LateReferenceWriter.CountsPath, LateReferenceWriter.UsersPath, UnmergeCoreWriter.RelativePath, JournalImageWriter.RelativePath];

    private static readonly ConditionalWeakTable<TSqlModel, MergeGeneration> Cache = new();

    /// <summary>Generates from a repository: replays its migrations only (the generated files themselves are not needed).</summary>
    public static MergeGeneration Generate(RepositoryLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var findings = new List<Finding>();
        var migrations = layout.Migrations().Select(f => SqlText.Parse(f, findings)).ToList();
        var build = SchemaVerifier.BuildModel(migrations, []);
        using var model = build.Model; // DacFx keeps the model's scripts in temp files until it is disposed
        findings.AddRange(build.Findings.Where(f => f.Severity == FindingSeverity.Error));
        if (findings.Any(f => f.Severity == FindingSeverity.Error))
        {
            return new MergeGeneration([], new MergePlan([], new ModelTable("app", "User", [], null, [], []), []), findings);
        }

        var generation = Generate(build.Model, migrations);
        return generation with { Findings = [.. findings, .. generation.Findings] };
    }

    /// <summary>Generates from a model that holds the replayed tables, and the parsed migrations (for the policy rows).</summary>
    public static MergeGeneration Generate(TSqlModel model, IReadOnlyList<ParsedScript> scripts)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(scripts);
        return Cache.GetValue(model, _ =>
        {
            var policies = MergePolicySource.Read(scripts);
            var plan = MergePlanner.Build(MergeModel.From(model), policies);
            if (plan.Findings.Any(f => f.Severity == FindingSeverity.Error))
            {
                return new MergeGeneration([], plan, plan.Findings);
            }

            // The undo (issue 14) is generated from the same plan: a change the merge can make without an undo is a
            // finding (DBM043), and nothing is written.
            var unmerge = UnmergePlanner.Build(plan);
            var findings = plan.Findings.Concat(unmerge.Findings).ToList();
            if (unmerge.Findings.Any(f => f.Severity == FindingSeverity.Error))
            {
                return new MergeGeneration([], plan, findings);
            }

            return new MergeGeneration(
            [
                new GeneratedFile(MergeCoreWriter.RelativePath, MergeCoreWriter.Write(plan)),
                new GeneratedFile(LateReferenceWriter.CountsPath, LateReferenceWriter.Counts(plan)),
                new GeneratedFile(LateReferenceWriter.UsersPath, LateReferenceWriter.Users(plan)),
                new GeneratedFile(UnmergeCoreWriter.RelativePath, UnmergeCoreWriter.Write(unmerge)),
                new GeneratedFile(JournalImageWriter.RelativePath, JournalImageWriter.Write(unmerge)),
            ], plan, findings);
        });
    }

    /// <summary>Generated files whose committed text differs (or that are missing), as (path, reason).</summary>
    public static IReadOnlyList<(string Path, string Reason)> Stale(RepositoryLayout layout, MergeGeneration generation)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(generation);
        var stale = new List<(string, string)>();
        foreach (var file in generation.Files)
        {
            var path = Path.Combine(layout.Root, file.RelativePath.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(path))
            {
                stale.Add((file.RelativePath, "missing"));
            }
            else if (!string.Equals(File.ReadAllText(path), file.Text, StringComparison.Ordinal))
            {
                stale.Add((file.RelativePath, FirstDifference(File.ReadAllText(path), file.Text)));
            }
        }

        return stale;
    }

    /// <summary>Writes the generated files; returns the paths it changed.</summary>
    public static IReadOnlyList<string> Write(RepositoryLayout layout, MergeGeneration generation)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(generation);
        var changed = new List<string>();
        foreach (var (relative, _) in Stale(layout, generation))
        {
            var file = generation.Files.Single(f => f.RelativePath == relative);
            var path = Path.Combine(layout.Root, relative.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, file.Text);
            changed.Add(relative);
        }

        return changed;
    }

    private static string FirstDifference(string committed, string generated)
    {
        var a = committed.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var b = generated.Split('\n');
        for (var i = 0; i < Math.Max(a.Length, b.Length); i++)
        {
            var left = i < a.Length ? a[i] : "(end of file)";
            var right = i < b.Length ? b[i] : "(end of file)";
            if (!string.Equals(left, right, StringComparison.Ordinal))
            {
                return $"line {i + 1} differs: committed '{Shorten(left)}', generated '{Shorten(right)}'";
            }
        }

        return "line endings differ (the generator writes LF)";
    }

    private static string Shorten(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length <= 80 ? trimmed : trimmed[..77] + "...";
    }
}
