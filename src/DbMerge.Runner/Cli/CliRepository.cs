using DbMerge.Schema;

namespace DbMerge.Runner.Cli;

/// <summary>
/// Which migrations/ and database/ a verb uses (README "Which repository a verb uses"): <c>--repo DIR</c>, else the
/// checkout found by walking up from the current directory, else the release packaged with the dbmerge tool, which the
/// verb then names on stderr (so nobody deploys the packaged release believing it is their checkout).
/// </summary>
public static class CliRepository
{
    public static RepositoryLayout Resolve(CliContext context, string? repo)
    {
        ArgumentNullException.ThrowIfNull(context);
        RepositoryLayout layout;
        try
        {
            layout = string.IsNullOrWhiteSpace(repo) ? RepositoryLayout.Discover() : new RepositoryLayout(repo);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new CliException(ExitCodes.Usage, ex.Message);
        }

        if (layout.IsPackagedRelease)
        {
            context.Error.WriteLine($"dbmerge: no DbMerge repository above {Directory.GetCurrentDirectory()}: using {layout.Describe()}. " +
                                    "Run inside a checkout, or pass --repo, to use another.");
        }

        return layout;
    }
}
