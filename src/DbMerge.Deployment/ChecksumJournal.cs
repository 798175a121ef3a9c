using System.Data;
using DbUp.Engine;
using DbUp.Engine.Output;
using DbUp.Engine.Transactions;
using DbUp.SqlServer;
using DbUp.Support;

namespace DbMerge.Deployment;

/// <summary>
/// DbUp's SQL table journal (<c>dbo.SchemaVersions</c>) with DbMerge's checksum column: RunOnce scripts
/// are recorded with the SHA-256 of their file, inside the script's own transaction; RunAlways scripts
/// (<c>database/</c>) are not journaled. Same table and rows as the deploy script (<see cref="DeploymentJournal"/>).
/// </summary>
internal sealed class ChecksumJournal : SqlTableJournal
{
    private readonly IReadOnlyDictionary<string, string> _checksums;
    private bool _ensured;

    public ChecksumJournal(Func<IConnectionManager> connectionManager, Func<IUpgradeLog> logger,
        IReadOnlyDictionary<string, string> checksums)
        : base(connectionManager, logger, DeploymentJournal.Schema, DeploymentJournal.Table)
    {
        _checksums = checksums;
    }

    public override void EnsureTableExistsAndIsLatestVersion(Func<IDbCommand> dbCommandFactory)
    {
        if (_ensured)
        {
            return;
        }

        using (var command = dbCommandFactory())
        {
            command.CommandText = DeploymentJournal.EnsureSql;
            command.CommandType = CommandType.Text;
            command.ExecuteNonQuery();
        }

        _ensured = true;
    }

    public override void StoreExecutedScript(SqlScript script, Func<IDbCommand> dbCommandFactory)
    {
        if (script.SqlScriptOptions.ScriptType == ScriptType.RunAlways)
        {
            return;
        }

        if (!_checksums.TryGetValue(script.Name, out var checksum))
        {
            throw new InvalidOperationException($"No checksum was computed for migration {script.Name}.");
        }

        EnsureTableExistsAndIsLatestVersion(dbCommandFactory);
        using var command = dbCommandFactory();
        command.CommandText = DeploymentJournal.InsertSql;
        command.CommandType = CommandType.Text;
        AddParameter(command, "@ScriptName", script.Name);
        AddParameter(command, "@Checksum", checksum);
        command.ExecuteNonQuery();
    }

    protected override string CreateSchemaTableSql(string quotedPrimaryKeyName) => DeploymentJournal.EnsureSql;

    private static void AddParameter(IDbCommand command, string name, string value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = DbType.String;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}

/// <summary>
/// Forwards DbUp's own log lines (verbose detail) to a callback, and tells <paramref name="scriptStarting"/> the name of
/// each script DbUp is about to execute (its "Executing Database Server script '…'" line).
/// </summary>
internal sealed class CallbackUpgradeLog(Action<string>? sink, Action<string>? scriptStarting = null) : IUpgradeLog
{
    private const string ExecutingPrefix = "Executing Database Server script";

    public void LogTrace(string format, params object[] args) { }

    public void LogDebug(string format, params object[] args) { }

    public void LogInformation(string format, params object[] args)
    {
        if (scriptStarting is not null && format.StartsWith(ExecutingPrefix, StringComparison.Ordinal) && args is [string name, ..])
        {
            scriptStarting(name);
        }

        Write("", format, args);
    }

    public void LogWarning(string format, params object[] args) => Write("warning: ", format, args);

    public void LogError(string format, params object[] args) => Write("error: ", format, args);

    public void LogError(Exception ex, string format, params object[] args) => Write("error: ", format, args);

    private void Write(string prefix, string format, object[] args)
    {
        if (sink is null)
        {
            return;
        }

        var text = args is { Length: > 0 }
            ? string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args)
            : format;
        sink("[dbup] " + prefix + text.Split('\n', 2)[0].TrimEnd('\r'));
    }
}
