SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Collection_ListLegacy
  Purpose:
    The collections owned by the legacy accounts of @UserId, with the legacy account id, so the application
    offers "migrate data" only when there is something to migrate (seeds/002: no legacy account, or no
    collections -> nothing to offer -> zero rows). A legacy account of a user is another account with the same
    e-mail (case-insensitively: app.User.Email is Latin1_General_100_CI_AS whatever the database collation),
    inactive (IsActive = 0) and never merged (MergedIntoUserId IS NULL): merged accounts' collections already
    moved with the merge, and an active account with the same e-mail cannot exist (UQ_app_User_Email_Active).
    Only for an active user (the one who could claim them with api.Collection_ClaimLegacy).
    Seeks: the user on PK_app_User; the legacy accounts on IX_app_User_Email (Email) INCLUDE (IsActive), a key
    lookup each for MergedIntoUserId (a handful of accounts share one e-mail); their collections on
    IX_app_Collection_OwnerUserId (OwnerUserId, CollectionId) with key lookups for Name and the timestamps.
    Reads only: under READ COMMITTED each row lock is released as the read moves on (none under RCSI).
  Transaction: none (reads only; it neither begins nor requires one).
  Result set: zero or more rows, ordered by LegacyUserId, CollectionId:
    LegacyUserId int, LegacyCreatedAt datetime2(3), CollectionId int, Name nvarchar(200),
    CreatedAt datetime2(3), UpdatedAt datetime2(3)
  Errors:
    51550  @UserId is missing
    51552  the user does not exist, is inactive or was merged away
  Example:
    EXEC api.Collection_ListLegacy @UserId = 42;
*/
CREATE OR ALTER PROCEDURE api.Collection_ListLegacy
    @UserId int
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message    nvarchar(2048);
    DECLARE @Email      nvarchar(254);
    DECLARE @IsActive   bit;
    DECLARE @MergedInto int;

    BEGIN TRY
        IF @UserId IS NULL
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ListLegacy: @UserId is required (got NULL).');
            THROW 51550, @Message, 1;
        END;

        SELECT @Email = u.Email, @IsActive = u.IsActive, @MergedInto = u.MergedIntoUserId
        FROM app.[User] AS u                                   -- PK_app_User
        WHERE u.UserId = @UserId;

        IF @Email IS NULL OR @IsActive = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Collection_ListLegacy: user %d does not exist or is inactive (merged into %s).',
                @UserId, ISNULL(CONVERT(nvarchar(12), @MergedInto), N'nobody'));
            THROW 51552, @Message, 1;
        END;

        SELECT l.UserId AS LegacyUserId, l.CreatedAt AS LegacyCreatedAt,
               c.CollectionId, c.Name, c.CreatedAt, c.UpdatedAt
        FROM app.[User] AS l                                   -- IX_app_User_Email seek (+ lookup for MergedIntoUserId)
        INNER JOIN app.Collection AS c                         -- IX_app_Collection_OwnerUserId seek (+ lookup)
            ON c.OwnerUserId = l.UserId
        WHERE l.Email = @Email
          AND l.IsActive = 0
          AND l.MergedIntoUserId IS NULL
          AND l.UserId <> @UserId
        ORDER BY l.UserId, c.CollectionId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
