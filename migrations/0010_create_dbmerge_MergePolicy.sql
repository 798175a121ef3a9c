/*
  0010_create_dbmerge_MergePolicy
  Why:   user merge policies are data (DESIGN §5): one row per column that references a user, saying what
         dbmerge.User_MergeCore does with the source user's rows. Every foreign key to app.User must have a
         row here: the merge refuses to start when one is missing (run time, from sys.foreign_keys) and
         offline validation fails (rule DBM040, which reads the INSERT below).
         Policies:
           move             re-point the source's rows to the target (no collision possible);
           keep-higher-role both users hold the same resource (CollisionKey): the target keeps the higher
                            role of the two (RankTable), the source row is deleted; other rows re-pointed;
           dedupe           both users hold the same CollisionKey: the source row is deleted; others re-pointed;
           merge-children   duplicate parent (same CollisionKey): its children are re-pointed to the target's
                            parent, then it is deleted; an unresolvable child collision refuses the merge;
           readdress        not a foreign key: pending invitations addressed to the source's e-mail are
                            re-addressed to the target's, keep-higher-role between duplicates;
           refuse           any reference refuses the merge (for references that must be resolved by hand).
         dbmerge.MergeRun/MergeJournal keep user ids WITHOUT foreign keys on purpose: history must survive
         whatever later happens to the users, and a policy on them would rewrite history.
  Locks: creates a new table and fills it; no existing table is touched.
*/
CREATE TABLE dbmerge.MergePolicy
(
    SchemaName   sysname        NOT NULL,
    TableName    sysname        NOT NULL,
    ColumnName   sysname        NOT NULL,
    Policy       varchar(20)    NOT NULL,
    CollisionKey nvarchar(200)  NULL,
    RankTable    nvarchar(261)  NULL,
    ApplyOrder   smallint       NOT NULL,
    Description  nvarchar(400)  NOT NULL,
    CONSTRAINT PK_dbmerge_MergePolicy PRIMARY KEY CLUSTERED (SchemaName, TableName, ColumnName),
    CONSTRAINT UQ_dbmerge_MergePolicy_ApplyOrder UNIQUE (ApplyOrder),
    CONSTRAINT CK_dbmerge_MergePolicy_Policy CHECK (Policy IN ('move', 'keep-higher-role', 'dedupe', 'merge-children', 'readdress', 'refuse')),
    CONSTRAINT CK_dbmerge_MergePolicy_CollisionKey CHECK (Policy IN ('move', 'refuse') OR CollisionKey IS NOT NULL),
    CONSTRAINT CK_dbmerge_MergePolicy_RankTable CHECK (Policy <> 'keep-higher-role' OR RankTable IS NOT NULL)
);
GO
INSERT INTO dbmerge.MergePolicy (SchemaName, TableName, ColumnName, Policy, CollisionKey, RankTable, ApplyOrder, Description)
VALUES
    (N'app', N'Enrollment',         N'UserId',           'merge-children',   N'CourseId',       NULL,                  10, N'Same course: submissions re-pointed to the target''s enrollment, the final qualification moved when only the source has one, the source enrollment deleted; both qualified refuses the merge.'),
    (N'app', N'DocumentAccess',     N'UserId',           'keep-higher-role', N'DocumentId',     N'app.DocumentRole',   20, N'User grants only (team grants untouched): the target keeps the higher role.'),
    (N'app', N'OrganizationMember', N'UserId',           'keep-higher-role', N'OrganizationId', N'app.OrganizationRole', 30, N'The target keeps the higher organization role.'),
    (N'app', N'ChannelMember',      N'UserId',           'keep-higher-role', N'ChannelId',      N'app.ChannelRole',    40, N'The target keeps the higher channel role.'),
    (N'app', N'LinkTrace',          N'UserId',           'dedupe',           N'DocumentId',     NULL,                  50, N'One trace per document and user.'),
    (N'app', N'DocumentFavorite',   N'UserId',           'dedupe',           N'DocumentId',     NULL,                  60, N'One favorite per document and user.'),
    (N'app', N'ReactionUser',       N'UserId',           'dedupe',           N'ReactionId',     NULL,                  70, N'One reaction per reaction row and user.'),
    (N'app', N'DocumentInvitation', N'Email',            'readdress',        N'DocumentId',     N'app.DocumentRole',   80, N'Invitations to the source''s e-mail re-addressed to the target''s; the higher role kept between duplicates.'),
    (N'app', N'Invitation',         N'Email',            'readdress',        N'ChannelId|OrganizationId', NULL,       90, N'Pending invitations to the source''s e-mail re-addressed to the target''s; one pending per channel or organization kept, with the higher share mode (view < edit < admin).'),
    (N'app', N'Document',           N'CreatorUserId',    'move',             NULL,              NULL,                 100, N'Documents created by the source.'),
    (N'app', N'DocumentInvitation', N'IssuerUserId',     'move',             NULL,              NULL,                 110, N'Document invitations issued by the source.'),
    (N'app', N'Thread',             N'CreatorUserId',    'move',             NULL,              NULL,                 120, N'Threads created by the source.'),
    (N'app', N'Comment',            N'AuthorUserId',     'move',             NULL,              NULL,                 130, N'Comments written by the source.'),
    (N'app', N'Invitation',         N'SenderUserId',     'move',             NULL,              NULL,                 140, N'Invitations sent by the source.'),
    (N'app', N'Invitation',         N'InvitedUserId',    'move',             NULL,              NULL,                 150, N'Invitations resolved to the source.'),
    (N'app', N'Collection',         N'OwnerUserId',      'move',             NULL,              NULL,                 160, N'Collections owned by the source.'),
    (N'app', N'User',               N'MergedIntoUserId', 'move',             NULL,              NULL,                 170, N'Accounts merged earlier into the source now point at the target; the source itself ends inactive, merged into the target.');
GO
