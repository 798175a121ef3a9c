using System.Text.RegularExpressions;

namespace DbMerge.Runner.Cli;

/// <summary>
/// Masks confirmation tokens (64 hexadecimal characters, and any <c>token=</c> query value) in text the runner prints
/// to stderr: server messages under <c>--verbose</c>, command-line parse errors. No verb prints a token on purpose —
/// except <c>dbmerge outbox drain</c>, whose stdout is the mailer's input — so this only guards against echoes.
/// </summary>
public static partial class SecretMask
{
    public const string Mask = "[token hidden]";

    public static string Apply(string? text) =>
        string.IsNullOrEmpty(text) ? text ?? string.Empty : TokenQuery().Replace(HexToken().Replace(text, Mask), "${name}" + Mask);

    [GeneratedRegex("(?<![0-9A-Fa-f])[0-9A-Fa-f]{64}(?![0-9A-Fa-f])")]
    private static partial Regex HexToken();

    [GeneratedRegex(@"(?<name>[?&]token=)[^&\s""']+", RegexOptions.IgnoreCase)]
    private static partial Regex TokenQuery();
}
