using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit;

namespace DbMerge.Tests.Invitations;

/// <summary>
/// README "Lock order", L2: a procedure that writes rows addressed to a user locks that user's app.User row before any
/// data table. api.Invitation_Create and api.Invitation_Revoke write invitations addressed to an e-mail: they lock the
/// rows of the accounts holding it (with the sender's / actor's, ascending) before their first invitation lock, so a
/// merge re-addressing that address's invitations and a create or revoke by a third user serialize on the user row
/// instead of locking the invitations' rows and index entries in opposite orders (review 9: possible deadlocks).
/// </summary>
public sealed class InvitationLockOrderTests
{
    [Theory]
    [InlineData("api.Invitation_Create", "@Email")]
    [InlineData("api.Invitation_Revoke", "@AddressRead")]
    public void A_create_or_revoke_locks_the_user_rows_of_the_addresss_accounts_before_its_first_invitation_lock(string procedure, string address)
    {
        var file = Repo.Layout.DatabaseObjects().Single(f => f.RelativePath.EndsWith($"{procedure}.sql", StringComparison.Ordinal));
        var fragment = new TSql150Parser(true).Parse(new StringReader(file.Text), out var errors);
        Assert.Empty(errors);
        var tables = new TableCollector();
        fragment.Accept(tables);

        // The accounts of the address are collected: SELECT u.UserId FROM app.[User] AS u WHERE u.Email = <address>
        var accounts = new InsertCollector();
        fragment.Accept(accounts);
        var collect = Assert.Single(accounts.Inserts, i => i.InsertSpecification.Target is VariableTableReference { Variable.Name: "@LockUser" });
        var collectText = file.Text.Substring(collect.StartOffset, collect.FragmentLength);
        Assert.Contains($"FROM app.[User] AS u WHERE u.Email = {address}", collectText, StringComparison.Ordinal);

        // and locked (UPDLOCK, HOLDLOCK) through @LockUser, ascending, before any invitation is locked
        var userLock = tables.Locked.First(t => t.Name == "User");
        var invitationLock = tables.Locked.First(t => t.Name == "Invitation");
        Assert.True(userLock.Offset > collect.StartOffset && userLock.Offset < invitationLock.Offset,
            $"{procedure}: the accounts' app.User rows must be locked after they are collected and before the first invitation lock");
        Assert.Contains("JOIN app.[User] AS u WITH (UPDLOCK, HOLDLOCK, ROWLOCK)", file.Text[collect.StartOffset..invitationLock.Offset], StringComparison.Ordinal);
        Assert.Contains("OPTION (FORCE ORDER, LOOP JOIN)", file.Text[collect.StartOffset..invitationLock.Offset], StringComparison.Ordinal);
    }

    /// <summary>
    /// A merge re-points the accounts merged into its source (app.User.MergedIntoUserId) after every data table, so it
    /// locks those (inactive) accounts' rows last. An accept or decline by such an account must refuse (51303) while it
    /// holds only that row: had it locked the invitation first, an invitation the merge holds (sent by its source,
    /// re-addressed, ...) and the account's row would be a cycle (lock order review).
    /// </summary>
    [Theory]
    [InlineData("api.Invitation_Accept")]
    [InlineData("api.Invitation_Decline")]
    public void An_accept_or_decline_refuses_an_inactive_user_before_its_first_invitation_lock(string procedure)
    {
        var file = Repo.Layout.DatabaseObjects().Single(f => f.RelativePath.EndsWith($"{procedure}.sql", StringComparison.Ordinal));
        var fragment = new TSql150Parser(true).Parse(new StringReader(file.Text), out var errors);
        Assert.Empty(errors);
        var tables = new TableCollector();
        fragment.Accept(tables);

        var userLock = tables.Locked.First(t => t.Name == "User");
        var invitationLock = tables.Locked.First(t => t.Name == "Invitation");
        var refusal = file.Text.IndexOf("THROW 51303", StringComparison.Ordinal);
        Assert.True(userLock.Offset < invitationLock.Offset, $"{procedure}: the user row (L2) is locked before the invitation (L3)");
        Assert.True(refusal > userLock.Offset && refusal < invitationLock.Offset,
            $"{procedure}: the missing or inactive user (51303) must be refused after its row is locked and before the first invitation lock");
        Assert.Contains("IF @UserEmail IS NULL OR @UserIsActive = 0", file.Text[userLock.Offset..refusal], StringComparison.Ordinal);
    }

    private sealed class TableCollector : TSqlFragmentVisitor
    {
        public List<(string Name, int Offset)> Locked { get; } = [];

        public override void Visit(NamedTableReference node)
        {
            if (node.SchemaObject.SchemaIdentifier?.Value == "app" && node.TableHints.Any(h => h.HintKind == TableHintKind.UpdLock))
            {
                Locked.Add((node.SchemaObject.BaseIdentifier.Value, node.StartOffset));
            }
        }
    }

    private sealed class InsertCollector : TSqlFragmentVisitor
    {
        public List<InsertStatement> Inserts { get; } = [];

        public override void Visit(InsertStatement node) => Inserts.Add(node);
    }
}
