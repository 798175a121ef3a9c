using System.Text;

namespace DbMerge.Schema.Merge;

/// <summary>Writes indented T-SQL with LF line endings (the generated files are compared byte for byte).</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public CodeWriter Line(string line = "")
    {
        if (line.Length == 0)
        {
            _text.Append('\n');
            return this;
        }

        foreach (var part in line.Split('\n'))
        {
            _text.Append(' ', _indent * 4).Append(part.TrimEnd()).Append('\n');
        }

        return this;
    }

    public CodeWriter Lines(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            Line(line);
        }

        return this;
    }

    /// <summary>Indents the lines written inside the returned scope by one level.</summary>
    public IDisposable Indent()
    {
        _indent++;
        return new Scope(() => _indent--);
    }

    /// <summary>A comment block <c>/* … */</c> wrapped at 116 characters, each line prefixed to align under the first.</summary>
    public CodeWriter Comment(string text)
    {
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var lines = new List<string>();
        var current = new StringBuilder("/* ");
        foreach (var word in words)
        {
            if (current.Length + word.Length + 1 > 116 - (_indent * 4) && current.Length > 3)
            {
                lines.Add(current.ToString().TrimEnd());
                current.Clear().Append("   ");
            }

            current.Append(word).Append(' ');
        }

        lines.Add(current.Append("*/").ToString());
        return Lines(lines);
    }

    public override string ToString() => _text.ToString();

    private sealed class Scope(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}
