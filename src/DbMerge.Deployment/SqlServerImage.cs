namespace DbMerge.Deployment;

/// <summary>The SQL Server container image DbMerge pins for local servers (demo, benchmarks, integration tests).</summary>
public static class SqlServerImage
{
    /// <summary>SQL Server 2022 Developer, pinned to one cumulative update so results are reproducible.</summary>
    public const string Pinned = "mcr.microsoft.com/mssql/server:2022-CU14-ubuntu-22.04";
}
