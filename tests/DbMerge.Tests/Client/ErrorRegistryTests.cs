using DbMerge.Client.Errors;
using Xunit;

namespace DbMerge.Tests.Client;

public sealed class ErrorRegistryTests
{
    [Fact]
    public void Every_registry_number_is_unique_and_inside_the_DbMerge_block()
    {
        var duplicates = ErrorRegistry.All.GroupBy(e => e.Number).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(duplicates);
        Assert.All(ErrorRegistry.All, e => Assert.InRange(e.Number, ErrorRegistry.FirstNumber, ErrorRegistry.LastNumber));
    }

    [Fact]
    public void Every_registry_entry_has_a_unique_name_a_schema_qualified_procedure_and_a_meaning()
    {
        Assert.Equal(ErrorRegistry.All.Count, ErrorRegistry.All.Select(e => e.Name).Distinct(StringComparer.Ordinal).Count());
        Assert.All(ErrorRegistry.All, e =>
        {
            Assert.Matches("^[A-Z][A-Za-z0-9]+$", e.Name);
            Assert.Matches(@"^[a-z]+\.[A-Za-z_]+$", e.Procedure);
            Assert.False(string.IsNullOrWhiteSpace(e.Meaning), $"{e.Number} has no meaning");
        });
    }

    [Fact]
    public void Registry_is_ordered_by_number_and_lookups_find_each_entry()
    {
        Assert.Equal(ErrorRegistry.All.OrderBy(e => e.Number).Select(e => e.Number), ErrorRegistry.All.Select(e => e.Number));
        foreach (var error in ErrorRegistry.All)
        {
            Assert.True(ErrorRegistry.TryGet(error.Number, out var found));
            Assert.Same(error, found);
        }

        Assert.False(ErrorRegistry.TryGet(50000, out _));
        Assert.Throws<KeyNotFoundException>(() => ErrorRegistry.Get(50000));
    }

    [Theory]
    [InlineData(50999, false)]
    [InlineData(51000, true)]
    [InlineData(51999, true)]
    [InlineData(52000, false)]
    [InlineData(2627, false)]
    public void Only_numbers_from_51000_to_51999_are_DbMerge_errors(int number, bool expected) =>
        Assert.Equal(expected, ErrorRegistry.IsDbMergeNumber(number));
}
