using System.Diagnostics;
using System.Text.RegularExpressions;
using DbMerge.Deployment;
using DbMerge.Schema;
using Xunit;

namespace DbMerge.Tests.Deployment;

/// <summary>scripts/new-migration.sh, run with bash in a scratch copy of the repository.</summary>
public sealed class NewMigrationScriptTests
{
    [Fact]
    public void New_migration_creates_the_next_numbered_file_with_its_header_and_records_its_checksum()
    {
        var scratch = ScratchWithScript();
        var last = scratch.Migrations()[^1].Name;
        var expectedNumber = (int.Parse(last[..4], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);

        var (exitCode, stdout, stderr) = Bash(scratch, "scripts/new-migration.sh", "add app Invitation OrganizationId");

        Assert.True(exitCode == 0, stderr);
        var name = $"{expectedNumber}_add_app_Invitation_OrganizationId.sql";
        var path = Path.Combine(scratch.MigrationsDirectory, name);
        Assert.Equal(path, stdout.Trim());
        var text = File.ReadAllText(path);
        Assert.Contains("Why:", text);
        Assert.Contains("Locks:", text);
        Assert.Contains($"--rehash {name}", text);
        Assert.Matches(@"^\d{4}_[a-z0-9]+(_[A-Za-z0-9]+)+\.sql$", name);
        Assert.Empty(MigrationChecksums.Verify(scratch));
        Assert.Contains(MigrationChecksums.Read(scratch), e => e.FileName == name && e.Checksum == MigrationChecksums.ComputeFile(path));
    }

    [Fact]
    public void Rehash_records_an_edited_unmerged_migration_again()
    {
        var scratch = ScratchWithScript();
        var (_, created, _) = Bash(scratch, "scripts/new-migration.sh", "create app Planted");
        File.AppendAllText(created.Trim(), "CREATE TABLE app.Planted (PlantedId int NOT NULL);\nGO\n");
        Assert.Single(MigrationChecksums.Verify(scratch));

        var (exitCode, _, stderr) = Bash(scratch, "scripts/new-migration.sh", "--rehash", Path.GetFileName(created.Trim()));

        Assert.True(exitCode == 0, stderr);
        Assert.Empty(MigrationChecksums.Verify(scratch));
        Assert.Single(MigrationChecksums.Read(scratch), e => e.FileName == Path.GetFileName(created.Trim()));
    }

    [Fact]
    public void Rehash_refuses_a_migration_that_is_already_on_main()
    {
        var scratch = ScratchWithScript();
        SkipUnlessOnPath("git");
        Git(scratch, "init", "-q", "-b", "main");
        Git(scratch, "add", "-A");
        Git(scratch, "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "base");
        var merged = scratch.Migrations()[0];
        File.AppendAllText(merged.FullPath, "-- edited after merge\n");

        var (exitCode, _, stderr) = Bash(scratch, "scripts/new-migration.sh", "--rehash", merged.Name);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("already on main", stderr);
        Assert.Contains("next migration", stderr);
        Assert.Single(MigrationChecksums.Verify(scratch)); // still reported as changed
    }

    [Fact]
    public void New_migration_without_a_verb_and_object_fails_with_usage()
    {
        var scratch = ScratchWithScript();

        var (exitCode, _, stderr) = Bash(scratch, "scripts/new-migration.sh", "oneword");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("verb and an object", stderr);
        Assert.Empty(MigrationChecksums.Verify(scratch));
    }

    private static RepositoryLayout ScratchWithScript()
    {
        SkipUnlessOnPath("bash");
        SkipUnlessOnPath("sha256sum");
        var scratch = Repo.ScratchCopy();
        Directory.CreateDirectory(Path.Combine(scratch.Root, "scripts"));
        File.Copy(Path.Combine(Repo.Layout.Root, "scripts", "new-migration.sh"), Path.Combine(scratch.Root, "scripts", "new-migration.sh"));
        return scratch;
    }

    private static void SkipUnlessOnPath(string program) =>
        Assert.SkipWhen(
            !(Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, program))),
            $"{program} is not on PATH here; scripts/new-migration.sh is tested where it is.");

    private static (int ExitCode, string Out, string Error) Bash(RepositoryLayout scratch, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = scratch.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }

    private static void Git(RepositoryLayout scratch, params string[] args)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = scratch.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"git {string.Join(' ', args)}: {error}");
    }
}
