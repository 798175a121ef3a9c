SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  scenario.DemoMerge
  Purpose:      the seed of `dbmerge demo`: two accounts of one person (Ada's old account, the merge source, and her
                current one, the target) plus a third user (Charles), overlapping in every table a merge touches:
                document accesses (a team grant too), link traces, favorites, a thread with comments and a reaction,
                document and channel invitations to both e-mails, channel and organization memberships, a collection,
                and course enrollments with submissions and a final qualification. And the anonymous session
                'demo-session-ada' of Ada's browser before she logs in, with two collections, 'Favourites' and
                'Reading list' (the old account's collection of that name comes to her current account with the
                merge, so the demo's session claim at login keeps both and renames the claimed one 'Reading list (2)').
  Deployed:     only into scratch databases (DbMerge.Scenarios.ScratchDatabase), after migration.
  Transaction:  owns one transaction: all rows or none.
  Result set:   one row: SourceUserId int, TargetUserId int, SessionId varchar(64) (the anonymous session).
  Example:      EXEC scenario.DemoMerge;
*/
CREATE OR ALTER PROCEDURE scenario.DemoMerge
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @T int, @S int, @C int, @D1 int, @D2 int, @D3 int, @Th int, @Cm int, @R int, @Ch int, @Org int, @Co1 int, @Co2 int, @E1 int;

    BEGIN TRANSACTION;

    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'ada@example.org', N'Ada Lovelace');
    SET @T = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'ada.lovelace@old.example', N'Ada (old account)');
    SET @S = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.[User] (Email, DisplayName) VALUES (N'charles@example.org', N'Charles Babbage');
    SET @C = CONVERT(int, SCOPE_IDENTITY());

    INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000001', N'Notes on the engine', @S);
    SET @D1 = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000002', N'Difference engine', @C);
    SET @D2 = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Document (Path, Title, CreatorUserId) VALUES ('D000003', N'Letters', @T);
    SET @D3 = CONVERT(int, SCOPE_IDENTITY());

    INSERT INTO app.DocumentAccess (DocumentId, UserId, Role)
    VALUES (@D1, @S, 'owner'), (@D2, @S, 'editor'), (@D2, @T, 'reader'), (@D3, @T, 'owner'), (@D3, @S, 'commenter');
    INSERT INTO app.DocumentAccess (DocumentId, Team, Role) VALUES (@D2, N'analytical-society', 'reader');
    INSERT INTO app.LinkTrace (DocumentId, UserId) VALUES (@D2, @S), (@D2, @T), (@D3, @S);
    INSERT INTO app.DocumentFavorite (DocumentId, UserId) VALUES (@D2, @S), (@D2, @T), (@D1, @S);

    INSERT INTO app.Thread (DocumentId, CreatorUserId) VALUES (@D2, @S);
    SET @Th = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@Th, @S, N'The engine might compose music.');
    SET @Cm = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Comment (ThreadId, AuthorUserId, Body) VALUES (@Th, @C, N'Indeed.');
    INSERT INTO app.Reaction (CommentId, Emoji) VALUES (@Cm, N'+1');
    SET @R = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.ReactionUser (ReactionId, UserId) VALUES (@R, @S), (@R, @T), (@R, @C);

    INSERT INTO app.DocumentInvitation (DocumentId, Email, Role, IssuerUserId)
    VALUES (@D2, N'ada.lovelace@old.example', 'editor', @C), (@D2, N'ada@example.org', 'reader', @C), (@D3, N'charles@example.org', 'reader', @S);

    INSERT INTO app.Channel (Name) VALUES (N'engines');
    SET @Ch = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.ChannelMember (ChannelId, UserId, Role) VALUES (@Ch, @S, 'editor'), (@Ch, @T, 'viewer');
    INSERT INTO app.Invitation (ChannelId, Email, ShareMode, SenderUserId)
    VALUES (@Ch, N'ada.lovelace@old.example', 'edit', @C), (@Ch, N'ada@example.org', 'view', @C);

    INSERT INTO app.Organization (Name) VALUES (N'Analytical Society');
    SET @Org = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.OrganizationMember (OrganizationId, UserId, Role) VALUES (@Org, @S, 'admin'), (@Org, @T, 'viewer');

    INSERT INTO app.Collection (Name, OwnerUserId) VALUES (N'Reading list', @S);
    INSERT INTO app.Collection (Name, AnonymousSessionId) VALUES (N'Favourites', 'demo-session-ada'), (N'Reading list', 'demo-session-ada');

    INSERT INTO app.Course (Name) VALUES (N'Mathematics I');
    SET @Co1 = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Course (Name) VALUES (N'Mathematics II');
    SET @Co2 = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@Co1, @S);
    SET @E1 = CONVERT(int, SCOPE_IDENTITY());
    INSERT INTO app.Enrollment (CourseId, UserId) VALUES (@Co1, @T), (@Co2, @S);
    INSERT INTO app.Submission (EnrollmentId, Content) VALUES (@E1, N'Note G'), (@E1, N'Bernoulli numbers');
    INSERT INTO app.FinalQualification (EnrollmentId, Grade) VALUES (@E1, N'A');

    COMMIT TRANSACTION;

    SELECT @S AS SourceUserId, @T AS TargetUserId, CONVERT(varchar(64), 'demo-session-ada') AS SessionId;
END;
GO
