using DbMerge.Deployment;
using Xunit;

namespace DbMerge.Tests.Deployment;

public sealed class ReferenceDataTests
{
    [Fact]
    public void Reference_data_is_every_table_a_migration_inserts_into()
    {
        var tables = ReferenceData.Tables(Repo.Layout);

        Assert.Contains(("app", "DocumentRole"), tables);
        Assert.Contains(("app", "OrganizationRole"), tables);
        Assert.Contains(("app", "ChannelRole"), tables);
        Assert.DoesNotContain(("app", "User"), tables);
    }

    [Fact]
    public void A_new_seeded_table_is_picked_up_without_being_listed()
    {
        var scratch = Repo.ScratchCopy();
        File.WriteAllText(Path.Combine(scratch.MigrationsDirectory, "9993_create_app_Planted.sql"),
            "CREATE TABLE app.Planted (Code varchar(10) NOT NULL);\nGO\nINSERT INTO app.[Planted] (Code) VALUES ('a');\nGO\n");

        Assert.Contains(("app", "Planted"), ReferenceData.Tables(scratch));
    }
}
