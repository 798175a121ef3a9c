using System.Text.RegularExpressions;
using DbMerge.Schema.HouseRules;
using Microsoft.SqlServer.Dac;
using Microsoft.SqlServer.Dac.CodeAnalysis;
using Microsoft.SqlServer.Dac.Model;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace DbMerge.Schema;

/// <summary>What <see cref="SchemaVerifier.Verify"/> checks besides parsing, replay and DacFx validation.</summary>
public sealed record VerificationOptions
{
    /// <summary>
    /// Only parse, replay and DacFx validation: the release's model (no scenario procedures), without code analysis,
    /// house or model rules. What the dacpac, the CREATE script and the model comparison use.
    /// </summary>
    public static VerificationOptions ModelOnly { get; } = new()
    {
        RunCodeAnalysis = false,
        RunHouseRules = false,
        RunModelRules = false,
        IncludeScenarios = false,
    };

    /// <summary>
    /// Validate the scenario procedures (<see cref="ScenarioScripts"/>) against the model too, with their house rules.
    /// Default on. They are never part of the release: artifacts built from the model turn this off.
    /// </summary>
    public bool IncludeScenarios { get; init; } = true;

    /// <summary>
    /// The client's error registry numbers (<c>DbMerge.Client.Errors.ErrorRegistry.All</c>). When set, DBM030 checks
    /// that THROW numbers, the registry and <see cref="ReadmeText"/> agree.
    /// </summary>
    public IReadOnlyCollection<int>? RegistryNumbers { get; init; }

    /// <summary>The README text searched by DBM030 (null: read README.md of the repository, empty when absent).</summary>
    public string? ReadmeText { get; init; }

    /// <summary>
    /// T-SQL the project generates rather than keeps under database/ (the DBA deploy script), named for findings.
    /// DBM030 counts its THROW numbers as thrown (51001–51003 live only there) and checks they are registered.
    /// </summary>
    public IReadOnlyList<(string Name, string Text)> GeneratedScripts { get; init; } = [];

    /// <summary>
    /// Findings of other offline checks to report with these (the deploy-script generator's problems: sqlcmd command
    /// lines, temp tables across batches, …), merged, de-duplicated and ordered with the rest.
    /// </summary>
    public IReadOnlyList<Finding> ExtraFindings { get; init; } = [];

    /// <summary>Receives one line per phase with its duration ("model: replayed and validated in 2140 ms"), for --verbose. Null: none.</summary>
    public Action<string>? Timings { get; init; }

    /// <summary>Run DacFx code analysis (SR rules) on what could be modelled. Default on.</summary>
    public bool RunCodeAnalysis { get; init; } = true;

    /// <summary>Run the house rules (DBM0xx). Default on.</summary>
    public bool RunHouseRules { get; init; } = true;

    /// <summary>Run <see cref="ModelRules.All"/> on what could be modelled. Default on.</summary>
    public bool RunModelRules { get; init; } = true;
}

/// <summary>The outcome of offline verification.</summary>
public sealed record VerificationResult(IReadOnlyList<Finding> Findings, TSqlModel? Model, IReadOnlyList<ParsedScript> Scripts) : IDisposable
{
    /// <summary>Disposes the model: DacFx keeps a script-backed model's scripts in temp files until then.</summary>
    public void Dispose() => Model?.Dispose();

    /// <summary>True when any finding is an error: the repository must not be released.</summary>
    public bool HasErrors => Findings.Any(f => f.Severity == FindingSeverity.Error);

    public int ErrorCount => Findings.Count(f => f.Severity == FindingSeverity.Error);

    public int WarningCount => Findings.Count(f => f.Severity == FindingSeverity.Warning);
}

/// <summary>
/// DbMerge's offline "compiler" (DESIGN §1): parse every script with ScriptDom, replay migrations/ into a DacFx
/// model (SQL Server 2019), add database/, require Validate() to be clean (SQL71501/SQL71502 fail), run DacFx
/// code analysis, the house rules and the model rules. Every problem is a <see cref="Finding"/> with file and line.
/// </summary>
public static partial class SchemaVerifier
{
    public static VerificationResult Verify(RepositoryLayout layout, VerificationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        options ??= new VerificationOptions();
        var findings = new List<Finding>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        void Phase(string what)
        {
            options.Timings?.Invoke(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what} in {watch.ElapsedMilliseconds} ms"));
            watch.Restart();
        }

        var migrations = layout.Migrations().Select(f => SqlText.Parse(f, findings)).ToList();
        var objects = layout.DatabaseObjects().Select(f => SqlText.Parse(f, findings)).ToList();
        var scenarios = options.IncludeScenarios ? layout.Scenarios().Select(f => SqlText.Parse(f, findings)).ToList() : [];
        var scripts = migrations.Concat(objects).ToList();
        Phase($"parse: {scripts.Count} scripts parsed");

        findings.AddRange(SkippedBatchNotes([.. scripts, .. scenarios]));

        // Scenario procedures are validated against the same model (they are never part of the release's schema).
        var build = BuildModel(migrations, [.. objects, .. WithScenarioSchema(scenarios)]);
        findings.AddRange(build.Findings);
        var model = build.Model;
        Phase("model: migrations replayed, database/ added, DacFx validation");

        // Every rule runs on what could be modelled: a file that does not parse (or a model error) must not hide the
        // findings of the others, so one fix does not just reveal the next problem.
        if (options.RunCodeAnalysis)
        {
            findings.AddRange(Guarded("analysis", () => Analyze(model, build.SourceFiles)));
            Phase("analysis: DacFx code analysis");
        }

        if (options.RunModelRules)
        {
            var context = new ModelRuleContext(layout, model, scripts);
            foreach (var rule in ModelRules.All)
            {
                findings.AddRange(Guarded(rule.Id, () => rule.Check(context)));
            }

            Phase($"model rules: {ModelRules.All.Count} run");
        }

        if (options.RunHouseRules)
        {
            var context = new HouseRuleContext(layout, scripts);
            foreach (var rule in HouseRuleSet.All)
            {
                findings.AddRange(Guarded(rule.Id, () => rule.Check(context)));
            }

            findings.AddRange(Guarded("scenario rules", () => ScenarioRules.Check(layout, scenarios)));
            Phase($"house rules: {HouseRuleSet.All.Count} run, and the scenario rules");
        }

        if (options.RegistryNumbers is not null)
        {
            var readme = options.ReadmeText ?? (File.Exists(Path.Combine(layout.Root, "README.md"))
                ? File.ReadAllText(Path.Combine(layout.Root, "README.md"))
                : string.Empty);
            var generated = options.GeneratedScripts
                .Select(g => SqlText.Parse(new SqlScriptFile(g.Name, g.Name, g.Text), findings))
                .ToList();
            findings.AddRange(Guarded(ErrorNumberSync.RuleId, () => ErrorNumberSync.Check(scripts, generated, options.RegistryNumbers, readme)));
            Phase("DBM030: error numbers checked");
        }

        findings.AddRange(options.ExtraFindings);
        var ordered = findings
            .Distinct()
            .OrderBy(f => f.File, StringComparer.Ordinal)
            .ThenBy(f => f.Line)
            .ThenBy(f => f.Rule, StringComparer.Ordinal)
            .ToList();
        return new VerificationResult(ordered, model, [.. scripts, .. scenarios]);
    }

    /// <summary>
    /// One warning per GO batch left out of the model because it does not parse (the parse errors themselves are
    /// the <c>parse</c> findings): everything that needs the model ran without it.
    /// </summary>
    private static IEnumerable<Finding> SkippedBatchNotes(IEnumerable<ParsedScript> scripts) =>
        scripts.SelectMany(s => s.Skipped.Select(b => new Finding(s.File.RelativePath, b.StartLine, "parse",
            $"lines {b.StartLine}-{b.EndLine} (one GO batch) do not parse and were left out of the offline model; DacFx " +
            "validation, code analysis and the model rules ran without them, so objects defined there may be reported as " +
            "unresolved references until the parse error is fixed.", FindingSeverity.Warning)));

    /// <summary>Runs one rule; a rule that throws is reported as an error finding of that rule, never a crash of validate.</summary>
    private static IReadOnlyList<Finding> Guarded(string rule, Func<IEnumerable<Finding>> check)
    {
        try
        {
            return check().ToList();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return [new Finding(string.Empty, 0, rule,
                $"the check itself failed ({ex.GetType().Name}: {ex.Message.Split('\n', 2)[0].Trim()}); its findings are missing. " +
                "Report this as a bug of the offline verification.")];
        }
    }

    /// <summary>The scenario scripts preceded by the CREATE SCHEMA that a scratch database runs before them (none: none).</summary>
    private static IEnumerable<ParsedScript> WithScenarioSchema(IReadOnlyList<ParsedScript> scenarios) =>
        scenarios.Count == 0
            ? []
            : [SqlText.Parse(new SqlScriptFile(ScenarioScripts.Folder, ScenarioScripts.Folder, ScenarioScripts.CreateSchemaSql)), .. scenarios];

    internal sealed record ModelBuild(TSqlModel Model, IReadOnlyList<Finding> Findings, IReadOnlyDictionary<string, string> SourceFiles);

    /// <summary>Replays the migrations, adds database/ and validates the model.</summary>
    internal static ModelBuild BuildModel(IReadOnlyList<ParsedScript> migrations, IReadOnlyList<ParsedScript> objects)
    {
        var findings = new List<Finding>();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        var model = new TSqlModel(SqlServerVersion.Sql150, new TSqlModelOptions());

        var replay = MigrationReplay.Run(migrations);
        findings.AddRange(replay.Findings);
        foreach (var script in replay.Scripts)
        {
            AddToModel(model, script.File, script.Line, SqlText.PadToLine(script.Text, script.Line), sources, findings);
        }

        foreach (var parsed in objects)
        {
            if (parsed.ModelFragment is not TSqlScript tsql)
            {
                continue;
            }

            foreach (var batch in tsql.Batches)
            {
                var kept = batch.Statements.Where(s => !SqlText.IsSetStatement(s)).ToList();
                if (kept.Count == 0)
                {
                    continue;
                }

                var text = SqlText.PadToLine(TextWithoutSets(batch), batch.StartLine);
                AddToModel(model, parsed.File.RelativePath, batch.StartLine, text, sources, findings);
            }
        }

        var texts = migrations.Concat(objects).ToDictionary(p => p.File.RelativePath, p => p.File.Text, StringComparer.Ordinal);
        var messages = model.Validate();
        var elements = ElementIndex(model);
        foreach (var message in messages)
        {
            if (message.Number == 71502 && IsSystemObjectReference(message.Message))
            {
                continue;
            }

            findings.Add(ToFinding(elements, message, sources, texts));
        }

        // Guard against DacFx silently dropping an object (it ignores what it cannot model).
        foreach (var parsed in objects)
        {
            foreach (var (name, line) in DefinedObjects(parsed))
            {
                if (!elements.ContainsKey(name))
                {
                    findings.Add(new Finding(parsed.File.RelativePath, line, "model",
                        $"{name} is defined here but DacFx did not add it to the model, so it could not be validated."));
                }
            }
        }

        return new ModelBuild(model, findings, sources);
    }

    /// <summary>Procedures, functions and views a database/ script defines, as <c>[schema].[name]</c>, with their lines.</summary>
    internal static IEnumerable<(string Name, int Line)> DefinedObjects(ParsedScript script)
    {
        if (script.ModelFragment is not TSqlScript tsql)
        {
            yield break;
        }

        foreach (var statement in tsql.Batches.SelectMany(b => b.Statements))
        {
            var name = statement switch
            {
                ProcedureStatementBody p => p.ProcedureReference.Name,
                FunctionStatementBody f => f.Name,
                ViewStatementBody v => v.SchemaObjectName,
                _ => null,
            };
            if (name is not null)
            {
                yield return ($"[{name.SchemaIdentifier?.Value ?? "dbo"}].[{name.BaseIdentifier.Value}]", statement.StartLine);
            }
        }
    }

    /// <summary>
    /// The batch's text as DacFx can model it, lines kept where they were: SET statements blanked out, and
    /// <c>CREATE OR ALTER</c> turned into <c>CREATE</c> (DacFx silently drops CREATE OR ALTER objects).
    /// </summary>
    private static string TextWithoutSets(TSqlBatch batch)
    {
        var blank = new HashSet<int>();
        foreach (var statement in batch.Statements)
        {
            if (SqlText.IsSetStatement(statement))
            {
                for (var i = statement.FirstTokenIndex; i <= statement.LastTokenIndex; i++)
                {
                    blank.Add(i);
                }
            }
            else if (statement.GetType().Name.StartsWith("CreateOrAlter", StringComparison.Ordinal))
            {
                var wanted = new Queue<TSqlTokenType>([TSqlTokenType.Or, TSqlTokenType.Alter]);
                for (var i = statement.FirstTokenIndex + 1; i <= statement.LastTokenIndex && wanted.Count > 0; i++)
                {
                    var type = statement.ScriptTokenStream[i].TokenType;
                    if (type == wanted.Peek())
                    {
                        blank.Add(i);
                        wanted.Dequeue();
                    }
                    else if (type is not (TSqlTokenType.WhiteSpace or TSqlTokenType.MultilineComment or TSqlTokenType.SingleLineComment))
                    {
                        break;
                    }
                }
            }
        }

        var builder = new System.Text.StringBuilder();
        for (var i = batch.FirstTokenIndex; i <= batch.LastTokenIndex; i++)
        {
            var token = batch.ScriptTokenStream[i].Text;
            if (blank.Contains(i))
            {
                foreach (var c in token)
                {
                    builder.Append(c == '\n' ? '\n' : ' ');
                }
            }
            else
            {
                builder.Append(token);
            }
        }

        return builder.ToString();
    }

    private static void AddToModel(TSqlModel model, string file, int line, string text, Dictionary<string, string> sources,
        List<Finding> findings)
    {
        var sourceName = $"{file}#{sources.Count + 1}";
        sources[sourceName] = file;
        try
        {
            model.AddOrUpdateObjects(text, sourceName, new TSqlObjectOptions());
        }
        catch (Exception ex) when (ex is DacModelException or ArgumentException or InvalidOperationException)
        {
            findings.Add(new Finding(file, line, "model", $"DacFx could not add this script to the model: {ex.Message}"));
        }
    }

    /// <summary>Maps a DacFx source name (<c>file#n</c>) back to the repository file.</summary>
    internal static string FileOf(string? sourceName, IReadOnlyDictionary<string, string> sources) =>
        sourceName is null ? string.Empty
        : sources.TryGetValue(sourceName, out var file) ? file
        : sourceName;

    private static Finding ToFinding(Dictionary<string, SourceInformation> elements, DacModelMessage message,
        IReadOnlyDictionary<string, string> sources, IReadOnlyDictionary<string, string> texts)
    {
        var rule = $"{message.Prefix}{message.Number}";
        var severity = message.MessageType == DacMessageType.Error || message.Number is 71501 or 71502
            ? FindingSeverity.Error
            : FindingSeverity.Warning;
        var (file, line) = Locate(elements, message.Message, sources, texts);
        return new Finding(file, line, rule, message.Message, severity);
    }

    [GeneratedRegex(@"\[[^\]]+\](?:\.\[[^\]]+\])*")]
    private static partial Regex BracketedName();

    [GeneratedRegex(@"has an unresolved reference to object \[sys\]\.")]
    private static partial Regex SystemObjectReference();

    [GeneratedRegex(@"following objects: (?<list>.*)\.$")]
    private static partial Regex AmbiguousCandidates();

    /// <summary>
    /// True for an SQL71502 that only concerns SQL Server's own objects (<c>sys.foreign_keys</c>, the parameters of
    /// <c>sys.sp_executesql</c>, <c>sys.sp_getapplock</c> …). The model has no reference to master.dacpac (the
    /// Microsoft.SqlServer.Dacpacs.Master package is not available to this build), so DacFx cannot resolve them;
    /// they exist on every server. Everything else stays an error:
    /// <list type="bullet">
    /// <item>"unresolved reference to object [sys].…" is a system object (or one of its parameters/columns);</item>
    /// <item>an ambiguous column reference lists candidates. The unaliased ones (<c>[schema].[object].[column]</c>)
    /// are the objects the alias really binds to: the reference is a system one only when all of those are in
    /// <c>[sys]</c> (a misspelled <c>x.Idd</c> on an app table joined to <c>sys.columns</c> lists <c>[app].[T].[Idd]</c>
    /// and stays an error). With no unaliased candidate, every candidate must be in <c>[sys]</c>.</item>
    /// </list>
    /// </summary>
    internal static bool IsSystemObjectReference(string message)
    {
        if (SystemObjectReference().IsMatch(message))
        {
            return true;
        }

        var ambiguous = AmbiguousCandidates().Match(message);
        if (!ambiguous.Success)
        {
            return false;
        }

        var candidates = ambiguous.Groups["list"].Value
            .Replace(" or ", ", ", StringComparison.Ordinal)
            .Split(", ", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var direct = candidates.Where(c => !c.Contains("::", StringComparison.Ordinal)).ToList();
        var deciding = direct.Count > 0 ? direct : [.. candidates];
        return deciding.Count > 0 && deciding.All(c => c.StartsWith("[sys].", StringComparison.OrdinalIgnoreCase));
    }

    [GeneratedRegex(@"(?:unresolved reference to object |following objects: )(?<name>\[[^\]]+\](?:\.\[[^\]]+\])*)", RegexOptions.IgnoreCase)]
    private static partial Regex UnresolvedReference();

    /// <summary>
    /// DacFx messages carry no position: find the first element named in the message that has source
    /// information (trying shorter prefixes of multi-part names), then, for an unresolved reference, the first line
    /// of that element's text that mentions the unresolved name.
    /// </summary>
    private static (string File, int Line) Locate(Dictionary<string, SourceInformation> elements, string message,
        IReadOnlyDictionary<string, string> sources, IReadOnlyDictionary<string, string> texts)
    {
        foreach (Match match in BracketedName().Matches(message))
        {
            var parts = BracketedName().Match(match.Value).Value.Split("].[");
            for (var n = parts.Length; n >= 1; n--)
            {
                var candidate = string.Join("].[", parts.Take(n));
                candidate = (candidate.StartsWith('[') ? string.Empty : "[") + candidate + (candidate.EndsWith(']') ? string.Empty : "]");
                if (!elements.TryGetValue(candidate, out var source))
                {
                    continue;
                }

                var file = FileOf(source.SourceName, sources);
                var line = source.StartLine;
                var unresolved = UnresolvedReference().Match(message);
                if (unresolved.Success)
                {
                    line = RefineLine(texts.GetValueOrDefault(file), source, unresolved.Groups["name"].Value) ?? line;
                }

                return (file, line);
            }
        }

        return (string.Empty, 0);
    }

    private static Dictionary<string, SourceInformation> ElementIndex(TSqlModel m)
    {
        {
            var index = new Dictionary<string, SourceInformation>(StringComparer.OrdinalIgnoreCase);
            foreach (var element in m.GetObjects(DacQueryScopes.UserDefined))
            {
                var source = element.GetSourceInformation();
                if (source?.SourceName is not null && element.Name.HasName)
                {
                    index.TryAdd(element.Name.ToString(), source);
                }

                foreach (var child in element.GetChildren(DacQueryScopes.UserDefined))
                {
                    var childSource = child.GetSourceInformation();
                    if (childSource?.SourceName is not null && child.Name.HasName)
                    {
                        index.TryAdd(child.Name.ToString(), childSource);
                    }
                }
            }

            return index;
        }
    }

    private static int? RefineLine(string? text, SourceInformation source, string unresolvedName)
    {
        var last = unresolvedName.Trim('[', ']').Split("].[")[^1];
        if (text is null || last.Length == 0)
        {
            return null;
        }

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var pattern = new Regex(@"(?<![\w@#$])\[?" + Regex.Escape(last) + @"\]?(?![\w$#])", RegexOptions.IgnoreCase);
        for (var i = Math.Max(0, source.StartLine - 1); i < lines.Length; i++)
        {
            if (pattern.IsMatch(lines[i]))
            {
                return i + 1;
            }
        }

        return null;
    }

    /// <summary>Runs DacFx code analysis and turns problems (minus <see cref="AnalysisSuppressions"/>) into findings.</summary>
    private static IEnumerable<Finding> Analyze(TSqlModel model, IReadOnlyDictionary<string, string> sources)
    {
        var service = new CodeAnalysisServiceFactory().CreateAnalysisService(model);
        var result = service.Analyze(model);
        foreach (var error in result.InitializationErrors.Concat(result.AnalysisErrors))
        {
            yield return new Finding(string.Empty, 0, "analysis", $"DacFx code analysis failed: {error.Message}");
        }

        foreach (var problem in result.Problems)
        {
            var ruleId = problem.RuleId.Split('.')[^1];
            var objectName = problem.ModelElement?.Name?.HasName == true ? problem.ModelElement.Name.ToString() : null;
            if (AnalysisSuppressions.IsSuppressed(ruleId, objectName))
            {
                continue;
            }

            yield return new Finding(FileOf(problem.SourceName, sources), problem.StartLine, ruleId, problem.Description);
        }
    }
}
