using System.CommandLine;
using System.Globalization;
using DbMerge.Client.Errors;
using DbMerge.Deployment.ConstraintValidation;
using DbMerge.Runner.Cli;

namespace DbMerge.Runner.Verbs;

/// <summary>
/// <c>dbmerge constraints list|validate|trust</c>: non-blocking validation of untrusted CHECK and FOREIGN KEY
/// constraints (DESIGN section 6). Deploy sequence for DBAs: migrate → constraints validate → (maintenance
/// window, optional) constraints trust.
/// </summary>
internal static class ConstraintsVerbs
{
    public const int DefaultBatchSize = 5000;
    public const int DefaultLockTimeoutMs = 5000;

    public static Command Build(CliContext context)
    {
        var constraints = new Command("constraints",
            "Untrusted CHECK / FOREIGN KEY constraints: list them, validate existing rows in short batches, mark them trusted.");
        constraints.Subcommands.Add(BuildList(context));
        constraints.Subcommands.Add(BuildValidate(context));
        constraints.Subcommands.Add(BuildViolations(context));
        constraints.Subcommands.Add(BuildTrust(context));
        return constraints;
    }

    private static Command BuildList(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var list = new Command("list", "List every untrusted CHECK and FOREIGN KEY constraint with its validation state.")
        {
            connection, json,
        };
        Verb.SetAction(list, context, async (parse, ct) =>
        {
            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var states = await ConstraintValidator.GetStatesAsync(connectionString, ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { constraints = states });
            }
            else if (states.Count == 0)
            {
                context.Out.WriteLine("No untrusted CHECK or FOREIGN KEY constraints.");
            }
            else
            {
                foreach (var s in states)
                {
                    context.Out.WriteLine($"{s.QualifiedName} on {s.SchemaName}.{s.TableName} ({s.ConstraintType}): {s.Describe()}");
                }
            }

            return ExitCodes.Success;
        });
        return list;
    }

    private static Command BuildValidate(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var constraint = new Option<string?>("--constraint")
        {
            Description = "The constraint to validate (schema.name or name). Default: every untrusted constraint.",
        };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Rows per batch, 1..100000. Each batch is one short read and one short transaction.",
            DefaultValueFactory = _ => DefaultBatchSize,
        };
        var maxSeconds = new Option<int?>("--max-seconds")
        {
            Description = "Stop after about this many seconds (resumable: the next run continues where this one stopped).",
        };
        var restart = new Option<bool>("--restart")
        {
            Description = "Start over: delete the constraint's recorded violations and progress, then validate from the first row.",
        };
        var validate = new Command("validate",
            "Check existing rows of untrusted constraints in keyset batches (no table lock, resumable), recording each violating row " +
            "in dbmerge.ConstraintViolation. Exit 0: no violations; 1: violations found; 6: stopped by --max-seconds before done.")
        {
            connection, json, constraint, batchSize, maxSeconds, restart,
        };
        Verb.SetAction(validate, context, (parse, ct) => AmbiguousNameIsUsage(async () =>
        {
            // Limits are checked here, not in a parse validator: option defaults are not applied during validation.
            if (parse.GetValue(batchSize) is < 1 or > 100_000)
            {
                throw new CliException(ExitCodes.Usage, $"--batch-size must be between 1 and 100000 (got {parse.GetValue(batchSize)}).");
            }

            if (parse.GetValue(maxSeconds) is < 1)
            {
                throw new CliException(ExitCodes.Usage, $"--max-seconds must be at least 1 (got {parse.GetValue(maxSeconds)}).");
            }

            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var validator = new ConstraintValidator(connectionString);
            var names = parse.GetValue(constraint) is { } one
                ? [ConstraintName.Parse(one)]
                : (await validator.ListUntrustedAsync(ct).ConfigureAwait(false))
                    .Select(s => new ConstraintName(s.SchemaName, s.ConstraintName))
                    .ToList();
            if (names.Count == 0)
            {
                context.Error.WriteLine("dbmerge: no untrusted constraints to validate.");
            }

            var deadline = parse.GetValue(maxSeconds) is { } s ? DateTime.UtcNow.AddSeconds(s) : (DateTime?)null;
            var outcomes = new List<object>();
            long violations = 0;
            var stoppedEarly = false;
            var refused = false;
            var reporter = ProgressReporter.Create(context);
            await reporter.RunAsync(async scope =>
            {
                foreach (var name in names)
                {
                    var remaining = deadline - DateTime.UtcNow;
                    if (remaining is { } r && r <= TimeSpan.Zero)
                    {
                        stoppedEarly = true;
                        break;
                    }

                    var task = scope.AddTask(name.ToString(), 1);
                    try
                    {
                        var outcome = await validator.ValidateAsync(
                            name,
                            new ConstraintValidationOptions
                            {
                                BatchSize = parse.GetValue(batchSize),
                                MaxDuration = remaining,
                                Restart = parse.GetValue(restart),
                            },
                            new InlineProgress(p => task.Update(p.RowsChecked, Math.Max(p.EstimatedTotalRows ?? 0, p.RowsChecked),
                                $"{p.ViolationCount} violation(s)")),
                            ct).ConfigureAwait(false);
                        var last = outcome.Last;
                        violations += last.ViolationCount;
                        stoppedEarly |= !outcome.Completed;
                        task.Complete(outcome.Completed
                            ? $"done, {last.RowsChecked} rows checked, {last.ViolationCount} violation(s)"
                            : $"stopped at key {last.LastKey?.ToString(CultureInfo.InvariantCulture) ?? "(start)"}, {last.RowsChecked} rows checked so far, {last.ViolationCount} violation(s) so far");
                        outcomes.Add(new
                        {
                            constraint = last.QualifiedName,
                            table = $"{last.SchemaName}.{last.TableName}",
                            type = last.ConstraintType,
                            status = last.Status,
                            completed = outcome.Completed,
                            lastKey = last.LastKey,
                            rowsChecked = last.RowsChecked,
                            violations = last.ViolationCount,
                            batches = outcome.Batches,
                            seconds = Math.Round(outcome.Elapsed.TotalSeconds, 3),
                        });
                    }
                    catch (DbMergeException ex) when (names.Count > 1 && ex.ErrorNumber != ErrorRegistry.ConstraintNotOperator)
                    {
                        // Validating all: one unsupported or unreadable constraint (51402, 51411-51413, ...) must not stop the
                        // others; not being an operator (51404) would refuse every one, so it stops the run.
                        refused = true;
                        task.Complete($"skipped: error {ex.ErrorNumber}");
                        context.Error.WriteLine($"dbmerge: error {ex.ErrorNumber}: {ex.Message}");
                        outcomes.Add(new { constraint = name.ToString(), error = ex.ErrorNumber, message = ex.Message });
                    }
                }

                return 0;
            }).ConfigureAwait(false);

            if (parse.GetValue(json))
            {
                context.WriteJson(new { constraints = outcomes, violations, completed = !stoppedEarly });
            }
            else
            {
                context.Out.WriteLine(stoppedEarly
                    ? $"{violations} violation(s) recorded so far; validation stopped before the end (run again to resume)."
                    : $"{violations} violation(s).");
            }

            return violations > 0 ? ExitCodes.Findings
                : stoppedEarly ? ExitCodes.NotConfirmed
                : refused ? ExitCodes.Refused
                : ExitCodes.Success;
        }), "Progress is recorded after every batch: run 'dbmerge constraints validate' again to resume where it stopped.");
        return validate;
    }

    private static Command BuildViolations(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var constraint = new Option<string>("--constraint") { Description = "The constraint (schema.name or name).", Required = true };
        var top = new Option<int>("--top") { Description = "At most this many rows, lowest key first.", DefaultValueFactory = _ => 100 };
        var violations = new Command("violations",
            "Show the recorded violating rows of a validated constraint (key and constrained columns), to fix them before re-validating with --restart.")
        {
            connection, json, constraint, top,
        };
        Verb.SetAction(violations, context, (parse, ct) => AmbiguousNameIsUsage(async () =>
        {
            if (parse.GetValue(top) < 1)
            {
                throw new CliException(ExitCodes.Usage, $"--top must be at least 1 (got {parse.GetValue(top)}).");
            }

            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var rows = await new ConstraintValidator(connectionString)
                .GetViolationsAsync(ConstraintName.Parse(parse.GetValue(constraint)!), parse.GetValue(top), ct).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                context.WriteJson(new { violations = rows });
            }
            else
            {
                foreach (var row in rows)
                {
                    context.Out.WriteLine($"{row.SchemaName}.{row.TableName} {row.KeyColumn}={row.KeyValue}: {row.RowValues}");
                }

                context.Error.WriteLine($"{rows.Count} recorded violation(s) shown.");
            }

            return rows.Count > 0 ? ExitCodes.Findings : ExitCodes.Success;
        }));
        return violations;
    }

    private static Command BuildTrust(CliContext context)
    {
        var connection = CommonOptions.Connection();
        var json = CommonOptions.Json();
        var yes = CommonOptions.Yes();
        var constraint = new Option<string>("--constraint")
        {
            Description = "The validated constraint to mark trusted (schema.name or name).",
            Required = true,
        };
        var lockTimeout = new Option<int>("--lock-timeout")
        {
            Description = "Milliseconds to wait for the schema-modification lock, 1..600000; then give up (exit 7).",
            DefaultValueFactory = _ => DefaultLockTimeoutMs,
        };
        var trust = new Command("trust",
            "Mark a fully validated constraint trusted (ALTER TABLE … WITH CHECK CHECK CONSTRAINT). Takes a schema-modification lock and " +
            "scans the whole table: run it in a maintenance window. Refused while recorded violations remain.")
        {
            connection, json, yes, constraint, lockTimeout,
        };
        Verb.SetAction(trust, context, (parse, ct) => AmbiguousNameIsUsage(async () =>
        {
            if (parse.GetValue(lockTimeout) is < 1 or > 600_000)
            {
                throw new CliException(ExitCodes.Usage, $"--lock-timeout must be between 1 and 600000 ms (got {parse.GetValue(lockTimeout)}).");
            }

            var name = ConstraintName.Parse(parse.GetValue(constraint)!);
            var confirmed = parse.GetValue(yes);
            var warning =
                $"warning: trusting {name} runs ALTER TABLE … WITH CHECK CHECK CONSTRAINT: it takes a schema-modification (Sch-M) lock " +
                "on the table and scans every row while holding it; every query on the table waits until it finishes.";
            if (!confirmed && !context.IsInteractive)
            {
                // Nothing can be asked: refuse before connecting.
                context.Error.WriteLine(warning);
                throw new CliException(ExitCodes.NotConfirmed, "not confirmed: pass --yes to trust the constraint without a terminal.");
            }

            var connectionString = CommonOptions.ResolveConnection(context, parse.GetValue(connection));
            var validator = new ConstraintValidator(connectionString);
            var resolved = await validator.ResolveAsync(name, ct).ConfigureAwait(false);
            var state = (await validator.ListUntrustedAsync(ct).ConfigureAwait(false))
                .FirstOrDefault(s => string.Equals(s.SchemaName, resolved.Schema, StringComparison.OrdinalIgnoreCase) &&
                                     string.Equals(s.ConstraintName, resolved.Name, StringComparison.OrdinalIgnoreCase));
            if (state is not null)
            {
                context.Error.WriteLine(
                    $"{state.QualifiedName} on {state.SchemaName}.{state.TableName} ({(state.EstimatedTotalRows is { } rows ? $"~{rows:N0}" : "unknown number of")} rows): validation {state.Describe()}.");
                context.Error.WriteLine(warning);
                // Refusals (violations remain, never validated) come from the procedure (51405/51406): no point asking first.
                var refusable = state.State != ConstraintValidationState.Done || state.RecordedViolations > 0;
                if (!refusable && !confirmed &&
                    !context.Confirm($"Trust {state.QualifiedName} now, on {CommonOptions.DescribeTarget(connectionString)}?"))
                {
                    throw new CliException(ExitCodes.NotConfirmed, "not confirmed; nothing was changed.");
                }
            }

            ConstraintTrustResult result;
            try
            {
                result = await validator.TrustAsync(resolved, TimeSpan.FromMilliseconds(parse.GetValue(lockTimeout)), cancellationToken: ct)
                    .ConfigureAwait(false);
            }
            catch (Microsoft.Data.SqlClient.SqlException ex) when (SqlErrors.IsConstraintViolation(ex))
            {
                // Rows violate it after all (e.g. it was disabled while rows were written): nothing changed.
                throw new CliException(ExitCodes.Findings,
                    $"{resolved} is violated by existing rows (error 547); nothing changed. Run 'dbmerge constraints validate --constraint {resolved} --restart'.");
            }
            if (parse.GetValue(json))
            {
                context.WriteJson(result);
            }
            else
            {
                context.Out.WriteLine(result.AlreadyTrusted
                    ? $"{result.SchemaName}.{result.ConstraintName} was already trusted; nothing changed."
                    : $"{result.SchemaName}.{result.ConstraintName} on {result.SchemaName}.{result.TableName} is now trusted.");
            }

            return ExitCodes.Success;
        }), "Trusting runs in one transaction: if it was still running it is rolled back and the constraint stays untrusted " +
            "('dbmerge constraints list' shows it).");
        return trust;
    }

    /// <summary>A constraint name found in several schemas is a usage error (pass schema.name).</summary>
    private static async Task<int> AmbiguousNameIsUsage(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (ArgumentException ex) when (ex is not ArgumentOutOfRangeException && ex.Message.Contains("several schemas", StringComparison.Ordinal))
        {
            throw new CliException(ExitCodes.Usage, ex.Message);
        }
    }

    /// <summary>Reports synchronously on the caller's thread (System.Progress would post to a thread pool).</summary>
    private sealed class InlineProgress(Action<ConstraintProgress> report) : IProgress<ConstraintProgress>
    {
        public void Report(ConstraintProgress value) => report(value);
    }
}
