using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM012: a <c>THROW</c> with arguments uses a literal error number in DbMerge's block 51000–51999, and a message
/// that starts with the procedure's name (<c>schema.Procedure</c>, as written in its CREATE, followed by a non-name
/// character such as ':'), so a log line names its origin. The message is checked when it can be traced: a string
/// literal; or a variable, whose every assignment in the procedure (DECLARE … =, SET, SELECT @v =) is checked when it is
/// a string literal, a <c>FORMATMESSAGE('format', …)</c> (the format is checked), or a concatenation starting with a
/// literal. Anything else (CONCAT of variables, a parameter) cannot be traced and is not reported.
/// </summary>
public sealed class ThrowMessageRule : IHouseRule
{
    public const string RuleId = "DBM012";

    public string Id => RuleId;

    public string Description => "THROW uses a literal number in 51000-51999 and a message starting with the procedure name.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var procedure in Procedures(context))
        {
            foreach (var throwStatement in All<ThrowStatement>(procedure.Statement).Where(t => t.ErrorNumber is not null))
            {
                if (throwStatement.ErrorNumber is not IntegerLiteral literal || !int.TryParse(literal.Value, out var number) || number is < 51000 or > 51999)
                {
                    yield return Finding(procedure.Script, throwStatement, RuleId,
                        $"{procedure.Describe} throws error number {SqlText.TextOf(throwStatement.ErrorNumber!)}: use a literal number in " +
                        "DbMerge's block 51000-51999 (your area's range), registered in the client's ErrorRegistry.");
                }

                foreach (var (text, at) in MessageTexts(procedure, throwStatement.Message))
                {
                    if (StartsWithName(text, procedure.Name))
                    {
                        continue;
                    }

                    yield return Finding(procedure.Script, at, RuleId,
                        $"{procedure.Describe}: the message of THROW at line {throwStatement.StartLine} starts with '{Shorten(text)}': " +
                        $"start it with the procedure's name, e.g. N'{procedure.Name}: <what is wrong, naming the keys>'.");
                }
            }
        }
    }

    /// <summary>True when <paramref name="text"/> is <paramref name="name"/> followed by a character that cannot continue a name.</summary>
    public static bool StartsWithName(string text, string name) =>
        text.StartsWith(name, StringComparison.Ordinal)
        && (text.Length == name.Length || !(char.IsLetterOrDigit(text[name.Length]) || text[name.Length] is '_' or '.'));

    private static IEnumerable<(string Text, TSqlFragment At)> MessageTexts(DatabaseModule procedure, ScalarExpression? message)
    {
        switch (message)
        {
            case null:
                yield break;
            case VariableReference variable:
                foreach (var (value, appends, at) in Assignments(procedure.Statement, variable.Name))
                {
                    if (!appends && LeadingLiteral(value) is { } text)
                    {
                        yield return (text, at);
                    }
                }

                yield break;
            default:
                if (LeadingLiteral(message) is { } direct)
                {
                    yield return (direct, message);
                }

                yield break;
        }
    }

    /// <summary>The literal a message starts with: the literal itself, FORMATMESSAGE's format, or the left end of a + chain.</summary>
    private static string? LeadingLiteral(ScalarExpression expression) => expression switch
    {
        StringLiteral literal => literal.Value,
        ParenthesisExpression parenthesis => LeadingLiteral(parenthesis.Expression),
        FunctionCall { Parameters.Count: > 0 } call when Same(call.FunctionName.Value, "FORMATMESSAGE") => LeadingLiteral(call.Parameters[0]),
        BinaryExpression { BinaryExpressionType: BinaryExpressionType.Add } add => LeadingLiteral(add.FirstExpression),
        _ => null,
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
