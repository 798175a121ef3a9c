using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using DbMerge.Deployment;
using DbUp.Engine;
using DbUp.Engine.Output;
using DbUp.Engine.Sorters;
using DbUp.Support;
using Xunit;

namespace DbMerge.Tests.Deployment;

public sealed class ChecksumJournalTests
{
    [Fact]
    public void A_migration_is_journaled_with_its_checksum_and_a_database_script_is_not_journaled()
    {
        var commands = new List<RecordingCommand>();
        var journal = new ChecksumJournal(() => null!, () => new CallbackUpgradeLog(null),
            new Dictionary<string, string> { ["0001_a.sql"] = new string('a', 64) });

        journal.StoreExecutedScript(new SqlScript("database/api/Procedures/api.P.sql", "SELECT 1;", new SqlScriptOptions { ScriptType = ScriptType.RunAlways }), () => Record(commands));
        Assert.Empty(commands);

        journal.StoreExecutedScript(new SqlScript("0001_a.sql", "SELECT 1;", new SqlScriptOptions { ScriptType = ScriptType.RunOnce }), () => Record(commands));

        Assert.Equal([DeploymentJournal.EnsureSql, DeploymentJournal.InsertSql], commands.Select(c => c.CommandText));
        var insert = commands[1];
        Assert.Equal("0001_a.sql", insert.Parameters["@ScriptName"].Value);
        Assert.Equal(new string('a', 64), insert.Parameters["@Checksum"].Value);
    }

    [Fact]
    public void The_journal_table_is_ensured_once_per_run()
    {
        var commands = new List<RecordingCommand>();
        var journal = new ChecksumJournal(() => null!, () => new CallbackUpgradeLog(null),
            new Dictionary<string, string> { ["0001_a.sql"] = new string('a', 64), ["0002_b.sql"] = new string('b', 64) });

        journal.StoreExecutedScript(new SqlScript("0001_a.sql", "SELECT 1;"), () => Record(commands));
        journal.StoreExecutedScript(new SqlScript("0002_b.sql", "SELECT 1;"), () => Record(commands));

        Assert.Equal(1, commands.Count(c => c.CommandText == DeploymentJournal.EnsureSql));
        Assert.Equal(2, commands.Count(c => c.CommandText == DeploymentJournal.InsertSql));
    }

    [Fact]
    public void DbUp_orders_migrations_by_name_then_database_scripts_in_dependency_order()
    {
        var scratch = Repo.ScratchCopy();
        foreach (var (folder, name) in new[] { ("database/api/Procedures", "api.P.sql"), ("database/api/Functions", "api.F.sql"), ("database/api/Views", "api.V.sql"), ("database/api/Types", "api.T.sql") })
        {
            Directory.CreateDirectory(Path.Combine(scratch.Root, folder));
            File.WriteAllText(Path.Combine(scratch.Root, folder, name), "SELECT 1;");
        }

        var scripts = Migrator.BuildScripts(scratch.Migrations(), scratch.DatabaseObjects());
        var shuffled = scripts.AsEnumerable().Reverse();

        var sorted = new DefaultScriptSorter().Sort(shuffled, new ScriptNameComparer(StringComparer.Ordinal)).Select(s => s.Name).ToList();

        Assert.Equal([.. scratch.Migrations().Select(m => m.Name), .. scratch.DatabaseObjects().Select(o => o.RelativePath)], sorted);
        // Each script starts with its own lock timeout: reset for a migration, the object lock timeout for database/.
        Assert.All(scripts.Where(s => s.SqlScriptOptions.ScriptType == DbUp.Support.ScriptType.RunOnce), s => Assert.StartsWith("SET LOCK_TIMEOUT -1;\nGO\n", s.Contents));
        Assert.All(scripts.Where(s => s.SqlScriptOptions.ScriptType == DbUp.Support.ScriptType.RunAlways),
            s => Assert.StartsWith($"SET LOCK_TIMEOUT {DeploymentJournal.DatabaseObjectLockTimeoutMilliseconds};\nGO\n", s.Contents));
    }

    private static RecordingCommand Record(List<RecordingCommand> commands)
    {
        var command = new RecordingCommand();
        commands.Add(command);
        return command;
    }

    /// <summary>A DbCommand that records its text and parameters instead of running.</summary>
    private sealed class RecordingCommand : DbCommand
    {
        private readonly RecordingParameters _parameters = new();

        [AllowNull]
        public override string CommandText { get; set; } = string.Empty;

        public override int CommandTimeout { get; set; }

        public override CommandType CommandType { get; set; }

        public override bool DesignTimeVisible { get; set; }

        public override UpdateRowSource UpdatedRowSource { get; set; }

        protected override DbConnection? DbConnection { get; set; }

        protected override DbParameterCollection DbParameterCollection => _parameters;

        protected override DbTransaction? DbTransaction { get; set; }

        public override void Cancel()
        {
        }

        public override int ExecuteNonQuery() => 1;

        public override object? ExecuteScalar() => null;

        public override void Prepare()
        {
        }

        protected override DbParameter CreateDbParameter() => new RecordingParameter();

        protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior) => throw new NotSupportedException();
    }

    private sealed class RecordingParameter : DbParameter
    {
        public override DbType DbType { get; set; }

        public override ParameterDirection Direction { get; set; }

        public override bool IsNullable { get; set; }

        [AllowNull]
        public override string ParameterName { get; set; } = string.Empty;

        public override int Size { get; set; }

        [AllowNull]
        public override string SourceColumn { get; set; } = string.Empty;

        public override bool SourceColumnNullMapping { get; set; }

        public override object? Value { get; set; }

        public override void ResetDbType()
        {
        }
    }

    private sealed class RecordingParameters : DbParameterCollection
    {
        private readonly List<DbParameter> _items = [];

        public override int Count => _items.Count;

        public override object SyncRoot => _items;

        public override int Add(object value)
        {
            _items.Add((DbParameter)value);
            return _items.Count - 1;
        }

        public override void AddRange(Array values)
        {
            foreach (var value in values)
            {
                Add(value!);
            }
        }

        public override void Clear() => _items.Clear();

        public override bool Contains(object value) => _items.Contains((DbParameter)value);

        public override bool Contains(string value) => IndexOf(value) >= 0;

        public override void CopyTo(Array array, int index) => ((System.Collections.ICollection)_items).CopyTo(array, index);

        public override System.Collections.IEnumerator GetEnumerator() => _items.GetEnumerator();

        public override int IndexOf(object value) => _items.IndexOf((DbParameter)value);

        public override int IndexOf(string parameterName) => _items.FindIndex(p => p.ParameterName == parameterName);

        public override void Insert(int index, object value) => _items.Insert(index, (DbParameter)value);

        public override void Remove(object value) => _items.Remove((DbParameter)value);

        public override void RemoveAt(int index) => _items.RemoveAt(index);

        public override void RemoveAt(string parameterName) => _items.RemoveAt(IndexOf(parameterName));

        protected override DbParameter GetParameter(int index) => _items[index];

        protected override DbParameter GetParameter(string parameterName) => _items[IndexOf(parameterName)];

        protected override void SetParameter(int index, DbParameter value) => _items[index] = value;

        protected override void SetParameter(string parameterName, DbParameter value) => _items[IndexOf(parameterName)] = value;
    }
}
