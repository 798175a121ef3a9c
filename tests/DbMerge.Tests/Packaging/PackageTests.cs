using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Xunit;

namespace DbMerge.Tests.Packaging;

/// <summary>
/// <c>dotnet pack</c> makes the two packages README "Set-up" installs: DbMerge.Tool (a .NET tool whose command is
/// <c>dbmerge</c>, carrying the release's migrations/, database/ and README) and DbMerge.Client (a library with its own
/// README and no dependency on DbMerge's other libraries). Packs the projects already built for this test run
/// (<c>--no-build</c>, the test's own configuration) into a scratch folder and reads the packages.
/// </summary>
public sealed class PackageTests(PackageTests.PackedPackages packed) : IClassFixture<PackageTests.PackedPackages>
{
    /// <summary>The two packages, packed once for the class into a folder deleted when the class ends.</summary>
    public sealed class PackedPackages : IAsyncLifetime
    {
        public string Folder { get; } = Directory.CreateTempSubdirectory("dbmerge-pack-").FullName;

        public ValueTask InitializeAsync() => new(PackAsync(Folder));

        public ValueTask DisposeAsync()
        {
            Directory.Delete(Folder, recursive: true);
            return ValueTask.CompletedTask;
        }
    }

    private static string Configuration =>
        new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // …/bin/<Configuration>/net10.0

    private static async Task PackAsync(string output)
    {
        foreach (var project in new[] { "src/DbMerge.Runner/DbMerge.Runner.csproj", "src/DbMerge.Client/DbMerge.Client.csproj" })
        {
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = Repo.Layout.Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1", ["MSBUILDDISABLENODEREUSE"] = "1" },
            };
            foreach (var argument in new[] { "pack", project, "-c", Configuration, "--no-build", "--no-restore", "-o", output, "-p:VersionSuffix=packtest" })
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"dotnet pack {project} exited {process.ExitCode}:\n{await stdout}\n{await stderr}");
            }
        }
    }

    private ZipArchive Package(string id) => ZipFile.OpenRead(Assert.Single(Directory.GetFiles(packed.Folder, $"{id}.*.nupkg")));

    private static XDocument Nuspec(ZipArchive package)
    {
        var entry = Assert.Single(package.Entries, e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }

    [Fact]
    public void Pack_makes_exactly_the_tool_and_the_client_package()
    {
        var names = Directory.GetFiles(packed.Folder, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();

        Assert.Equal(["DbMerge.Client.0.1.0-packtest.nupkg", "DbMerge.Tool.0.1.0-packtest.nupkg"], names);
    }

    [Fact]
    public void The_tool_package_is_a_dotnet_tool_whose_command_is_dbmerge()
    {
        using var tool = Package("DbMerge.Tool");

        var settings = Assert.Single(tool.Entries, e => e.FullName == "tools/net10.0/any/DotnetToolSettings.xml");
        using (var stream = settings.Open())
        {
            var command = XDocument.Load(stream).Descendants("Command").Single();
            Assert.Equal("dbmerge", command.Attribute("Name")!.Value);
            Assert.Equal("dbmerge.dll", command.Attribute("EntryPoint")!.Value);
        }

        Assert.Contains(Nuspec(tool).Descendants().Where(e => e.Name.LocalName == "packageType"), p => p.Attribute("name")?.Value == "DotnetTool");
        Assert.Contains(tool.Entries, e => e.FullName == "tools/net10.0/any/DbMerge.Scenarios.dll");
        Assert.Contains(tool.Entries, e => e.FullName == "README.md");
    }

    [Fact]
    public void The_tool_package_carries_every_migration_database_script_and_the_README_of_the_release()
    {
        using var tool = Package("DbMerge.Tool");
        var entries = tool.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        var expected = Repo.Layout.Migrations().Concat(Repo.Layout.DatabaseObjects())
            .Select(f => f.RelativePath)
            .Append("migrations/checksums.txt")
            .Append("README.md")
            .Select(p => "tools/net10.0/any/release/" + p)
            .ToList();
        Assert.Contains("tools/net10.0/any/release/migrations/0001_create_schemas_and_roles.sql", expected);

        var missing = expected.Where(p => !entries.Contains(p)).ToList();

        Assert.True(missing.Count == 0, "the tool package lacks: " + string.Join(", ", missing));
        var packedScripts = entries.Count(e => e.StartsWith("tools/net10.0/any/release/", StringComparison.Ordinal) && e.EndsWith(".sql", StringComparison.Ordinal));
        Assert.Equal(expected.Count(p => p.EndsWith(".sql", StringComparison.Ordinal)), packedScripts);
    }

    [Fact]
    public void The_client_package_is_a_library_with_its_README_and_docs_and_no_dependency_on_DbMerges_other_libraries()
    {
        using var client = Package("DbMerge.Client");
        var entries = client.Entries.Select(e => e.FullName).ToList();

        Assert.Contains("lib/net10.0/DbMerge.Client.dll", entries);
        Assert.Contains("lib/net10.0/DbMerge.Client.xml", entries);
        Assert.Contains("README.md", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("tools/", StringComparison.Ordinal));
        var dependencies = Nuspec(client).Descendants().Where(e => e.Name.LocalName == "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Contains("Microsoft.Data.SqlClient", dependencies);
        Assert.DoesNotContain(dependencies, d => d.StartsWith("DbMerge", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("README.md", Nuspec(client).Descendants().Single(e => e.Name.LocalName == "readme").Value);
    }
}
