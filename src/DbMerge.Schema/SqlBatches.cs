using System.Text;

namespace DbMerge.Schema;

/// <summary>One batch of a script: its text and the 1-based line of the original file where it starts.</summary>
public sealed record SqlBatch(string Text, int StartLine);

/// <summary>
/// Splits a script into batches the way DbUp and sqlcmd do for DbMerge's scripts: on a line that holds
/// <c>GO</c> alone (case-insensitive, surrounding whitespace allowed). <c>GO 2</c>, <c>GO;</c> or
/// <c>SELECT 1 GO</c> are not separators (house rule DBM022 reports them). Blank batches are dropped.
/// The splitter is line based and does not look inside comments or strings.
/// </summary>
public static class SqlBatches
{
    public static IReadOnlyList<SqlBatch> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var batches = new List<SqlBatch>();
        var current = new StringBuilder();
        var start = 1;
        for (var i = 0; i < lines.Length; i++)
        {
            if (IsSeparator(lines[i]))
            {
                Flush();
                start = i + 2;
            }
            else
            {
                current.Append(lines[i]);
                if (i < lines.Length - 1)
                {
                    current.Append('\n');
                }
            }
        }

        Flush();
        return batches;

        void Flush()
        {
            var batch = current.ToString();
            if (!string.IsNullOrWhiteSpace(batch))
            {
                batches.Add(new SqlBatch(batch, start));
            }

            current.Clear();
        }
    }

    /// <summary>True when <paramref name="line"/> is a batch separator: <c>GO</c> alone on its line.</summary>
    public static bool IsSeparator(string line) =>
        string.Equals(line.Trim(), "GO", StringComparison.OrdinalIgnoreCase);
}
