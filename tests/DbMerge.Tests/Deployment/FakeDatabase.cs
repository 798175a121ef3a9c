using System.Data;
using System.Data.Common;
using DbUp.Engine.Transactions;
using DbUp.SqlServer;
using Microsoft.Data.SqlClient;

namespace DbMerge.Tests.Deployment;

/// <summary>
/// A stand-in ADO.NET database for running DbUp's real engine offline: it records every command text it is sent (with
/// the transaction state) and lets a test react to a command (cancel, throw). Queries return nothing: the journal
/// looks empty, so every script runs.
/// </summary>
internal sealed class FakeDatabase
{
    private readonly List<string> _executed = [];

    /// <summary>Called with each command's text before it "runs"; may throw to make the command fail.</summary>
    public Action<string>? OnExecute { get; init; }

    /// <summary>Every command text sent, in order.</summary>
    public IReadOnlyList<string> Executed
    {
        get
        {
            lock (_executed)
            {
                return [.. _executed];
            }
        }
    }

    /// <summary>A DbUp connection manager for SQL Server (its real GO splitter) whose connections are this fake.</summary>
    public IConnectionManager Manager()
    {
        var manager = new SqlConnectionManager("Server=fake;Database=fake");
        manager.OverrideFactoryForTest(new DelegateConnectionFactory(_ => new Connection(this)));
        return manager;
    }

    private void Record(string text)
    {
        lock (_executed)
        {
            _executed.Add(text);
        }

        OnExecute?.Invoke(text);
    }

    private sealed class Connection(FakeDatabase database) : DbConnection
    {
        private ConnectionState _state = ConnectionState.Closed;

        [System.Diagnostics.CodeAnalysis.AllowNull]
        public override string ConnectionString { get; set; } = "Server=fake;Database=fake";

        public override string Database => "fake";

        public override string DataSource => "fake";

        public override string ServerVersion => "16.0";

        public override ConnectionState State => _state;

        public override void ChangeDatabase(string databaseName) { }

        public override void Close() => _state = ConnectionState.Closed;

        public override void Open() => _state = ConnectionState.Open;

        protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => new Transaction(this);

        protected override DbCommand CreateDbCommand() => new Command(database) { Connection = this };
    }

    private sealed class Transaction(DbConnection connection) : DbTransaction
    {
        public override IsolationLevel IsolationLevel => IsolationLevel.ReadCommitted;

        protected override DbConnection DbConnection => connection;

        public override void Commit() { }

        public override void Rollback() { }
    }

    private sealed class Command(FakeDatabase database) : DbCommand
    {
        private readonly SqlCommand _parameters = new();

        [System.Diagnostics.CodeAnalysis.AllowNull]
        public override string CommandText { get; set; } = string.Empty;

        public override int CommandTimeout { get; set; }

        public override CommandType CommandType { get; set; }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection { get; set; }

        protected override DbParameterCollection DbParameterCollection => _parameters.Parameters;

        protected override DbTransaction? DbTransaction { get; set; }

        public override void Cancel() { }

        public override int ExecuteNonQuery()
        {
            database.Record(CommandText);
            return 0;
        }

        public override object? ExecuteScalar()
        {
            database.Record(CommandText);
            return null;
        }

        public override void Prepare() { }

        protected override DbParameter CreateDbParameter() => new SqlParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
        {
            database.Record(CommandText);
            return new DataTable().CreateDataReader();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _parameters.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
