/*
  0044_create_app_InvitationShareMode
  Why:   the rank of an invitation's share mode (view 1 < edit 2 < admin 3, seeds/004) as reference data, like the role
         tables of 0003 and 0005: the user merge keeps the higher share mode between duplicate pending invitations to
         one channel or organization (the policy row of app.Invitation.Email names this table as its RankTable, 0048),
         instead of a rank hand-copied into T-SQL.
  Locks: creates a new table and fills it; no existing table is touched.
*/
CREATE TABLE app.InvitationShareMode
(
    ShareMode     varchar(10) NOT NULL,
    ShareModeRank tinyint     NOT NULL,
    CONSTRAINT PK_app_InvitationShareMode PRIMARY KEY CLUSTERED (ShareMode),
    CONSTRAINT UQ_app_InvitationShareMode_ShareModeRank UNIQUE (ShareModeRank)
);
GO
INSERT INTO app.InvitationShareMode (ShareMode, ShareModeRank) VALUES ('view', 1), ('edit', 2), ('admin', 3);
GO
