using System.Collections.Concurrent;
using System.Reflection;
using Xunit;
using Xunit.v3;

[assembly: DbMerge.Testing.DeleteScratchDirectories]

namespace DbMerge.Testing;

/// <summary>
/// Temporary folders a test makes (scratch copies of the repository, scripts, dacpacs). Each is registered with the
/// test that made it and deleted when that test ends (<see cref="DeleteScratchDirectoriesAttribute"/>, applied to the
/// whole test assembly); folders made outside a test are deleted when the test process exits. Shared by both test
/// projects (linked source), so no run leaves folders in the system temp directory.
/// </summary>
public static class ScratchDirectory
{
    private const string OutsideAnyTest = "";

    private static readonly ConcurrentDictionary<string, ConcurrentBag<string>> ByTest = new(StringComparer.Ordinal);

    static ScratchDirectory()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var key in ByTest.Keys)
            {
                DeleteFor(key);
            }
        };
    }

    /// <summary>Creates a new empty folder under the system temp directory, deleted when the current test ends.</summary>
    public static string Create(string prefix)
    {
        var path = Directory.CreateTempSubdirectory(prefix).FullName;
        ByTest.GetOrAdd(TestContext.Current.Test?.UniqueID ?? OutsideAnyTest, _ => []).Add(path);
        return path;
    }

    /// <summary>Deletes the folders the test with this unique id made (best effort: a file still open stays).</summary>
    internal static void DeleteFor(string testUniqueId)
    {
        if (!ByTest.TryRemove(testUniqueId, out var paths))
        {
            return;
        }

        foreach (var path in paths)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Still in use (e.g. a process the test started has not exited yet): the OS cleans temp eventually.
            }
        }
    }
}

/// <summary>After each test, deletes the scratch folders it made (see <see cref="ScratchDirectory"/>).</summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class DeleteScratchDirectoriesAttribute : BeforeAfterTestAttribute
{
    public override void After(MethodInfo methodUnderTest, IXunitTest test)
    {
        ArgumentNullException.ThrowIfNull(test);
        ScratchDirectory.DeleteFor(test.UniqueID);
    }
}
