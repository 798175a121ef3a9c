/*
  0004_create_app_discussion_tables
  Why:   comment threads on documents, comments, emoji reactions and the users who reacted (seeds/000).
         A user reacts with one emoji at most once per comment.
  Locks: creates new tables; no existing table is touched.
*/
CREATE TABLE app.Thread
(
    ThreadId      int          IDENTITY(1, 1) NOT NULL,
    DocumentId    int          NOT NULL,
    CreatorUserId int          NULL,
    CreatedAt     datetime2(3) NOT NULL CONSTRAINT DF_app_Thread_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Thread PRIMARY KEY CLUSTERED (ThreadId),
    CONSTRAINT FK_app_Thread_DocumentId_app_Document FOREIGN KEY (DocumentId) REFERENCES app.Document (DocumentId),
    CONSTRAINT FK_app_Thread_CreatorUserId_app_User FOREIGN KEY (CreatorUserId) REFERENCES app.[User] (UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_Thread_DocumentId ON app.Thread (DocumentId);
GO
CREATE NONCLUSTERED INDEX IX_app_Thread_CreatorUserId ON app.Thread (CreatorUserId);
GO
CREATE TABLE app.Comment
(
    CommentId    int           IDENTITY(1, 1) NOT NULL,
    ThreadId     int           NOT NULL,
    AuthorUserId int           NULL,
    Body         nvarchar(max) NOT NULL,
    CreatedAt    datetime2(3)  NOT NULL CONSTRAINT DF_app_Comment_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt    datetime2(3)  NOT NULL CONSTRAINT DF_app_Comment_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Comment PRIMARY KEY CLUSTERED (CommentId),
    CONSTRAINT FK_app_Comment_ThreadId_app_Thread FOREIGN KEY (ThreadId) REFERENCES app.Thread (ThreadId),
    CONSTRAINT FK_app_Comment_AuthorUserId_app_User FOREIGN KEY (AuthorUserId) REFERENCES app.[User] (UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_Comment_ThreadId ON app.Comment (ThreadId);
GO
CREATE NONCLUSTERED INDEX IX_app_Comment_AuthorUserId ON app.Comment (AuthorUserId);
GO
CREATE TABLE app.Reaction
(
    ReactionId int          IDENTITY(1, 1) NOT NULL,
    CommentId  int          NOT NULL,
    Emoji      nvarchar(32) COLLATE Latin1_General_100_BIN2 NOT NULL,
    CreatedAt  datetime2(3) NOT NULL CONSTRAINT DF_app_Reaction_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Reaction PRIMARY KEY CLUSTERED (ReactionId),
    CONSTRAINT FK_app_Reaction_CommentId_app_Comment FOREIGN KEY (CommentId) REFERENCES app.Comment (CommentId),
    CONSTRAINT UQ_app_Reaction_CommentId_Emoji UNIQUE (CommentId, Emoji)
);
GO
CREATE TABLE app.ReactionUser
(
    ReactionId int          NOT NULL,
    UserId     int          NOT NULL,
    CreatedAt  datetime2(3) NOT NULL CONSTRAINT DF_app_ReactionUser_CreatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_ReactionUser PRIMARY KEY CLUSTERED (ReactionId, UserId),
    CONSTRAINT FK_app_ReactionUser_ReactionId_app_Reaction FOREIGN KEY (ReactionId) REFERENCES app.Reaction (ReactionId),
    CONSTRAINT FK_app_ReactionUser_UserId_app_User FOREIGN KEY (UserId) REFERENCES app.[User] (UserId)
);
GO
CREATE NONCLUSTERED INDEX IX_app_ReactionUser_UserId ON app.ReactionUser (UserId);
GO
