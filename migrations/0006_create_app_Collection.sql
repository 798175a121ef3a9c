/*
  0006_create_app_Collection
  Why:   user collections (seeds/002), owned either by a user or, before login, by an anonymous session id
         (exactly one of the two).
  Locks: creates a new table; no existing table is touched.
*/
CREATE TABLE app.Collection
(
    CollectionId       int           IDENTITY(1, 1) NOT NULL,
    Name               nvarchar(200) NOT NULL,
    OwnerUserId        int           NULL,
    AnonymousSessionId varchar(64)   COLLATE Latin1_General_100_BIN2 NULL,
    CreatedAt          datetime2(3)  NOT NULL CONSTRAINT DF_app_Collection_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt          datetime2(3)  NOT NULL CONSTRAINT DF_app_Collection_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_Collection PRIMARY KEY CLUSTERED (CollectionId),
    CONSTRAINT FK_app_Collection_OwnerUserId_app_User FOREIGN KEY (OwnerUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT CK_app_Collection_OwnerOrSession CHECK ((OwnerUserId IS NOT NULL AND AnonymousSessionId IS NULL) OR (OwnerUserId IS NULL AND AnonymousSessionId IS NOT NULL))
);
GO
CREATE NONCLUSTERED INDEX IX_app_Collection_OwnerUserId ON app.Collection (OwnerUserId);
GO
CREATE NONCLUSTERED INDEX IX_app_Collection_AnonymousSessionId ON app.Collection (AnonymousSessionId) WHERE AnonymousSessionId IS NOT NULL;
GO
