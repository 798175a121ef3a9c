using System.Diagnostics;
using DbMerge.Deployment;
using Xunit;

namespace DbMerge.Tests.Deployment;

public sealed class MigrationChecksumsTests
{
    [Fact]
    public void Every_migration_is_listed_in_checksums_txt_with_its_current_content()
    {
        var problems = MigrationChecksums.Verify(Repo.Layout);

        Assert.True(problems.Count == 0,
            "migrations/checksums.txt does not match migrations/:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void A_changed_listed_migration_is_reported_with_what_to_do()
    {
        var scratch = Repo.ScratchCopy();
        var file = scratch.Migrations()[1];
        File.AppendAllText(file.FullPath, "-- edited after merge\n");

        var problems = MigrationChecksums.Verify(scratch);

        var problem = Assert.Single(problems);
        Assert.Contains(file.Name, problem);
        Assert.Contains("changed", problem);
        Assert.Contains("append-only", problem);
        Assert.Contains("next migration", problem);
    }

    [Fact]
    public void A_migration_missing_from_the_list_is_reported()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9990_create_app_Planted.sql"), "CREATE TABLE app.Planted (Id int NOT NULL);\n");

        var problems = MigrationChecksums.Verify(scratch);

        var problem = Assert.Single(problems);
        Assert.Contains("9990_create_app_Planted.sql is not listed", problem);
        Assert.Contains("new-migration.sh", problem);
    }

    [Fact]
    public void A_listed_migration_whose_file_is_missing_is_reported()
    {
        var scratch = Repo.ScratchCopy();
        var file = scratch.Migrations()[^1];
        File.Delete(file.FullPath);

        var problems = MigrationChecksums.Verify(scratch);

        var problem = Assert.Single(problems);
        Assert.Contains(file.Name, problem);
        Assert.Contains("missing", problem);
        Assert.Contains("append-only", problem);
    }

    [Fact]
    public void A_malformed_line_is_reported_with_its_line_number()
    {
        var scratch = Repo.ScratchCopy();
        File.AppendAllText(scratch.ChecksumsFile, "not-a-hash  0001_create_schemas_and_roles.sql\n");

        var problem = Assert.Single(MigrationChecksums.Verify(scratch));

        Assert.Contains("line", problem);
        Assert.Contains("not-a-hash", problem);
    }

    [Fact]
    public void Checksums_are_sha256_of_the_raw_bytes_in_lowercase_hex()
    {
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-sha-"), "x.sql");
        File.WriteAllBytes(path, "abc"u8.ToArray());

        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", MigrationChecksums.ComputeFile(path));
    }

    [Fact]
    public void Checksums_agree_with_sha256sum_which_the_bash_scripts_use()
    {
        if (!File.Exists("/usr/bin/sha256sum") && !File.Exists("/bin/sha256sum"))
        {
            Assert.Skip("sha256sum is not installed here; the raw-bytes test above pins the algorithm.");
        }

        foreach (var migration in Repo.Layout.Migrations())
        {
            var start = new ProcessStartInfo("sha256sum", [migration.FullPath]) { RedirectStandardOutput = true };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();

            Assert.Equal(output.Split(' ')[0], MigrationChecksums.ComputeFile(migration.FullPath));
        }
    }
}
