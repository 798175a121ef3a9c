using DbMerge.Client;
using DbMerge.Runner.Cli;
using DbMerge.Runner.Outbox;
using Xunit;

namespace DbMerge.Tests.Reconciliation;

/// <summary>E-mail rules (the same as dbmerge.Email_Validate), token masking, the drain's line format.</summary>
public sealed class ReconciliationRulesTests
{
    [Theory]
    [InlineData("ada@example.org")]
    [InlineData("a@b.c")]
    [InlineData("ada.lovelace+old@mail.example.co.uk")]
    [InlineData("jos\u00e9@example.org")]
    [InlineData("o'brien@example.org")]
    public void Plain_addresses_are_valid(string email) => Assert.True(ReconciliationEmail.IsValid(email));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("a@")]
    [InlineData("@example.org")]
    [InlineData("ada.example.org")]
    [InlineData("ada@@example.org")]
    [InlineData("ada@ex@ample.org")]
    [InlineData("ada@example")]
    [InlineData("ada@.example.org")]
    [InlineData("ada@example.org.")]
    [InlineData("ada@example..org")]
    [InlineData("ada lovelace@example.org")]
    [InlineData("ada@example.org ")]
    [InlineData("ada\t@example.org")]
    [InlineData("ada\u007f@example.org")]
    [InlineData("ada,b@example.org")]
    [InlineData("ada;b@example.org")]
    [InlineData("ada:b@example.org")]
    [InlineData("<ada@example.org>")]
    [InlineData("ada(x)@example.org")]
    [InlineData("[ada]@example.org")]
    [InlineData("ada\\b@example.org")]
    [InlineData("\"ada\"@example.org")]
    [InlineData("ada|b@example.org")]
    public void Addresses_that_cannot_be_e_mail_or_would_break_a_CSV_are_invalid(string? email) =>
        Assert.False(ReconciliationEmail.IsValid(email));

    [Fact]
    public void An_address_of_254_characters_is_valid_and_one_of_255_is_not()
    {
        var domain = "@example.org";
        Assert.True(ReconciliationEmail.IsValid(new string('a', 254 - domain.Length) + domain));
        Assert.False(ReconciliationEmail.IsValid(new string('a', 255 - domain.Length) + domain));
    }

    [Fact]
    public void The_server_function_states_the_same_rules_as_the_client()
    {
        var function = ProcedureContract.Load("database/dbmerge/Functions/dbmerge.Email_Validate.sql").Text;

        // The forbidden characters, the control range and the domain rules of ReconciliationEmail, as dbmerge.Email_Validate writes them.
        Assert.Contains("NCHAR(1) + N'-' + NCHAR(32) + NCHAR(127) + N',;:<>()\"\\|]%'", function, StringComparison.Ordinal);
        Assert.Contains("CHARINDEX(N'[', @Email) > 0 OR CHARINDEX(N']', @Email) > 0", function, StringComparison.Ordinal);
        Assert.Contains("d.Domain NOT LIKE N'%_._%' OR d.Domain LIKE N'.%' OR d.Domain LIKE N'%.' OR d.Domain LIKE N'%..%'", function, StringComparison.Ordinal);
        Assert.Contains("LEN(@Email) < 3", function, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("token 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 refused", "token [token hidden] refused")]
    [InlineData("https://x.example/c?token=abc123&x=1", "https://x.example/c?token=[token hidden]&x=1")]
    [InlineData("Unrecognized command or argument '9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08'.", "Unrecognized command or argument '[token hidden]'.")]
    [InlineData("request 17 is ready", "request 17 is ready")]
    public void Tokens_are_masked_and_other_text_is_left_alone(string text, string expected) =>
        Assert.Equal(expected, SecretMask.Apply(text));

    [Fact]
    public void A_longer_hex_run_is_not_mistaken_for_a_token()
    {
        var sixtyFive = new string('a', 65);
        Assert.Equal(sixtyFive, SecretMask.Apply(sixtyFive));
    }

    [Fact]
    public void A_drained_line_is_one_JSON_object_with_the_payload_as_an_object_and_UTC_times()
    {
        var e = new OutboxEvent(41, "reconciliation.confirm", "reconciliation.confirm:17:active",
            "{\"requestId\":17,\"email\":\"ada@example.org\",\"secret\":{\"token\":\"ab\"}}", new DateTime(2025, 6, 1, 10, 0, 0, 123), new DateTime(2025, 6, 1, 10, 0, 5), 2);

        var line = OutboxDrainer.FormatLine(e);

        Assert.DoesNotContain('\n', line);
        Assert.Equal(
            "{\"id\":41,\"type\":\"reconciliation.confirm\",\"dedupeKey\":\"reconciliation.confirm:17:active\",\"createdAt\":\"2025-06-01T10:00:00.123Z\",\"attempts\":2," +
            "\"payload\":{\"requestId\":17,\"email\":\"ada@example.org\",\"secret\":{\"token\":\"ab\"}}}",
            line);
    }

    [Fact]
    public void A_drainer_starts_the_lines_of_a_claim_only_during_the_first_90_percent_of_its_shortest_retry_delay()
    {
        var claimedAt = new DateTime(2025, 6, 1, 10, 0, 0);
        OutboxEvent Claimed(long id, int delaySeconds) =>
            new(id, "test.event", $"test.event:{id}", "{}", claimedAt, claimedAt, 1, claimedAt.AddSeconds(delaySeconds));

        Assert.Equal(TimeSpan.FromSeconds(270), OutboxDrainer.WriteBudget([Claimed(1, 300), Claimed(2, 300)]));
        Assert.Equal(TimeSpan.FromSeconds(1.8), OutboxDrainer.WriteBudget([Claimed(1, 2), Claimed(2, 300)]));
        Assert.Equal(TimeSpan.Zero, OutboxDrainer.WriteBudget([Claimed(1, -5)]));
        Assert.Equal(TimeSpan.MaxValue, OutboxDrainer.WriteBudget([new OutboxEvent(1, "test.event", "test.event:1", "{}", claimedAt, claimedAt, 1)]));
    }

    [Fact]
    public void The_outbox_claim_returns_when_each_claim_lapses_and_the_client_reads_it()
    {
        var claim = File.ReadAllText(Path.Combine(Repo.Layout.Root, "database", "api", "Procedures", "api.Outbox_Claim.sql"));
        var client = File.ReadAllText(Path.Combine(Repo.Layout.Root, "src", "DbMerge.Client", "DbMergeClient.Outbox.cs"));

        Assert.Contains("DATEADD(SECOND, @Delay, c.ClaimedAt) AS ReclaimableAt", claim, StringComparison.Ordinal);
        Assert.Contains("reader.Get<DateTime>(\"ReclaimableAt\")", client, StringComparison.Ordinal);
    }
}
