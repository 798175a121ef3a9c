using DbMerge.Schema.Merge;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.UserMerge;

/// <summary>
/// api.MergeRun_Get compares an address read from the journal (JSON_VALUE over dbmerge.MergeChange.BeforeImage, which
/// carries the database's default collation) with app.User.Email (an explicit case-insensitive collation). Two different
/// implicit collations in one comparison are error 468 at compile time — every call of the procedure would fail on a
/// database whose default collation differs (SQL_Latin1_General_CP1_CI_AS, the server default of a new instance, is one).
/// </summary>
public sealed class MergeRunGetCollationTests
{
    [Fact]
    public void The_journal_address_api_MergeRun_Get_compares_with_app_User_Email_carries_the_e_mail_columns_collation()
    {
        var email = MergeGenerator.Generate(Repo.Layout).Plan.UserTable.Column("Email");
        Assert.NotNull(email?.Collation);
        var file = Repo.Layout.DatabaseObjects().Single(f => f.RelativePath.EndsWith("api.MergeRun_Get.sql", StringComparison.Ordinal));
        var fragment = new TSql150Parser(true).Parse(new StringReader(file.Text), out var errors);
        Assert.Empty(errors);

        var collector = new AddressCollector();
        fragment.Accept(collector);

        var address = Assert.Single(collector.Addresses);
        Assert.Contains("JSON_VALUE", file.Text.Substring(address.StartOffset, address.FragmentLength), StringComparison.Ordinal);
        Assert.True(address.Expression is PrimaryExpression { Collation: not null },
            "the Address read from the journal must say COLLATE " + email!.Collation + " (error 468 otherwise)");
        Assert.Equal(email!.Collation, ((PrimaryExpression)address.Expression).Collation.Value, StringComparer.OrdinalIgnoreCase);
    }

    private sealed class AddressCollector : TSqlFragmentVisitor
    {
        public List<SelectScalarExpression> Addresses { get; } = [];

        public override void Visit(SelectScalarExpression node)
        {
            if (node.ColumnName?.Value is "Address")
            {
                Addresses.Add(node);
            }
        }
    }
}
