using System.Text.RegularExpressions;

namespace DbMerge.Tests.Deployment;

/// <summary>
/// How go-sqlcmd (github.com/microsoft/go-sqlcmd, pkg/sqlcmd/batch.go and its readString) reads a script line by line:
/// it tracks quotes and block comments itself, and only outside them does it look for a command at the start of a
/// line (GO, :setvar, EXIT, …) or check a <c>$(</c> variable reference. Its string scanning differs from T-SQL: inside
/// single quotes a backslash escapes the next character. Ported here (not a full sqlcmd) to check that go-sqlcmd cuts
/// the deploy script at exactly the GO lines the server and ScriptDom see.
/// </summary>
internal static partial class GoSqlcmdScanner
{
    /// <summary>What go-sqlcmd saw: the lines it took as commands (1-based, with the command line), or the first syntax error.</summary>
    public sealed record Scan(IReadOnlyList<(int Line, string Text)> Commands, string? Error, bool EndsInsideQuoteOrComment);

    public static Scan Read(string script)
    {
        var commands = new List<(int, string)>();
        var quote = '\0';
        var comment = false;
        var lines = script.Split('\n');
        for (var n = 0; n < lines.Length; n++)
        {
            var raw = lines[n].TrimEnd('\r');
            var scannedCommand = false;
            for (var i = 0; i < raw.Length; i++)
            {
                var c = raw[i];
                var next = i + 1 < raw.Length ? raw[i + 1] : '\0';
                if (quote != '\0')
                {
                    var (end, closed, ok) = ReadString(raw, i, quote);
                    if (!ok)
                    {
                        return new Scan(commands, $"line {n + 1}: malformed variable reference inside a string", false);
                    }

                    i = end;
                    if (closed)
                    {
                        quote = '\0';
                    }
                }
                else if (comment)
                {
                    (i, var closed) = ReadMultilineComment(raw, i);
                    comment = !closed;
                }
                else if (c is '\'' or '"')
                {
                    quote = c;
                }
                else if (c == '-' && next == '-')
                {
                    i = raw.Length;
                }
                else if (c == '/' && next == '*')
                {
                    comment = true;
                    i++;
                }
                else if (c == '$' && next == '(')
                {
                    var end = ReadVariableReference(raw, i + 2);
                    if (end < 0)
                    {
                        return new Scan(commands, $"line {n + 1}: malformed variable reference", false);
                    }

                    i = end;
                }
                else if (!scannedCommand)
                {
                    scannedCommand = true;
                    if (Command().IsMatch(raw))
                    {
                        commands.Add((n + 1, raw));
                        break;
                    }
                }
            }
        }

        return new Scan(commands, null, quote != '\0' || comment);
    }

    /// <summary>go-sqlcmd's readString: (index of the closing quote or the line end, whether it closed, no bad variable).</summary>
    private static (int End, bool Closed, bool Ok) ReadString(string r, int i, char quote)
    {
        var prev = '\0';
        for (; i < r.Length; i++)
        {
            var c = r[i];
            var next = i + 1 < r.Length ? r[i + 1] : '\0';
            if (c == '$' && next == '(')
            {
                var end = ReadVariableReference(r, i + 2);
                if (end < 0)
                {
                    return (i, false, false);
                }

                i = end;
            }
            else if (quote == '\'' && c == '\\')
            {
                i++;
                prev = '\0';
                continue;
            }
            else if (quote == '\'' && c == '\'' && next == '\'')
            {
                i++;
                continue;
            }
            else if ((quote == '\'' && c == '\'' && prev != '\'') || (quote == '"' && c == '"'))
            {
                return (i, true, true);
            }

            prev = c;
        }

        return (r.Length, false, true);
    }

    private static (int End, bool Closed) ReadMultilineComment(string r, int i)
    {
        i++;
        for (; i < r.Length; i++)
        {
            if (r[i - 1] == '*' && r[i] == '/')
            {
                return (i, true);
            }
        }

        return (r.Length, false);
    }

    /// <summary>The index of the closing ')' of a valid reference, or -1.</summary>
    private static int ReadVariableReference(string r, int i)
    {
        for (; i < r.Length; i++)
        {
            if (r[i] == ')')
            {
                return i;
            }

            if (!char.IsAsciiLetterOrDigit(r[i]) && r[i] is not '_' and not '-')
            {
                break;
            }
        }

        return -1;
    }

    /// <summary>go-sqlcmd's command regexes (commands.go), any of them.</summary>
    [GeneratedRegex(@"^[\t ]*?(?::?EXIT([\( \t]+.*\)*$|$)|:?QUIT(?:[ \t]+(.*$)|$)|GO(?:[ ]+(.*$)|$)|:(OUT|ERROR|R|SETVAR|LISTVAR|RESET|LIST|CONNECT|XML)(?:[ \t]+(.*$)|$)|:?!!(.*$)|:?ED(?:[ \t]+(.*$)|$)|:?ON ERROR(?:[ \t]+(.*$)|$))",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Command();
}
