using System.Text.RegularExpressions;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using static DbMerge.Schema.HouseRules.ProcedureRuleSupport;

namespace DbMerge.Schema.HouseRules;

/// <summary>
/// DBM011: a procedure's header comment — the comments before its CREATE statement — lists every error number its
/// body THROWs (a literal number, as a whole word, e.g. in the "Errors:" section: <c>51200  the document does not exist</c>).
/// Callers read the header to know what to handle; an undocumented number is a contract nobody can see.
/// </summary>
public sealed partial class HeaderListsErrorsRule : IHouseRule
{
    public const string RuleId = "DBM011";

    public string Id => RuleId;

    public string Description => "A procedure's header comment lists every error number it THROWs.";

    public IEnumerable<Finding> Check(HouseRuleContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var procedure in Procedures(context))
        {
            var header = HeaderComment(procedure.Statement);
            var documented = Numbers().Matches(header).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);
            var reported = new HashSet<string>(StringComparer.Ordinal);
            foreach (var throwStatement in All<ThrowStatement>(procedure.Statement))
            {
                if (throwStatement.ErrorNumber is not IntegerLiteral literal || documented.Contains(literal.Value) || !reported.Add(literal.Value))
                {
                    continue;
                }

                yield return Finding(procedure.Script, throwStatement, RuleId,
                    header.Length == 0
                        ? $"{procedure.Describe} throws {literal.Value} but has no header comment: add one before CREATE with purpose, " +
                          $"transaction, result set, an Errors: section listing {literal.Value} with its meaning, and an example call."
                        : $"{procedure.Describe} throws {literal.Value} but its header comment does not list it: add '{literal.Value}  <meaning>' " +
                          "to the Errors: section of the comment before CREATE.");
            }
        }
    }

    [GeneratedRegex(@"(?<![0-9])[0-9]+(?![0-9])")]
    private static partial Regex Numbers();
}
