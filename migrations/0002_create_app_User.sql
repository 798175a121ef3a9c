/*
  0002_create_app_User
  Why:   the user account. E-mail is unique among active users only, compared case-insensitively
         whatever the database collation (explicit CI collation on the column). A merged-away account is
         inactive and points at the account it was merged into.
  Locks: creates a new table; no existing table is touched.
*/
CREATE TABLE app.[User]
(
    UserId           int            IDENTITY(1, 1) NOT NULL,
    Email            nvarchar(254)  COLLATE Latin1_General_100_CI_AS NOT NULL,
    DisplayName      nvarchar(200)  NULL,
    IsActive         bit            NOT NULL CONSTRAINT DF_app_User_IsActive DEFAULT (1),
    MergedIntoUserId int            NULL,
    CreatedAt        datetime2(3)   NOT NULL CONSTRAINT DF_app_User_CreatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedAt        datetime2(3)   NOT NULL CONSTRAINT DF_app_User_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    CONSTRAINT PK_app_User PRIMARY KEY CLUSTERED (UserId),
    CONSTRAINT FK_app_User_MergedIntoUserId_app_User FOREIGN KEY (MergedIntoUserId) REFERENCES app.[User] (UserId),
    CONSTRAINT CK_app_User_MergedIntoUserId_NotSelf CHECK (MergedIntoUserId <> UserId),
    CONSTRAINT CK_app_User_Merged_IsInactive CHECK (MergedIntoUserId IS NULL OR IsActive = 0),
    CONSTRAINT CK_app_User_Email_NotBlank CHECK (LEN(Email) > 0)
);
GO
CREATE UNIQUE NONCLUSTERED INDEX UQ_app_User_Email_Active ON app.[User] (Email) WHERE IsActive = 1;
GO
CREATE NONCLUSTERED INDEX IX_app_User_Email ON app.[User] (Email) INCLUDE (IsActive);
GO
CREATE NONCLUSTERED INDEX IX_app_User_MergedIntoUserId ON app.[User] (MergedIntoUserId) WHERE MergedIntoUserId IS NOT NULL;
GO
