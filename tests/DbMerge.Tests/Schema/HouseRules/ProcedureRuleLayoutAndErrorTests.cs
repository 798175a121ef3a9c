using DbMerge.Schema.HouseRules;
using Xunit;
using static DbMerge.Tests.Schema.HouseRules.ProcedureRuleHarness;

namespace DbMerge.Tests.Schema.HouseRules;

/// <summary>DBM009 (named arguments), DBM010 (file layout), DBM011 (header lists errors), DBM012 (THROW number and message).</summary>
public sealed class ProcedureRuleLayoutAndErrorTests
{
    // ---- DBM009 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("EXEC api.User_Find 42, @Email = NULL; -- call", "api.User_Find")]
    [InlineData("EXEC @Result = sys.sp_getapplock N'DbMerge.X', 'Exclusive'; -- call", "sys.sp_getapplock")]
    [InlineData("EXEC sys.sp_executesql N'SELECT 1 AS One;'; -- call", "sys.sp_executesql")]
    public void A_positional_argument_is_reported_with_the_callee(string statement, string callee)
    {
        var text = Procedure(work: "        DECLARE @Result int;\n        " + statement);
        var finding = AssertSingle(Run(new NamedArgumentsRule(), text), "DBM009", text, "-- call");
        Assert.Contains(callee, finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Named_arguments_everywhere_are_accepted()
    {
        var text = Procedure(work: """
                    DECLARE @Result int, @Rows bigint;
                    EXEC @Result = sys.sp_getapplock @Resource = N'DbMerge.X', @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 1000;
                    EXEC sys.sp_executesql @stmt = N'SELECT @Rows = COUNT_BIG(*) FROM app.Document;', @params = N'@Rows bigint OUTPUT', @Rows = @Rows OUTPUT;
                    EXEC api.User_Find @UserId = @Id, @Email = NULL;
                    EXEC dbmerge.NoArguments;
            """);
        AssertClean(Run(new NamedArgumentsRule(), text));
    }

    // ---- DBM010 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_file_without_the_session_settings_header_is_reported_at_line_1()
    {
        var text = Procedure()[(Procedure().IndexOf("/*", StringComparison.Ordinal))..];
        var finding = AssertSingle(Run(new FileLayoutRule(), text), "DBM010", text, "/*");
        Assert.Contains("SET ANSI_NULLS ON;", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_switches_QUOTED_IDENTIFIER_off_is_reported_at_line_2()
    {
        var text = Procedure().Replace("SET QUOTED_IDENTIFIER ON;", "SET QUOTED_IDENTIFIER OFF;", StringComparison.Ordinal);
        AssertSingle(Run(new FileLayoutRule(), text), "DBM010", text, "QUOTED_IDENTIFIER OFF");
    }

    [Fact]
    public void A_procedure_named_differently_from_its_file_is_reported()
    {
        var text = Procedure(name: "api.X_Z");
        var finding = AssertSingle(Run(new FileLayoutRule(), text), "DBM010", text, "CREATE OR ALTER PROCEDURE", "api.X_Z");
        Assert.Contains("api.X_Y.sql", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_plain_CREATE_PROCEDURE_is_reported()
    {
        var text = Procedure().Replace("CREATE OR ALTER PROCEDURE", "CREATE PROCEDURE", StringComparison.Ordinal);
        var finding = AssertSingle(Run(new FileLayoutRule(), text), "DBM010", text, "CREATE PROCEDURE");
        Assert.Contains("CREATE OR ALTER", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_statement_after_the_object_is_reported()
    {
        var text = Procedure() + "GRANT EXECUTE ON OBJECT::api.X_Y TO DbMergeApp;\nGO\n";
        var finding = AssertSingle(Run(new FileLayoutRule(), text), "DBM010", text, "GRANT EXECUTE");
        Assert.Contains("permissions", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_object_in_the_wrong_schema_folder_or_kind_folder_is_reported()
    {
        var text = Procedure(name: "api.X_Y");
        var wrongSchema = Run(new FileLayoutRule(), text, "database/dbmerge/Procedures/api.X_Y.sql");
        AssertSingle(wrongSchema, "DBM010", text, "CREATE OR ALTER PROCEDURE");
        Assert.Contains("database/api/Procedures/", wrongSchema[0].Message, StringComparison.Ordinal);

        var wrongKind = Run(new FileLayoutRule(), text, "database/api/Functions/api.X_Y.sql");
        AssertSingle(wrongKind, "DBM010", text, "CREATE OR ALTER PROCEDURE");
        Assert.Contains("database/api/Procedures/", wrongKind[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_type_under_database_is_reported_because_types_live_in_migrations()
    {
        var text = "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\nCREATE TYPE dbmerge.IdList AS TABLE (Id int NOT NULL PRIMARY KEY);\nGO\n";
        var finding = AssertSingle(Run(new FileLayoutRule(), text, "database/dbmerge/Types/dbmerge.IdList.sql"), "DBM010", text, "CREATE TYPE", "dbmerge.IdList");
        Assert.Contains("migration", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_permissions_file_may_hold_several_grants_but_needs_the_header()
    {
        const string path = "database/permissions/permissions.DbMergeApp.sql";
        var grants = "GRANT EXECUTE ON SCHEMA::api TO DbMergeApp;\nGO\nGRANT EXECUTE ON OBJECT::dbmerge.X TO DbMergeApp;\nGO\n";
        AssertClean(Run(new FileLayoutRule(), "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\n" + grants, path));
        AssertSingle(Run(new FileLayoutRule(), grants, path), "DBM010", grants, "GRANT EXECUTE ON SCHEMA", "permissions.DbMergeApp");
    }

    [Fact]
    public void A_function_and_a_view_named_as_their_files_are_accepted()
    {
        var function = "SET ANSI_NULLS ON;\nSET QUOTED_IDENTIFIER ON;\nGO\nCREATE OR ALTER FUNCTION dbmerge.F (@X int)\nRETURNS TABLE\nAS\nRETURN (SELECT @X AS X);\nGO\n";
        AssertClean(Run(new FileLayoutRule(), function, "database/dbmerge/Functions/dbmerge.F.sql"));
        var view = "SET ANSI_NULLS ON;\r\nSET QUOTED_IDENTIFIER ON;\r\nGO\r\nCREATE OR ALTER VIEW dbmerge.V\r\nAS\r\nSELECT d.DocumentId FROM app.Document AS d;\r\nGO\r\n";
        AssertClean(Run(new FileLayoutRule(), view, "database/dbmerge/Views/dbmerge.V.sql"));
    }

    // ---- DBM011 -------------------------------------------------------------------------------------------

    [Fact]
    public void A_thrown_number_missing_from_the_header_is_reported_at_the_THROW()
    {
        var text = Procedure(work: CleanWork + "\n        IF @Id < 0\n            THROW 51002, N'api.X_Y: negative id.', 1; -- undocumented");
        var finding = AssertSingle(Run(new HeaderListsErrorsRule(), text), "DBM011", text, "-- undocumented");
        Assert.Contains("51002", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_procedure_without_a_header_comment_is_reported()
    {
        var full = Procedure();
        var start = full.IndexOf("/*", StringComparison.Ordinal);
        var end = full.IndexOf("*/", StringComparison.Ordinal) + 3;
        var text = full[..start] + full[end..];
        var finding = AssertSingle(Run(new HeaderListsErrorsRule(), text), "DBM011", text, "THROW 51000");
        Assert.Contains("no header comment", finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_number_inside_a_longer_number_does_not_document_it()
    {
        var text = Procedure(errors: "510001 something else");
        AssertSingle(Run(new HeaderListsErrorsRule(), text), "DBM011", text, "THROW 51000");
    }

    [Fact]
    public void A_header_that_lists_every_thrown_number_is_accepted()
    {
        var text = Procedure(
            work: CleanWork + "\n        IF @Id < 0\n            THROW 51002, N'api.X_Y: negative id.', 1;\n        RAISERROR(N'api.X_Y: 51003 is not an error number here', 10, 1);",
            errors: "51000 missing\n                 51002 negative");
        AssertClean(Run(new HeaderListsErrorsRule(), text));
    }

    // ---- DBM012 -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("THROW 50001, N'api.X_Y: out of range.', 1; -- throw", "50001")]
    [InlineData("THROW 52000, N'api.X_Y: out of range.', 1; -- throw", "52000")]
    [InlineData("THROW @Number, N'api.X_Y: not a literal.', 1; -- throw", "@Number")]
    public void A_THROW_number_that_is_not_a_literal_in_51000_to_51999_is_reported(string statement, string shown)
    {
        var text = Procedure(work: "        DECLARE @Number int = 51000;\n        " + statement, errors: "50001, 52000, 51000");
        var finding = AssertSingle(Run(new ThrowMessageRule(), text), "DBM012", text, "-- throw");
        Assert.Contains(shown, finding.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_literal_message_without_the_procedure_name_is_reported()
    {
        var text = Procedure(work: "        THROW 51000, N'bad input', 1; -- throw");
        var finding = AssertSingle(Run(new ThrowMessageRule(), text), "DBM012", text, "-- throw");
        Assert.Contains("bad input", finding.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SET @Message = FORMATMESSAGE(N'api.Other: id %d is missing.', @Id); -- assigned")]
    [InlineData("SET @Message = N'api.X_YZ: looks like the name but is not.'; -- assigned")]
    [InlineData("SELECT @Message = N'X_Y: schema missing ' + CONVERT(nvarchar(12), @Id); -- assigned")]
    public void A_message_variable_assigned_without_the_procedure_name_is_reported_at_the_assignment(string assignment)
    {
        var text = Procedure(work: "        " + assignment + "\n        THROW 51000, @Message, 1;");
        AssertSingle(Run(new ThrowMessageRule(), text), "DBM012", text, "-- assigned");
    }

    [Fact]
    public void Messages_that_start_with_the_procedure_name_or_cannot_be_traced_are_accepted()
    {
        var text = Procedure(
            parameters: "@Id int,\n    @Prefix nvarchar(100)",
            work: CleanWork + """

                    THROW 51001, N'api.X_Y: literal.', 1;
                    DECLARE @Other nvarchar(2048) = N'api.X_Y: ' + CONVERT(nvarchar(12), @Id);
                    THROW 51002, @Other, 1;
                    DECLARE @Untraced nvarchar(2048) = CONCAT(@Prefix, N' whatever');
                    THROW 51003, @Untraced, 1;
                    THROW 51004, @Prefix, 1;
            """,
            errors: "51000 51001 51002 51003 51004");
        AssertClean(Run(new ThrowMessageRule(), text));
    }
}
