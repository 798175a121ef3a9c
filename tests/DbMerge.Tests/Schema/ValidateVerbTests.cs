using Xunit;
using System.Text.Json;
using DbMerge.Tests.Runner;

namespace DbMerge.Tests.Schema;

/// <summary><c>dbmerge validate</c>: offline, exit 0 when clean, exit 1 with every finding as file:line otherwise.</summary>
public sealed class ValidateVerbTests
{
    [Fact]
    public async Task Validate_exits_0_on_the_repository()
    {
        var result = await CliHarness.RunAsync(["validate", "--repo", Repo.Layout.Root]);

        Assert.True(result.ExitCode == 0, result.Out + result.Error);
        Assert.Contains("0 error(s)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_exits_1_and_prints_the_file_and_line_of_a_planted_mistake()
    {
        var copy = Repo.ScratchCopy();
        const string file = "database/api/Procedures/api.User_Find.sql";
        Plant.Replace(copy, file, "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");
        var line = Plant.LineOf(copy, file, "u.DisplayNmae");

        var result = await CliHarness.RunAsync(["validate", "--repo", copy.Root]);

        Assert.Equal(1, result.ExitCode);
        Assert.Matches($@"(?m)^{System.Text.RegularExpressions.Regex.Escape($"{file}:{line}: error ")}SQL7150[12]: .*DisplayNmae", result.Out);
    }

    [Fact]
    public async Task Validate_json_lists_the_findings_for_machines()
    {
        var copy = Repo.ScratchCopy();
        const string file = "database/api/Procedures/api.User_Find.sql";
        Plant.Replace(copy, file, "u.Email, u.DisplayName, u.IsActive", "u.Email, u.DisplayNmae, u.IsActive");

        var result = await CliHarness.RunAsync(["validate", "--json", "--repo", copy.Root]);

        Assert.Equal(1, result.ExitCode);
        using var json = JsonDocument.Parse(result.Out);
        var findings = json.RootElement.GetProperty("findings").EnumerateArray().ToList();
        Assert.Contains(findings, f => f.GetProperty("file").GetString() == file && f.GetProperty("rule").GetString() is "SQL71501" or "SQL71502" &&
                                       f.GetProperty("line").GetInt32() == Plant.LineOf(copy, file, "u.DisplayNmae"));
        Assert.True(json.RootElement.GetProperty("errors").GetInt32() >= 1);
    }

    [Fact]
    public async Task Validate_of_a_folder_that_is_not_a_repository_is_a_usage_error()
    {
        var empty = ScratchDirectory.Create("dbmerge-empty-");

        var result = await CliHarness.RunAsync(["validate", "--repo", empty]);

        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
