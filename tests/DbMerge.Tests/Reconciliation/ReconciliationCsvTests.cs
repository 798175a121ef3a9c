using System.Text;
using DbMerge.Client;
using DbMerge.Runner.Reconciliation;
using Xunit;

namespace DbMerge.Tests.Reconciliation;

/// <summary>
/// The reconciliation CSV, parsed with CsvHelper into (line, pair) rows with the outcomes the file alone decides:
/// every outcome, `|` lists, a byte order mark, quotes, CRLF/LF, blank lines, a header missing a column. The example
/// of the README (Ada and Grace) is the base case.
/// </summary>
public sealed class ReconciliationCsvTests
{
    private const string Header = "id,active_email,inactive_email\n";

    private static ReconciliationCsvFile Parse(string text, bool bom = false)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return ReconciliationCsv.Parse("test.csv", bom ? [.. Encoding.UTF8.GetPreamble(), .. bytes] : bytes);
    }

    private static ReconciliationImportRow Pair(ReconciliationCsvFile file, int line, int pair = 1) =>
        Assert.Single(file.Pairs, p => p.LineNumber == line && p.PairNumber == pair);

    private static void AssertUndecided(ReconciliationImportRow row)
    {
        Assert.Null(row.ClientOutcome);
        Assert.Null(row.ClientReason);
    }

    [Fact]
    public void The_README_example_gives_one_pair_per_inactive_address_with_the_lines_of_the_file()
    {
        var file = Parse(Header +
            "A-1,ada@example.org,ada.lovelace@old.example\n" +
            "A-2,\"grace@example.org\",\"g.hopper@old.example|grace.h@legacy.example\"\n");

        Assert.Equal(2, file.RowCount);
        Assert.Equal(3, file.Pairs.Count);
        var ada = Pair(file, 2);
        Assert.Equal(("A-1", "ada@example.org", "ada.lovelace@old.example"), (ada.SourceId, ada.ActiveEmail, ada.InactiveEmail));
        Assert.Equal("g.hopper@old.example", Pair(file, 3, 1).InactiveEmail);
        Assert.Equal("grace.h@legacy.example", Pair(file, 3, 2).InactiveEmail);
        Assert.All(file.Pairs, AssertUndecided);
        Assert.All(file.Pairs.Where(p => p.LineNumber == 3), p => Assert.Equal(("A-2", "grace@example.org"), (p.SourceId, p.ActiveEmail)));
    }

    [Fact]
    public void A_byte_order_mark_and_CRLF_line_ends_read_exactly_like_plain_LF()
    {
        const string lf = Header + "A-1,ada@example.org,ada.lovelace@old.example\nA-2,grace@example.org,g.hopper@old.example\n";

        var plain = Parse(lf);
        var windows = Parse(lf.Replace("\n", "\r\n", StringComparison.Ordinal), bom: true);

        Assert.Equal(plain.Pairs, windows.Pairs);
        Assert.Equal(2, windows.Pairs.Count);
        Assert.Equal("id", ReconciliationCsv.IdColumn);
        Assert.NotEqual(Convert.ToHexString(plain.Sha256), Convert.ToHexString(windows.Sha256));
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(lf))), Convert.ToHexString(plain.Sha256));
    }

    [Fact]
    public void Quoted_fields_keep_commas_and_quotes_and_a_quoted_list_may_span_lines()
    {
        var file = Parse(Header +
            "\"A, 1\",\"ada@example.org\",\"ada.lovelace@old.example|\nada@legacy.example\"\n" +
            "A-2,\"gr\"\"ace@example.org\",g.hopper@old.example\n");

        Assert.Equal("A, 1", Pair(file, 2, 1).SourceId);
        Assert.Equal("ada.lovelace@old.example", Pair(file, 2, 1).InactiveEmail);
        Assert.Equal("ada@legacy.example", Pair(file, 2, 2).InactiveEmail);
        AssertUndecided(Pair(file, 2, 2));
        var grace = Pair(file, 4);
        Assert.Equal("gr\"ace@example.org", grace.ActiveEmail);
        Assert.Equal((ReconciliationOutcomes.Error, "active_email is not a valid e-mail address"), (grace.ClientOutcome, grace.ClientReason));
    }

    [Fact]
    public void Blank_lines_and_rows_of_empty_fields_are_skipped_and_lines_keep_their_numbers_in_the_file()
    {
        var file = Parse(Header + "\n   \nA-1,ada@example.org,ada.lovelace@old.example\n,,\n\n A-2 , grace@example.org , g.hopper@old.example \n");

        Assert.Equal(2, file.RowCount);
        Assert.Equal(new[] { 4, 7 }, file.Pairs.Select(p => p.LineNumber));
        Assert.Equal(("A-2", "grace@example.org", "g.hopper@old.example"), (Pair(file, 7).SourceId, Pair(file, 7).ActiveEmail, Pair(file, 7).InactiveEmail));
    }

    [Fact]
    public void A_header_missing_a_column_is_a_file_error_that_names_the_column()
    {
        var error = Assert.Throws<ReconciliationCsvException>(() => Parse("id,active_email\nA-1,ada@example.org\n"));

        Assert.Contains("lacks the column(s) inactive_email", error.Message, StringComparison.Ordinal);
        Assert.Contains("found: id, active_email", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Header_names_match_in_any_order_and_case_and_other_columns_are_ignored()
    {
        var file = Parse(" Inactive_Email ,NOTES, ID,Active_Email,reason,line\nada.lovelace@old.example,hi,A-1,ada@example.org,was wrong,2\n");

        var ada = Pair(file, 2);
        Assert.Equal(("A-1", "ada@example.org", "ada.lovelace@old.example"), (ada.SourceId, ada.ActiveEmail, ada.InactiveEmail));
        AssertUndecided(ada);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    public void An_empty_file_is_a_file_error(string text)
    {
        var error = Assert.Throws<ReconciliationCsvException>(() => Parse(text));
        Assert.Contains("is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_without_rows_has_no_pair()
    {
        var file = Parse(Header);
        Assert.Equal(0, file.RowCount);
        Assert.Empty(file.Pairs);
    }

    [Fact]
    public void A_file_that_is_not_UTF_8_is_a_file_error()
    {
        var latin1 = Encoding.Latin1.GetBytes("id,active_email,inactive_email\nA-1,jos\u00e9@example.org,old@example.org\n");

        var error = Assert.Throws<ReconciliationCsvException>(() => ReconciliationCsv.Parse("latin1.csv", latin1));

        Assert.Contains("not UTF-8", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(",ada@example.org,ada.lovelace@old.example", "id is missing")]
    [InlineData("A-1,,ada.lovelace@old.example", "active_email is missing")]
    [InlineData("A-1,ada@example.org,", "inactive_email is missing")]
    [InlineData("A-1,ada@example.org", "inactive_email is missing")]
    [InlineData("A-1,ada@example.org, | ", "inactive_email is missing")]
    [InlineData("A-1,ada.example.org,ada.lovelace@old.example", "active_email is not a valid e-mail address")]
    [InlineData("A-1,ada@example.org,ada lovelace@old.example", "inactive_email is not a valid e-mail address")]
    [InlineData("A-1,ada@example.org,ADA@Example.org", "the same address is on both sides")]
    [InlineData("A-1,ada\"x@example.org,ada.lovelace@old.example", "malformed CSV line (a quote inside an unquoted field); check its quotes")]
    [InlineData("A-1,\"ada@example.org\"x,ada.lovelace@old.example", "malformed CSV line (text after a closing quote); check its quotes")]
    public void A_row_with_a_bad_field_is_an_error_with_its_reason(string row, string reason)
    {
        var file = Parse(Header + row + "\nA-9,zoe@example.org,zoe@old.example\n");

        var bad = Pair(file, 2);
        Assert.Equal((ReconciliationOutcomes.Error, reason), (bad.ClientOutcome, bad.ClientReason));
        AssertUndecided(Pair(file, 3));
    }

    [Fact]
    public void A_line_with_more_fields_than_the_header_is_an_error_instead_of_losing_the_extra_address()
    {
        // A comma where | was meant: the second address has no column; without this check it would be dropped unseen.
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example,ada@legacy.example\nA-2,grace@example.org,g.hopper@old.example\n");

        var bad = Assert.Single(file.Pairs, p => p.LineNumber == 2);
        Assert.Equal(ReconciliationOutcomes.Error, bad.ClientOutcome);
        Assert.Equal("the line has 4 fields but the header names 3 columns; list several inactive addresses in one field separated by |, not by commas",
            bad.ClientReason);
        AssertUndecided(Pair(file, 3));
    }

    [Fact]
    public void Empty_fields_after_the_header_s_columns_are_ignored()
    {
        var file = Parse("id,active_email,inactive_email,reason\n" + "A-1,ada@example.org,ada.lovelace@old.example,was wrong, ,\n");

        AssertUndecided(Pair(file, 2));
    }

    [Fact]
    public void Fields_longer_than_their_columns_are_errors()
    {
        var longId = new string('x', ReconciliationCsv.MaxSourceIdLength + 1);
        var longAddress = new string('a', 250) + "@example.org";
        var file = Parse(Header + $"{longId},ada@example.org,old@example.org\nA-2,{longAddress},old2@example.org\nA-3,c@example.org,{longAddress}\n");

        Assert.Equal("id is longer than 100 characters", Pair(file, 2).ClientReason);
        Assert.Equal("active_email is longer than 254 characters", Pair(file, 3).ClientReason);
        Assert.Equal("inactive_email is longer than 254 characters", Pair(file, 4).ClientReason);
        Assert.All(file.Pairs, p => Assert.Equal(ReconciliationOutcomes.Error, p.ClientOutcome));
    }

    [Fact]
    public void Only_the_bad_address_of_a_list_is_an_error()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example|not-an-address|ada@legacy.example\n");

        AssertUndecided(Pair(file, 2, 1));
        Assert.Equal("inactive_email is not a valid e-mail address", Pair(file, 2, 2).ClientReason);
        AssertUndecided(Pair(file, 2, 3));
    }

    [Fact]
    public void An_unterminated_quote_is_an_error_and_takes_the_rest_of_the_file_with_it()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example\nA-2,\"grace@example.org,g.hopper@old.example\nA-3,c@example.org,d@example.org\n");

        AssertUndecided(Pair(file, 2));
        var bad = Pair(file, 3);
        Assert.Equal(ReconciliationOutcomes.Error, bad.ClientOutcome);
        Assert.Contains("never closed", bad.ClientReason, StringComparison.Ordinal);
        Assert.Equal(2, file.RowCount);
    }

    [Fact]
    public void The_same_id_and_pair_again_is_a_duplicate_of_the_first_line()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example\nA-1,ADA@example.org,Ada.Lovelace@old.example\n");

        AssertUndecided(Pair(file, 2));
        Assert.Equal((ReconciliationOutcomes.Duplicate, "same as line 2"), (Pair(file, 3).ClientOutcome, Pair(file, 3).ClientReason));
    }

    [Fact]
    public void The_same_address_twice_in_one_list_is_a_duplicate()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example|ada.lovelace@old.example\n");

        AssertUndecided(Pair(file, 2, 1));
        Assert.Equal(ReconciliationOutcomes.Duplicate, Pair(file, 2, 2).ClientOutcome);
    }

    [Fact]
    public void The_same_id_with_another_active_address_is_a_conflict()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example\nA-1,grace@example.org,g.hopper@old.example\n");

        var conflict = Pair(file, 3);
        Assert.Equal((ReconciliationOutcomes.Conflict, "id A-1 has active_email ada@example.org on line 2"), (conflict.ClientOutcome, conflict.ClientReason));
    }

    [Fact]
    public void The_same_id_and_active_address_with_a_new_inactive_address_is_another_pair_not_a_conflict()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example\nA-1,ada@example.org,ada@legacy.example\n");

        Assert.All(file.Pairs, AssertUndecided);
    }

    [Fact]
    public void The_same_pair_under_another_id_is_an_error_naming_the_first_id()
    {
        var file = Parse(Header + "A-1,ada@example.org,ada.lovelace@old.example\nB-7,ada@example.org,ada.lovelace@old.example\n");

        Assert.Equal((ReconciliationOutcomes.Error, "the pair is already requested under id A-1 (line 2)"), (Pair(file, 3).ClientOutcome, Pair(file, 3).ClientReason));
    }

    [Fact]
    public void An_inactive_address_requested_into_two_accounts_is_an_error_on_the_second_line()
    {
        var file = Parse(Header + "A-1,ada@example.org,shared@old.example\nA-2,grace@example.org,shared@old.example\n");

        Assert.Equal((ReconciliationOutcomes.Error, "the inactive address is already requested on line 2"), (Pair(file, 3).ClientOutcome, Pair(file, 3).ClientReason));
    }

    [Fact]
    public void A_rejected_row_does_not_reserve_its_id_or_address_for_later_lines()
    {
        var file = Parse(Header + "A-1,not-an-address,ada.lovelace@old.example\nA-1,ada@example.org,ada.lovelace@old.example\n");

        Assert.Equal(ReconciliationOutcomes.Error, Pair(file, 2).ClientOutcome);
        AssertUndecided(Pair(file, 3));
    }

    [Fact]
    public void The_rejected_rows_file_can_be_fixed_and_read_back_as_a_reconciliation_CSV()
    {
        var file = Parse(Header + "A-1,ada@example.org,not-an-address|ada.lovelace@old.example\nA-1,grace@example.org,g@old.example\n\"B, 2\",\"b@example.org\",\"x\"\"y@old.example\"\n");
        var failures = file.Pairs.Where(p => p.ClientOutcome is not null)
            .Select(p => new ImportedPair(p, p.ClientOutcome!, p.ClientReason, null, false)).ToList();
        Assert.Equal(3, failures.Count);
        var path = Path.Combine(ScratchDirectory.Create("dbmerge-errors-"), "rejected.csv");

        var written = ReconciliationImporter.WriteErrors(path, failures);

        Assert.Equal(3, written);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes.Take(3));
        var text = Encoding.UTF8.GetString(bytes);
        Assert.StartsWith("\uFEFFid,active_email,inactive_email,reason,line\r\n", text, StringComparison.Ordinal);
        Assert.Contains("conflict: id A-1 has active_email ada@example.org on line 2", text, StringComparison.Ordinal);
        var again = ReconciliationCsv.Parse("rejected.csv", bytes);
        Assert.Equal(failures.Select(f => (f.Row.SourceId, f.Row.ActiveEmail, f.Row.InactiveEmail)),
            again.Pairs.Select(p => (p.SourceId, p.ActiveEmail, p.InactiveEmail)));
    }
}
