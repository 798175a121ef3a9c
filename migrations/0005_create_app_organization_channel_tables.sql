/*
  0005_create_app_organization_channel_tables
  Why:   organizations and channels with their members, and invitations by e-mail (seeds/004).
         As in the source system before its change, an invitation targets a channel only, with share mode
         view | edit; a later migration adds the organization target (and admin) without blocking the table.
         Member roles are reference data: organization viewer (1) < editor (2) < admin (3); channel
         viewer (1) < editor (2).
  Locks: creates new tables; no existing table is touched.
*/
CREATE TABLE app.OrganizationRole
(
    Role     varchar(20) NOT NULL,
    RoleRank tinyint     NOT NULL,
    CONSTRAINT PK_app_OrganizationRole PRIMARY KEY CLUSTERED (Role),
    CONSTRAINT UQ_app_OrganizationRole_RoleRank UNIQUE (RoleRank)
);
GO
INSERT INTO app.OrganizationRole (Role, RoleRank) VALUES ('viewer', 1), ('editor', 2), ('admin', 3);
GO
CREATE TABLE app.ChannelRole
(
    Role     varchar(20) NOT NULL,
    RoleRank tinyint     NOT NULL,
    CONSTRAINT PK_app_ChannelRole PRIMARY KEY CLUSTERED (Role),
    CONSTRAINT UQ_app_ChannelRole_RoleRank UNIQUE (RoleRank)
);
GO
INSERT INTO app.ChannelRole (Role, RoleRank) VALUES ('viewer', 1), ('editor', 2);
GO
CREATE TABLE app.Organization
(
    OrganizationId int           IDENTITY(1, 1) NOT NULL,
    Name           nvarchar(200) NOT NULL,
    CreatedAt      datetime2(3)  NOT NULL CONSTRAINT DF_app_Organization_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Organization PRIMARY KEY CLUSTERED (OrganizationId)
);
GO
CREATE TABLE app.OrganizationMember
(
    OrganizationMemberId int          IDENTITY(1, 1) NOT NULL,
    OrganizationId       int          NOT NULL,
    UserId               int          NOT NULL,
    Role                 varchar(20)  NOT NULL,
    CreatedAt            datetime2(3) NOT NULL CONSTRAINT DF_app_OrganizationMember_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt            datetime2(3) NOT NULL CONSTRAINT DF_app_OrganizationMember_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_OrganizationMember PRIMARY KEY CLUSTERED (OrganizationMemberId),
    CONSTRAINT FK_app_OrganizationMember_OrganizationId_app_Organization FOREIGN KEY (OrganizationId) REFERENCES app.Organization (OrganizationId),
    CONSTRAINT FK_app_OrganizationMember_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT FK_app_OrganizationMember_Role_app_OrganizationRole FOREIGN KEY (Role) REFERENCES app.OrganizationRole (Role),
    CONSTRAINT UQ_app_OrganizationMember_OrganizationId_UserId UNIQUE (OrganizationId, UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_OrganizationMember_UserId ON app.OrganizationMember (UserId) INCLUDE (OrganizationId, Role);
GO
CREATE TABLE app.Channel
(
    ChannelId int           IDENTITY(1, 1) NOT NULL,
    Name      nvarchar(200) NOT NULL,
    CreatedAt datetime2(3)  NOT NULL CONSTRAINT DF_app_Channel_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Channel PRIMARY KEY CLUSTERED (ChannelId)
);
GO
CREATE TABLE app.ChannelMember
(
    ChannelMemberId int          IDENTITY(1, 1) NOT NULL,
    ChannelId       int          NOT NULL,
    UserId          int          NOT NULL,
    Role            varchar(20)  NOT NULL,
    CreatedAt       datetime2(3) NOT NULL CONSTRAINT DF_app_ChannelMember_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt       datetime2(3) NOT NULL CONSTRAINT DF_app_ChannelMember_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_ChannelMember PRIMARY KEY CLUSTERED (ChannelMemberId),
    CONSTRAINT FK_app_ChannelMember_ChannelId_app_Channel FOREIGN KEY (ChannelId) REFERENCES app.Channel (ChannelId),
    CONSTRAINT FK_app_ChannelMember_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT FK_app_ChannelMember_Role_app_ChannelRole FOREIGN KEY (Role) REFERENCES app.ChannelRole (Role),
    CONSTRAINT UQ_app_ChannelMember_ChannelId_UserId UNIQUE (ChannelId, UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_ChannelMember_UserId ON app.ChannelMember (UserId) INCLUDE (ChannelId, Role);
GO
CREATE TABLE app.Invitation
(
    InvitationId  int           IDENTITY(1, 1) NOT NULL,
    ChannelId     int           NOT NULL,
    Email         nvarchar(254) COLLATE Latin1_General_100_CI_AS NOT NULL,
    ShareMode     varchar(10)   NOT NULL,
    SenderUserId  int           NULL,
    InvitedUserId int           NULL,
    Status        varchar(10)   NOT NULL CONSTRAINT DF_app_Invitation_Status DEFAULT ('pending'),
    CreatedAt     datetime2(3)  NOT NULL CONSTRAINT DF_app_Invitation_CreatedAt DEFAULT (SYSUTCDATETIME()),
    RespondedAt   datetime2(3)  NULL,
    CONSTRAINT PK_app_Invitation PRIMARY KEY CLUSTERED (InvitationId),
    CONSTRAINT FK_app_Invitation_ChannelId_app_Channel FOREIGN KEY (ChannelId) REFERENCES app.Channel (ChannelId),
    CONSTRAINT FK_app_Invitation_SenderUserId_app_User FOREIGN KEY (SenderUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT FK_app_Invitation_InvitedUserId_app_User FOREIGN KEY (InvitedUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT CK_app_Invitation_ShareMode CHECK (ShareMode IN ('view', 'edit')),
    CONSTRAINT CK_app_Invitation_Status CHECK (Status IN ('pending', 'accepted', 'declined', 'revoked'))
);
GO
CREATE NONCLUSTERED INDEX IX_app_Invitation_ChannelId ON app.Invitation (ChannelId);
GO
CREATE NONCLUSTERED INDEX IX_app_Invitation_Email_Status ON app.Invitation (Email, Status);
GO
CREATE NONCLUSTERED INDEX IX_app_Invitation_SenderUserId ON app.Invitation (SenderUserId);
GO
CREATE NONCLUSTERED INDEX IX_app_Invitation_InvitedUserId ON app.Invitation (InvitedUserId);
GO
