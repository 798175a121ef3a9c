/*
  0003_create_app_document_tables
  Why:   documents arranged in trees, their direct accesses, pending e-mail invitations, link traces and
         favorites (seeds/000, seeds/001).
         Document.Path is a django-treebeard materialized path: fixed 7-character steps over the alphabet
         0-9A-Z, binary collation so ordering and comparisons are by code point; Depth is derived from it.
         A document's scope is its tree's root (LEFT(Path, 7)).
         Roles are reference data ranked reader (1) < commenter < editor < administrator < owner (5).
  Locks: creates new tables; no existing table is touched.
*/
CREATE TABLE app.DocumentRole
(
    Role     varchar(20) NOT NULL,
    RoleRank tinyint     NOT NULL,
    CONSTRAINT PK_app_DocumentRole PRIMARY KEY CLUSTERED (Role),
    CONSTRAINT UQ_app_DocumentRole_RoleRank UNIQUE (RoleRank)
);
GO
INSERT INTO app.DocumentRole (Role, RoleRank)
VALUES ('reader', 1), ('commenter', 2), ('editor', 3), ('administrator', 4), ('owner', 5);
GO
CREATE TABLE app.Document
(
    DocumentId    int            IDENTITY(1, 1) NOT NULL,
    Path          varchar(252)   COLLATE Latin1_General_BIN2 NOT NULL,
    Depth         AS CONVERT(smallint, DATALENGTH(Path) / 7) PERSISTED,
    Title         nvarchar(255)  NOT NULL CONSTRAINT DF_app_Document_Title DEFAULT (N''),
    CreatorUserId int            NULL,
    CreatedAt     datetime2(3)   NOT NULL CONSTRAINT DF_app_Document_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt     datetime2(3)   NOT NULL CONSTRAINT DF_app_Document_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Document PRIMARY KEY CLUSTERED (DocumentId),
    CONSTRAINT FK_app_Document_CreatorUserId_app_User FOREIGN KEY (CreatorUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT CK_app_Document_Path_Steps CHECK (DATALENGTH(Path) % 7 = 0 AND DATALENGTH(Path) BETWEEN 7 AND 252),
    CONSTRAINT CK_app_Document_Path_Alphabet CHECK (Path NOT LIKE '%[^0-9A-Z]%')
);
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_app_Document_Path ON app.Document (Path);
GO
CREATE NONCLUSTERED INDEX IX_app_Document_CreatorUserId ON app.Document (CreatorUserId);
GO
CREATE TABLE app.DocumentAccess
(
    DocumentAccessId int           IDENTITY(1, 1) NOT NULL,
    DocumentId       int           NOT NULL,
    UserId           int           NULL,
    Team             nvarchar(100) NULL,
    Role             varchar(20)   NOT NULL,
    CreatedAt        datetime2(3)  NOT NULL CONSTRAINT DF_app_DocumentAccess_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt        datetime2(3)  NOT NULL CONSTRAINT DF_app_DocumentAccess_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_DocumentAccess PRIMARY KEY CLUSTERED (DocumentAccessId),
    CONSTRAINT FK_app_DocumentAccess_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId),
    CONSTRAINT FK_app_DocumentAccess_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT FK_app_DocumentAccess_Role_app_DocumentRole FOREIGN KEY (Role) REFERENCES app.DocumentRole (Role),
    CONSTRAINT CK_app_DocumentAccess_UserOrTeam CHECK ((UserId IS NOT NULL AND Team IS NULL) OR (UserId IS NULL AND Team IS NOT NULL))
);
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_app_DocumentAccess_DocumentId_UserId ON app.DocumentAccess (DocumentId, UserId) WHERE UserId IS NOT NULL;
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_app_DocumentAccess_DocumentId_Team ON app.DocumentAccess (DocumentId, Team) WHERE Team IS NOT NULL;
GO
CREATE NONCLUSTERED INDEX IX_app_DocumentAccess_UserId ON app.DocumentAccess (UserId) INCLUDE (DocumentId, Role);
GO
CREATE TABLE app.DocumentInvitation
(
    DocumentInvitationId int           IDENTITY(1, 1) NOT NULL,
    DocumentId           int           NOT NULL,
    Email                nvarchar(254) COLLATE Latin1_General_100_CI_AS NOT NULL,
    Role                 varchar(20)   NOT NULL,
    IssuerUserId         int           NULL,
    CreatedAt            datetime2(3)  NOT NULL CONSTRAINT DF_app_DocumentInvitation_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_DocumentInvitation PRIMARY KEY CLUSTERED (DocumentInvitationId),
    CONSTRAINT FK_app_DocumentInvitation_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId),
    CONSTRAINT FK_app_DocumentInvitation_Role_app_DocumentRole FOREIGN KEY (Role) REFERENCES app.DocumentRole (Role),
    CONSTRAINT FK_app_DocumentInvitation_IssuerUserId_app_User FOREIGN KEY (IssuerUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT UQ_app_DocumentInvitation_DocumentId_Email UNIQUE (DocumentId, Email)
);
GO
CREATE NONCLUSTERED INDEX IX_app_DocumentInvitation_Email ON app.DocumentInvitation (Email);
GO
CREATE NONCLUSTERED INDEX IX_app_DocumentInvitation_IssuerUserId ON app.DocumentInvitation (IssuerUserId);
GO
CREATE TABLE app.LinkTrace
(
    LinkTraceId int          IDENTITY(1, 1) NOT NULL,
    DocumentId  int          NOT NULL,
    UserId      int          NOT NULL,
    CreatedAt   datetime2(3) NOT NULL CONSTRAINT DF_app_LinkTrace_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_LinkTrace PRIMARY KEY CLUSTERED (LinkTraceId),
    CONSTRAINT FK_app_LinkTrace_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId),
    CONSTRAINT FK_app_LinkTrace_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT UQ_app_LinkTrace_DocumentId_UserId UNIQUE (DocumentId, UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_LinkTrace_UserId ON app.LinkTrace (UserId) INCLUDE (DocumentId);
GO
CREATE TABLE app.DocumentFavorite
(
    DocumentFavoriteId int          IDENTITY(1, 1) NOT NULL,
    DocumentId         int          NOT NULL,
    UserId             int          NOT NULL,
    CreatedAt          datetime2(3) NOT NULL CONSTRAINT DF_app_DocumentFavorite_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_DocumentFavorite PRIMARY KEY CLUSTERED (DocumentFavoriteId),
    CONSTRAINT FK_app_DocumentFavorite_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId),
    CONSTRAINT FK_app_DocumentFavorite_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId),
    CONSTRAINT UQ_app_DocumentFavorite_DocumentId_UserId UNIQUE (DocumentId, UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_DocumentFavorite_UserId ON app.DocumentFavorite (UserId) INCLUDE (DocumentId);
GO
