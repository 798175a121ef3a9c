using System.Globalization;

namespace DbMerge.Scenarios;

/// <summary>The one row a scenario procedure returns (its last result set): the ids of what it seeded.</summary>
public sealed class ScenarioRow
{
    private readonly IReadOnlyDictionary<string, object?> _values;

    public ScenarioRow(string scenario, IReadOnlyDictionary<string, object?> values)
    {
        Scenario = scenario;
        _values = values;
    }

    /// <summary>The scenario that returned the row (<c>scenario.DemoMerge</c>).</summary>
    public string Scenario { get; }

    /// <summary>Column names as the procedure returned them.</summary>
    public IEnumerable<string> Columns => _values.Keys;

    /// <summary>The column's value converted to <typeparamref name="T"/>.</summary>
    /// <exception cref="KeyNotFoundException">The scenario returned no such column (the message lists the columns).</exception>
    public T Get<T>(string column)
    {
        if (!_values.TryGetValue(column, out var value))
        {
            throw new KeyNotFoundException($"{Scenario} returned no column '{column}' (it returned: {string.Join(", ", _values.Keys)}).");
        }

        if (value is null)
        {
            return default!;
        }

        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
    }
}
