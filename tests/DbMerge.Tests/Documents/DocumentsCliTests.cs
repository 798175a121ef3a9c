using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Verbs;
using DbMerge.Tests.Invitations;
using Xunit;

namespace DbMerge.Tests.Documents;

public sealed class DocumentsCliTests
{
    private static Task<(int Exit, string Out, string Error)> RunAsync(params string[] args) =>
        InvitationsCliTests.RunAsync(false, args);

    [Fact]
    public async Task Move_with_both_an_actor_and_as_operator_is_a_usage_error()
    {
        var (exit, _, error) = await RunAsync("documents", "move", "--document", "1", "--target", "2", "--position", "left", "--actor", "7", "--as-operator");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("exactly one of --actor and --as-operator", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Move_with_neither_an_actor_nor_as_operator_is_a_usage_error()
    {
        var (exit, _, error) = await RunAsync("documents", "move", "--document", "1", "--target", "2", "--position", "left");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("exactly one of --actor and --as-operator", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sibling")]
    [InlineData("Left")]
    [InlineData("first_child")]
    public async Task Move_with_an_unknown_position_is_a_usage_error(string position)
    {
        var (exit, _, _) = await RunAsync("documents", "move", "--document", "1", "--target", "2", "--position", position, "--actor", "7");
        Assert.Equal(ExitCodes.Usage, exit);
    }

    [Fact]
    public async Task Move_without_the_document_or_the_target_is_a_usage_error()
    {
        var (noDocument, _, _) = await RunAsync("documents", "move", "--target", "2", "--position", "left", "--actor", "7");
        Assert.Equal(ExitCodes.Usage, noDocument);
        var (noTarget, _, _) = await RunAsync("documents", "move", "--document", "1", "--position", "left", "--actor", "7");
        Assert.Equal(ExitCodes.Usage, noTarget);
    }

    [Theory]
    [InlineData("first-child", "--actor", "7")]
    [InlineData("last-child", "--as-operator", null)]
    [InlineData("left", "--actor", "7")]
    [InlineData("right", "--actor", "7")]
    [InlineData("first-sibling", "--as-operator", null)]
    [InlineData("last-sibling", "--actor", "7")]
    public async Task Move_with_valid_arguments_but_no_connection_string_exits_with_the_connection_code(string position, string who, string? value)
    {
        var args = new List<string> { "documents", "move", "--document", "1", "--target", "2", "--position", position, who };
        if (value is not null)
        {
            args.Add(value);
        }

        var (exit, _, error) = await RunAsync([.. args]);
        Assert.Equal(ExitCodes.ConnectionFailed, exit);
        Assert.Contains("DBMERGE_CONNECTION", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tree_requires_a_numeric_document_id()
    {
        var (missing, _, _) = await RunAsync("documents", "tree");
        Assert.Equal(ExitCodes.Usage, missing);
        var (notNumeric, _, _) = await RunAsync("documents", "tree", "abc");
        Assert.Equal(ExitCodes.Usage, notNumeric);
        var (complete, _, _) = await RunAsync("documents", "tree", "5");
        Assert.Equal(ExitCodes.ConnectionFailed, complete);
    }

    [Fact]
    public void A_tree_line_is_indented_by_relative_depth_and_lists_the_direct_accesses()
    {
        var node = new DocumentTreeNode(12, 10, "00000010000001", 2, 1, "Minutes",
            """[{"userId":42,"team":null,"role":"owner"},{"userId":null,"team":"ops","role":"editor"}]""");
        Assert.Equal("  Minutes #12 [00000010000001]  accesses: user 42 owner, team ops editor", DocumentsVerbs.FormatNode(node));
        Assert.Equal("Root #1 [0000001]", DocumentsVerbs.FormatNode(new DocumentTreeNode(1, null, "0000001", 1, 0, "Root", "[]")));
    }

    [Fact]
    public void The_positions_are_exactly_the_six_treebeard_positions()
    {
        Assert.Equal(["first-child", "last-child", "left", "right", "first-sibling", "last-sibling"], DocumentMovePositions.All);
        Assert.False(DocumentMovePositions.IsValid("LEFT"));
        Assert.False(DocumentMovePositions.IsValid(null));
    }
}

public sealed class BenchMoveVerbTests
{
    private static CliContext Context() => new(new StringWriter(), new StringWriter(), false, readLine: () => "n", environment: _ => null);

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("many")]
    [InlineData("1000001")]
    public void Bench_move_refuses_a_tree_count_outside_1_to_1000000(string trees)
    {
        var command = BenchMoveVerb.Build(Context());
        Assert.NotEmpty(command.Parse(["--trees", trees]).Errors);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1000,x")]
    [InlineData("10000001")]
    [InlineData("1000;10000")]
    [InlineData("")]
    public void Bench_move_refuses_sizes_that_are_not_a_list_of_1_to_10000000(string sizes)
    {
        var command = BenchMoveVerb.Build(Context());
        Assert.NotEmpty(command.Parse(["--sizes", sizes]).Errors);
    }

    [Fact]
    public void Bench_move_defaults_to_10000_trees_and_subtrees_of_1000_10000_and_100000()
    {
        var command = BenchMoveVerb.Build(Context());
        var parse = command.Parse([]);
        Assert.Empty(parse.Errors);
        Assert.Equal(10_000, BenchMoveVerb.DefaultTrees);
        Assert.Equal([1_000, 10_000, 100_000], BenchMoveVerb.ParseSizes(BenchMoveVerb.DefaultSizes));
        Assert.Empty(command.Parse(["--trees", "20000", "--sizes", "100000,1000", "--json"]).Errors);
    }

    [Fact]
    public void Bench_move_sizes_are_read_ascending_and_distinct()
    {
        Assert.Equal([1_000, 100_000], BenchMoveVerb.ParseSizes("100000, 1000,1000"));
        Assert.Null(BenchMoveVerb.ParseSizes(" "));
    }
}
