using DbMerge.Schema.HouseRules;
using Xunit;
using static DbMerge.Tests.Schema.HouseRules.ProcedureRuleHarness;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>DBM007 (cursors, row-by-row loops) and DBM008 (dynamic SQL): planted violations and clean counterparts.</summary>
public sealed class ProcedureRuleLoopAndDynamicSqlTests
{
    // ---- DBM007 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_cursor_is_reported_where_it_is_declared_opened_and_fetched()
    {
        var text = Procedure(work: """
                    DECLARE @DocumentId int;
                    DECLARE documents CURSOR LOCAL FAST_FORWARD FOR SELECT d.DocumentId FROM app.Document AS d;
                    OPEN documents;
                    FETCH NEXT FROM documents INTO @DocumentId;
                    CLOSE documents;
                    DEALLOCATE documents;
            """);
        var findings = Run(new NoCursorOrRowLoopRule(), text);
        Assert.Equal(3, findings.Count);
        AssertFinding(findings[0], "DBM007", text, "CURSOR LOCAL");
        AssertFinding(findings[1], "DBM007", text, "OPEN documents");
        AssertFinding(findings[2], "DBM007", text, "FETCH NEXT");
    }

    [Fact]
    public void A_cursor_variable_is_reported()
    {
        var text = Procedure(work: "        DECLARE @Documents CURSOR;\n        SET @Documents = CURSOR FOR SELECT d.DocumentId FROM app.Document AS d; -- assigned");
        var findings = Run(new NoCursorOrRowLoopRule(), text);
        Assert.Equal(2, findings.Count);
        AssertFinding(findings[0], "DBM007", text, "DECLARE @Documents CURSOR");
        AssertFinding(findings[1], "DBM007", text, "-- assigned");
    }

    [Fact]
    public void A_loop_that_picks_the_next_id_with_MIN_and_updates_that_row_is_row_by_row()
    {
        var text = Procedure(work: """
                    DECLARE @Next int = 0;
                    WHILE 1 = 1 -- loop
                    BEGIN
                        SELECT @Next = MIN(d.DocumentId) FROM app.Document AS d WHERE d.DocumentId > @Next;
                        IF @Next IS NULL BREAK;
                        UPDATE app.Document SET Title = N'x' WHERE DocumentId = @Next;
                    END;
            """);
        var finding = AssertSingle(Run(new NoCursorOrRowLoopRule(), text), "DBM007", text, "-- loop");
        Assert.Contains("@Next", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loop_that_picks_TOP_1_into_variables_and_calls_a_procedure_per_row_is_row_by_row()
    {
        var text = Procedure(work: """
                    DECLARE @Source int, @Target int;
                    WHILE EXISTS (SELECT 1 FROM dbmerge.MergeRun AS r WHERE r.Status = 'queued') -- loop
                    BEGIN
                        SELECT TOP (1) @Source = r.SourceUserId, @Target = r.TargetUserId FROM dbmerge.MergeRun AS r WHERE r.Status = 'queued' ORDER BY r.MergeRunId;
                        EXEC api.User_Merge @SourceUserId = @Source, @TargetUserId = @Target, @Reason = N'queue';
                    END;
            """);
        AssertSingle(Run(new NoCursorOrRowLoopRule(), text), "DBM007", text, "-- loop");
    }

    [Fact]
    public void A_loop_that_deletes_TOP_1_per_iteration_is_row_by_row()
    {
        var text = Procedure(work: """
                    WHILE 1 = 1 -- loop
                    BEGIN
                        DELETE TOP (1) FROM app.LinkTrace WHERE UserId = @Id;
                        IF @@ROWCOUNT = 0 BREAK;
                    END;
            """);
        var finding = AssertSingle(Run(new NoCursorOrRowLoopRule(), text), "DBM007", text, "-- loop");
        Assert.Contains("TOP (1)", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_loop_that_deletes_TOP_BatchSize_per_iteration_is_batched()
    {
        var text = Procedure(work: """
                    DECLARE @BatchSize int = 5000;
                    WHILE 1 = 1
                    BEGIN
                        DELETE TOP (@BatchSize) FROM app.LinkTrace WHERE UserId = @Id;
                        IF @@ROWCOUNT < @BatchSize BREAK;
                    END;
            """);
        AssertClean(Run(new NoCursorOrRowLoopRule(), text));
    }

    [Fact]
    public void A_keyset_loop_that_finds_each_batch_boundary_and_updates_a_range_is_batched()
    {
        var text = Procedure(work: """
                    DECLARE @BatchSize int = 5000, @From int = 0, @To int;
                    WHILE 1 = 1
                    BEGIN
                        SET @To = NULL;
                        SELECT @To = MAX(b.DocumentId)
                        FROM (SELECT TOP (@BatchSize) d.DocumentId FROM app.Document AS d WHERE d.DocumentId > @From ORDER BY d.DocumentId) AS b;
                        IF @To IS NULL BREAK;
                        UPDATE app.Document SET Title = N'x' WHERE DocumentId > @From AND DocumentId <= @To;
                        INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload) VALUES ('batch', CONCAT(N'batch:', @To), N'{}');
                        SET @From = @To;
                    END;
            """);
        AssertClean(Run(new NoCursorOrRowLoopRule(), text));
    }

    [Fact]
    public void A_loop_that_picks_the_next_key_but_updates_a_key_range_is_batched()
    {
        var text = Procedure(work: """
                    DECLARE @From int = 0, @To int;
                    WHILE 1 = 1
                    BEGIN
                        SELECT @To = MIN(d.DocumentId) FROM app.Document AS d WHERE d.DocumentId > @From + 10000;
                        IF @To IS NULL BREAK;
                        UPDATE app.Document SET Title = N'x' WHERE DocumentId BETWEEN @From AND @To;
                        SET @From = @To;
                    END;
            """);
        AssertClean(Run(new NoCursorOrRowLoopRule(), text));
    }

    // ---- DBM008 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("EXEC (@Sql); -- dyn")]
    [InlineData("EXEC (N'SELECT d.Title FROM app.Document AS d WHERE d.DocumentId = ' + @IdText); -- dyn")]
    [InlineData("EXECUTE (N'SELECT 1'); -- dyn")]
    [InlineData("EXEC @Sql; -- dyn")]
    public void EXEC_of_a_string_or_a_variable_is_reported(string statement)
    {
        var text = Procedure(work: "        DECLARE @Sql nvarchar(max) = N'SELECT 1', @IdText nvarchar(12) = N'1';\n        " + statement);
        var finding = AssertSingle(Run(new DynamicSqlRule(), text), "DBM008", text, "-- dyn");
        Assert.Contains("sp_executesql", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_string_parameter_concatenated_into_sp_executesql_text_is_reported_where_it_is_concatenated()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Title nvarchar(255)",
            work: """
                    DECLARE @Sql nvarchar(max);
                    SET @Sql = N'SELECT d.DocumentId FROM app.Document AS d WHERE d.Title = N''' + @Title + N''';'; -- concat
                    EXEC sys.sp_executesql @stmt = @Sql; -- call
            """);
        var findings = Run(new DynamicSqlRule(), text);
        Assert.Equal(2, findings.Count);
        AssertFinding(findings[0], "DBM008", text, "-- concat");
        Assert.Contains("@Title", findings[0].Message, StringComparison.Ordinal);
        AssertFinding(findings[1], "DBM008", text, "-- call");
        Assert.Contains("without @params", findings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_catalog_column_concatenated_without_QUOTENAME_is_reported()
    {
        var text = Procedure(work: """
                    DECLARE @Sql nvarchar(max);
                    SELECT @Sql = N'SELECT COUNT_BIG(*) AS Rows FROM ' + t.name + N' WHERE UserId = @UserId' -- column
                    FROM sys.tables AS t WHERE t.object_id = @Id;
                    EXEC sys.sp_executesql @stmt = @Sql, @params = N'@UserId int', @UserId = @Id;
            """);
        var finding = AssertSingle(Run(new DynamicSqlRule(), text), "DBM008", text, "-- column");
        Assert.Contains("t.name", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unquoted_value_is_traced_through_intermediate_variables()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Table sysname",
            work: """
                    DECLARE @From nvarchar(300), @Sql nvarchar(max);
                    SET @From = N' FROM app.' + @Table; -- inner
                    SET @Sql = N'SELECT COUNT_BIG(*) AS Rows' + @From;
                    EXEC sys.sp_executesql @stmt = @Sql, @params = N'@Id int', @Id = @Id;
            """);
        var finding = AssertSingle(Run(new DynamicSqlRule(), text), "DBM008", text, "-- inner");
        Assert.Contains("@Table", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SQL_text_passed_in_as_a_parameter_is_reported()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Sql nvarchar(max)",
            work: "        EXEC sys.sp_executesql @stmt = @Sql; -- run");
        var findings = Run(new DynamicSqlRule(), text);
        Assert.NotEmpty(findings);
        Assert.All(findings, f => AssertFinding(f, "DBM008", text, "-- run"));
        Assert.Contains(findings, f => f.Message.Contains("did not build", StringComparison.Ordinal));
    }

    [Fact]
    public void A_params_text_built_from_a_function_result_is_reported()
    {
        var text = Procedure(work: """
                    DECLARE @Sql nvarchar(max) = N'SELECT d.DocumentId FROM app.Document AS d WHERE d.DocumentId > @Last;';
                    DECLARE @KeyType sysname = TYPE_NAME(56);
                    DECLARE @Params nvarchar(200) = N'@Last ' + @KeyType; -- params
                    EXEC sys.sp_executesql @stmt = @Sql, @params = @Params, @Last = @Id;
            """);
        var finding = AssertSingle(Run(new DynamicSqlRule(), text), "DBM008", text, "-- params");
        Assert.Contains("@KeyType", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dynamic_SQL_in_a_permissions_script_is_traced_too()
    {
        const string path = "database/permissions/permissions.DbMergeApp.sql";
        var text = """
            SET ANSI_NULLS ON;
            SET QUOTED_IDENTIFIER ON;
            GO
            DECLARE @Role sysname = N'DbMergeApp', @Sql nvarchar(max);
            SELECT @Sql = N'GRANT EXECUTE ON SCHEMA::api TO ' + p.name + N';' FROM sys.database_principals AS p WHERE p.name = @Role; -- grant
            EXEC sys.sp_executesql @stmt = @Sql;
            SET @Sql = N'GRANT EXECUTE ON SCHEMA::api TO ' + QUOTENAME(@Role) + N';';
            EXEC sys.sp_executesql @stmt = @Sql;
            GO
            """;
        var findings = Run(new DynamicSqlRule(), text, path);
        Assert.NotEmpty(findings);
        Assert.Contains(findings, f => f.Rule == "DBM008" && f.Line == LineOf(text, "-- grant") && f.Message.Contains("p.name", StringComparison.Ordinal)
                                       && f.Message.Contains("permissions.DbMergeApp", StringComparison.Ordinal));
        Assert.DoesNotContain(findings, f => f.Line == LineOf(text, "QUOTENAME(@Role)"));
    }

    [Fact]
    public void Literals_QUOTENAME_numbers_and_parameters_are_accepted()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Schema sysname,\n    @Table sysname,\n    @Timeout int",
            work: """
                    DECLARE @Sql nvarchar(max), @Columns nvarchar(max), @Params nvarchar(200);
                    SELECT @Columns = STRING_AGG(CONVERT(nvarchar(max), N't.' + QUOTENAME(c.name)), N', ')
                    FROM sys.columns AS c WHERE c.object_id = OBJECT_ID(@Schema + N'.' + @Table);
                    SET @Sql = N'SET LOCK_TIMEOUT ' + CONVERT(nvarchar(12), @Timeout) + N'; SELECT ' + ISNULL(@Columns, N'1')
                        + N' FROM ' + QUOTENAME(@Schema) + N'.' + QUOTENAME(@Table) + N' AS t'
                        + CASE WHEN @Id IS NULL THEN N'' ELSE N' WHERE t.' + QUOTENAME(N'Id') + N' = @Id' END + N';';
                    SET @Sql += N' SELECT N' + QUOTENAME(@Table, N'''') + N' AS TableName;';
                    SET @Params = N'@Id ' + QUOTENAME(N'int');
                    EXEC sys.sp_executesql @stmt = @Sql, @params = @Params, @Id = @Id;
            """);
        AssertClean(Run(new DynamicSqlRule(), text));
    }

    [Fact]
    public void A_statement_of_quoted_names_only_needs_no_params()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Schema sysname,\n    @Table sysname,\n    @Constraint sysname",
            work: """
                    DECLARE @Sql nvarchar(max) = N'ALTER TABLE ' + QUOTENAME(@Schema) + N'.' + QUOTENAME(@Table)
                        + N' WITH CHECK CHECK CONSTRAINT ' + QUOTENAME(@Constraint) + N';';
                    EXEC sys.sp_executesql @stmt = @Sql;
                    EXEC sys.sp_executesql @stmt = N'SELECT 1 AS One;';
            """);
        AssertClean(Run(new DynamicSqlRule(), text));
    }

    [Fact]
    public void Only_the_listed_procedure_may_run_its_constraint_definition_as_SQL()
    {
        static string Text(string name) => Procedure(
            name: name,
            work: """
                    DECLARE @Definition nvarchar(max), @Predicate nvarchar(max), @Sql nvarchar(max);
                    SELECT @Definition = cc.definition FROM sys.check_constraints AS cc WHERE cc.object_id = @Id;
                    SET @Predicate = N'NOT (' + @Definition + N')'; -- predicate
                    SET @Sql = N'SELECT COUNT_BIG(*) AS Violations FROM app.Invitation AS t WHERE ' + @Predicate + N';';
                    EXEC sys.sp_executesql @stmt = @Sql, @params = N'@Id int', @Id = @Id;
            """).Replace("api.X_Y:", name + ":", StringComparison.Ordinal);

        Assert.Contains(DynamicSqlRule.Trusted, t => t.Object == "dbmerge.Constraint_ValidateBatch" && t.Variable == "@Definition");
        AssertClean(Run(new DynamicSqlRule(), Text("dbmerge.Constraint_ValidateBatch"), "database/dbmerge/Procedures/dbmerge.Constraint_ValidateBatch.sql"));

        var other = Text("dbmerge.Constraint_Other");
        var finding = AssertSingle(Run(new DynamicSqlRule(), other, "database/dbmerge/Procedures/dbmerge.Constraint_Other.sql"),
            "DBM008", other, "-- predicate", "dbmerge.Constraint_Other");
        Assert.Contains("@Definition", finding.Message, StringComparison.Ordinal);
        Assert.Contains("cc.definition", finding.Message, StringComparison.Ordinal);
    }
}
