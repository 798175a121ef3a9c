using System.CommandLine;
using DbMerge.Client;
using Microsoft.Data.SqlClient;

namespace DbMerge.Runner.Cli;

/// <summary>Options shared by many verbs. Each call returns a new instance to add to one command.</summary>
public static class CommonOptions
{
    public const string ConnectionEnvironmentVariable = "DBMERGE_CONNECTION";

    public static Option<string?> Connection() => new("--connection", "-c")
    {
        Description = $"SQL Server connection string. Defaults to the {ConnectionEnvironmentVariable} environment variable. Never echoed.",
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Write machine-readable JSON to stdout instead of text.",
    };

    public static Option<bool> Yes() => new("--yes", "-y")
    {
        Description = "Do not ask for confirmation.",
    };

    public static Option<bool> Verbose() => new(VerboseName, "-v")
    {
        Description = "Print server messages and timings to stderr.",
    };

    /// <summary>The name of the verbose option every verb has (added by <see cref="DbMergeCli.Build"/> where a verb lacks it).</summary>
    public const string VerboseName = "--verbose";

    /// <summary>A client for <paramref name="connectionString"/> that forwards server messages to stderr under <c>-v</c>.</summary>
    public static DbMergeClient Client(CliContext context, string connectionString, TimeSpan? longCommandTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = new DbMergeClientOptions { ConnectionString = connectionString, InfoMessage = context.ServerMessages };
        return new DbMergeClient(longCommandTimeout is { } timeout
            ? new DbMergeClientOptions { ConnectionString = connectionString, InfoMessage = context.ServerMessages, LongCommandTimeout = timeout }
            : options);
    }

    /// <summary>
    /// The connection string from <c>--connection</c> or <c>DBMERGE_CONNECTION</c>; a <see cref="CliException"/>
    /// with <see cref="ExitCodes.ConnectionFailed"/> when neither is set or it does not parse.
    /// </summary>
    public static string ResolveConnection(CliContext context, string? fromOption)
    {
        var value = string.IsNullOrWhiteSpace(fromOption)
            ? context.Environment(ConnectionEnvironmentVariable)
            : fromOption;
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new CliException(ExitCodes.ConnectionFailed,
                $"No SQL Server connection: pass --connection \"Server=…;Database=…;…\" or set {ConnectionEnvironmentVariable}.");
        }

        try
        {
            _ = new SqlConnectionStringBuilder(value);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            // The exception text can quote the string; say only what is wrong.
            throw new CliException(ExitCodes.ConnectionFailed,
                "The connection string does not parse as a SQL Server connection string (check its keywords and quoting).");
        }

        return value;
    }

    /// <summary>Server and database names from a connection string, safe to print (no credentials).</summary>
    public static string DescribeTarget(string connectionString)
    {
        var builder = new SqlConnectionStringBuilder(connectionString);
        var database = string.IsNullOrEmpty(builder.InitialCatalog) ? "(default database)" : builder.InitialCatalog;
        return $"{builder.DataSource}/{database}";
    }
}
