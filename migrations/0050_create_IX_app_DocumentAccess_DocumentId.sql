/*
  0050_create_IX_app_DocumentAccess_DocumentId
  Why:   issue 10. Both indexes of app.DocumentAccess that lead with DocumentId are filtered (UserId IS NOT NULL,
         Team IS NOT NULL), so neither serves a plain DocumentId = @x: api.Document_Move's owner capture, its
         scope-change delete, api.Document_Tree's access list and the check of FK_app_DocumentAccess_DocumentId
         when a document is deleted scanned the whole table (and, under locking read committed, waited behind
         any uncommitted access write anywhere). This index is unfiltered and covers those reads (UserId, Team,
         Role included), so reading or deleting one document's accesses is one range seek.
         Review of every foreign-key column of every app table (DESIGN §4: a delete or a lookup must seek):
           app.User.MergedIntoUserId            IX_app_User_MergedIntoUserId, filtered on MergedIntoUserId IS NOT
                                                NULL: serves, an equality on the column implies its filter.
           app.Document.CreatorUserId           IX_app_Document_CreatorUserId: serves.
           app.DocumentAccess.DocumentId        ADDED here (the two filtered ones do not serve DocumentId = @x).
           app.DocumentAccess.UserId            IX_app_DocumentAccess_UserId: serves.
           app.DocumentInvitation.DocumentId    UQ_app_DocumentInvitation_DocumentId_Email (leads with it): serves.
           app.DocumentInvitation.IssuerUserId  IX_app_DocumentInvitation_IssuerUserId: serves.
           app.LinkTrace.DocumentId / UserId    UQ_app_LinkTrace_DocumentId_UserId / IX_app_LinkTrace_UserId: serve.
           app.DocumentFavorite.DocumentId / UserId  UQ_…_DocumentId_UserId / IX_app_DocumentFavorite_UserId: serve.
           app.Thread.DocumentId / CreatorUserId     IX_app_Thread_DocumentId / IX_app_Thread_CreatorUserId: serve.
           app.Comment.ThreadId / AuthorUserId       IX_app_Comment_ThreadId / IX_app_Comment_AuthorUserId: serve.
           app.Reaction.CommentId               UQ_app_Reaction_CommentId_Emoji (leads with it): serves.
           app.ReactionUser.ReactionId / UserId PK_app_ReactionUser (ReactionId, UserId) / IX_app_ReactionUser_UserId: serve.
           app.OrganizationMember.OrganizationId / UserId  UQ_…_OrganizationId_UserId / IX_…_UserId: serve.
           app.ChannelMember.ChannelId / UserId UQ_app_ChannelMember_ChannelId_UserId / IX_app_ChannelMember_UserId: serve.
           app.Invitation.ChannelId / OrganizationId  IX_app_Invitation_ChannelId (0034) / …_OrganizationId (0035): serve.
           app.Invitation.SenderUserId / InvitedUserId  IX_app_Invitation_SenderUserId / …_InvitedUserId: serve.
           app.Collection.OwnerUserId           IX_app_Collection_OwnerUserId: serves.
           app.Enrollment.CourseId / UserId     UQ_app_Enrollment_CourseId_UserId / IX_app_Enrollment_UserId: serve.
           app.Submission.EnrollmentId          IX_app_Submission_EnrollmentId: serves.
           app.FinalQualification.EnrollmentId  UQ_app_FinalQualification_EnrollmentId: serves.
         Deliberately left without an index: the Role columns that reference the role reference tables
         (app.DocumentAccess.Role, app.DocumentInvitation.Role → app.DocumentRole; app.OrganizationMember.Role →
         app.OrganizationRole; app.ChannelMember.Role → app.ChannelRole). Those tables hold 2–5 rows written
         only by migrations and are never deleted from, so no FK check reads the referencing table, and a
         5-valued column is no seek predicate any DbMerge statement uses. The offline test
         ForeignKeyIndexTests keeps this list true for every app foreign key, present and future.
  Locks: on editions with online index operations (EngineEdition 3 = Enterprise/Developer/Evaluation,
         5 = Azure SQL Database, 8 = Azure SQL Managed Instance) the index is built ONLINE: a short shared
         lock at the start and a short lock at the end; reads and writes of app.DocumentAccess continue
         meanwhile. Other editions build it offline (a shared lock on app.DocumentAccess for the whole build:
         writers wait) and print a warning so the DBA can schedule it. Each lock wait is bounded by
         LOCK_TIMEOUT (1222 → the Migrator retries). One index per migration, so the transaction DbUp wraps
         around this script holds nothing else.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
IF CAST(SERVERPROPERTY('EngineEdition') AS int) IN (3, 5, 8)
BEGIN
    CREATE NONCLUSTERED INDEX IX_app_DocumentAccess_DocumentId ON app.DocumentAccess (DocumentId) INCLUDE (UserId, Team, Role) WITH (ONLINE = ON);
END
ELSE
BEGIN
    PRINT N'warning: this edition has no online index operations; building IX_app_DocumentAccess_DocumentId offline (writers to app.DocumentAccess wait for the build).';
    CREATE NONCLUSTERED INDEX IX_app_DocumentAccess_DocumentId ON app.DocumentAccess (DocumentId) INCLUDE (UserId, Team, Role);
END
GO
