SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.DemoReconciliation
  Purpose:      the seed of the reconciliation part of `dbmerge demo`: two more people with two accounts each, the
                pairs of a two-row reconciliation CSV — Grace Hopper (grace@example.org, and g.hopper@old.example
                with a document she owns and a favorite) and Alan Turing (alan@example.org, and a.turing@old.example
                with an organization membership and a course enrollment).
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  owns one transaction: all rows or none.
  Result set:   one row: GraceUserId int, GraceOldUserId int, AlanUserId int, AlanOldUserId int, GraceEmail nvarchar(254),
                GraceOldEmail nvarchar(254), AlanEmail nvarchar(254), AlanOldEmail nvarchar(254).
  Example:      EXEC scenario.DemoReconciliation;
*/
CREATE OR ALTER PROCEDURE scenario.DemoReconciliation
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Grace int, @GraceOld int, @Alan int, @AlanOld int, @Doc int, @Org int, @Course int;

    BEGIN TRANSACTION;

    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'grace@example.org', N'Grace Hopper');
    SET @Grace = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'g.hopper@old.example', N'Grace (old account)');
    SET @GraceOld = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'alan@example.org', N'Alan Turing');
    SET @Alan = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'a.turing@old.example', N'Alan (old account)');
    SET @AlanOld = CONVERT(int, SCOPE_IDENTITY());

    INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('R000001', N'COBOL drafts', @GraceOld);
    SET @Doc = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role) VALUES (@Doc, @GraceOld, 'owner'), (@Doc, @Alan, 'reader');
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@Doc, @GraceOld), (@Doc, @AlanOld);

    INSERT INTO app.Organization (Name) VALUES (N'Computing Society');
    SET @Org = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@Org, @AlanOld, 'editor'), (@Org, @Alan, 'viewer');

    INSERT INTO app.Course (Name) VALUES (N'Computable Numbers');
    SET @Course = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@Course, @AlanOld);

    COMMIT TRANSACTION;

    SELECT @Grace AS GraceUserId, @GraceOld AS GraceOldUserId, @Alan AS AlanUserId, @AlanOld AS AlanOldUserId,
           CONVERT(nvarchar(254), N'grace@example.org') AS GraceEmail, CONVERT(nvarchar(254), N'g.hopper@old.example') AS GraceOldEmail,
           CONVERT(nvarchar(254), N'alan@example.org') AS AlanEmail, CONVERT(nvarchar(254), N'a.turing@old.example') AS AlanOldEmail;
END;
GO
