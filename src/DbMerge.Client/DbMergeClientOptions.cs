namespace DbMerge.Client;

/// <summary>Options for <see cref="DbMergeClient"/>. Safe defaults; only the connection string is required.</summary>
public sealed class DbMergeClientOptions
{
    /// <summary>SQL Server connection string. Never logged or echoed by DbMerge.</summary>
    public required string ConnectionString { get; init; }

    /// <summary>Command timeout for ordinary procedure calls. Default 30 seconds.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Command timeout for long operations (merges, batched validation). Default 10 minutes.</summary>
    public TimeSpan LongCommandTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Receives informational messages (severity ≤ 10, e.g. progress raised <c>WITH NOWAIT</c>) from the server.
    /// </summary>
    public Action<string>? InfoMessage { get; init; }
}
