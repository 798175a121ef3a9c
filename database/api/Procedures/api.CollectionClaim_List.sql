SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.CollectionClaim_List
  Purpose:
    The history of collection claims (dbmerge.CollectionClaim / CollectionClaimItem): what moved when, from whom
    to whom, under which name, who asked, and whether it was undone - the operator's view before
    api.Collection_UndoClaim. One row per claimed collection, newest claim first. Filters (at most one):
    @ClaimId one claim; @UserId the claims made by that user or taking collections from that account; neither:
    the latest claims. At most @Top rows (1..100000).
    Seeks: @ClaimId on PK_dbmerge_CollectionClaim and PK_dbmerge_CollectionClaimItem (ClaimId, CollectionId);
    @UserId on IX_dbmerge_CollectionClaim_UserId (UserId, ClaimId) and IX_dbmerge_CollectionClaimItem_FromUserId
    (filtered WHERE FromUserId IS NOT NULL: 'FromUserId = @UserId' implies the filter for every parameter value
    under ANSI_NULLS ON; the predicate also states it); neither: the clustered PK, newest first.
  Transaction: none (reads only; it neither begins nor requires one).
  Result set: zero or more rows, ordered by ClaimId descending, then CollectionId:
    ClaimId bigint, Kind varchar(10), UserId int, LegacyUserId int NULL, RequestedBy nvarchar(128),
    ClaimedAt datetime2(3), UndoneAt datetime2(3) NULL, UndoneBy nvarchar(128) NULL, CollectionId int,
    FromUserId int NULL, OldName nvarchar(200), NewName nvarchar(200), Renamed bit
  Errors:
    51550  both @UserId and @ClaimId given, or @Top outside 1..100000
  Example:
    EXEC api.CollectionClaim_List @UserId = 42, @ClaimId = NULL, @Top = 100;
*/
CREATE OR ALTER PROCEDURE api.CollectionClaim_List
    @UserId  int = NULL,
    @ClaimId bigint = NULL,
    @Top     int = 1000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message nvarchar(2048);
    DECLARE @Claim TABLE (ClaimId bigint NOT NULL PRIMARY KEY);

    BEGIN TRY
        IF (@UserId IS NOT NULL AND @ClaimId IS NOT NULL) OR @Top IS NULL OR @Top NOT BETWEEN 1 AND 100000
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.CollectionClaim_List: give at most one of @UserId and @ClaimId, and @Top 1..100000 (got user %s, claim %s, top %s).',
                ISNULL(CONVERT(nvarchar(12), @UserId), N'NULL'), ISNULL(CONVERT(nvarchar(20), @ClaimId), N'NULL'),
                ISNULL(CONVERT(nvarchar(12), @Top), N'NULL'));
            THROW 51550, @Message, 1;
        END;

        IF @ClaimId IS NOT NULL
            INSERT INTO @Claim (ClaimId)
            SELECT c.ClaimId
            FROM dbmerge.CollectionClaim AS c                  -- PK_dbmerge_CollectionClaim
            WHERE c.ClaimId = @ClaimId;
        ELSE IF @UserId IS NOT NULL
            INSERT INTO @Claim (ClaimId)
            SELECT TOP (@Top) k.ClaimId
            FROM (SELECT c.ClaimId
                  FROM dbmerge.CollectionClaim AS c            -- IX_dbmerge_CollectionClaim_UserId
                  WHERE c.UserId = @UserId
                  UNION
                  SELECT i.ClaimId
                  FROM dbmerge.CollectionClaimItem AS i        -- IX_dbmerge_CollectionClaimItem_FromUserId (filtered)
                  WHERE i.FromUserId = @UserId
                    AND i.FromUserId IS NOT NULL) AS k
            ORDER BY k.ClaimId DESC;
        ELSE
            INSERT INTO @Claim (ClaimId)
            SELECT TOP (@Top) c.ClaimId
            FROM dbmerge.CollectionClaim AS c                  -- PK_dbmerge_CollectionClaim, newest first
            ORDER BY c.ClaimId DESC;

        SELECT TOP (@Top)
               c.ClaimId, c.Kind, c.UserId, c.LegacyUserId, c.RequestedBy, c.ClaimedAt, c.UndoneAt, c.UndoneBy,
               i.CollectionId, i.FromUserId, i.OldName, i.NewName,
               CONVERT(bit, IIF(i.NewName = i.OldName COLLATE Latin1_General_100_BIN2 AND DATALENGTH(i.NewName) = DATALENGTH(i.OldName), 0, 1)) AS Renamed
        FROM @Claim AS k
        INNER JOIN dbmerge.CollectionClaim AS c ON c.ClaimId = k.ClaimId          -- PK_dbmerge_CollectionClaim
        INNER JOIN dbmerge.CollectionClaimItem AS i ON i.ClaimId = c.ClaimId      -- PK_dbmerge_CollectionClaimItem
        ORDER BY c.ClaimId DESC, i.CollectionId;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
