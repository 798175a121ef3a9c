SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Document_MoveUsers
  Purpose:
    The users whose rows a scope-changing api.Document_Move writes, so that it can take their
    N'DbMerge.User:<id>' applocks (COORDINATION §2, L1) before it touches those rows: the users of the document's own
    direct accesses it deletes (all of them, or, for a root that stays a root, all but the owners), every account
    an invitation of the document is addressed to (by e-mail, case-insensitively: the column collations; active or
    not) and every issuer of one, and, for a document promoted to root, the users who own its old root (they
    receive an owner row). A user merge rewrites exactly such rows — its two users' access rows (and the target's
    row on the same document), the invitations addressed to the source's e-mail and those it issued — after taking
    the same applocks, so a merge of any of these users
    and the move serialize on the applock instead of deadlocking inside app.DocumentAccess / app.DocumentInvitation,
    whose rows the merge locks per user and the move per document.
  Result: inline table-valued function, one row per distinct user: UserId int. Team grants have no user.
    Seeks: IX_app_DocumentAccess_DocumentId (DocumentId =, covering), UQ_app_DocumentInvitation_DocumentId_Email
    (DocumentId =), IX_app_User_Email (Email =, UserId is its row locator).
  Transaction: none (read-only; takes the caller's isolation level; the caller takes the locks).
  Errors: none.
  Example:
    SELECT mu.UserId FROM dbmerge.Document_MoveUsers(1004, 1001, 0, 1) AS mu ORDER BY mu.UserId;
*/
CREATE OR ALTER FUNCTION dbmerge.Document_MoveUsers
(
    @DocumentId  int,
    @OldRootId   int,
    @StaysRoot   bit,
    @BecomesRoot bit
)
RETURNS TABLE
AS
RETURN
(
    SELECT da.UserId
    FROM app.DocumentAccess AS da
    WHERE da.DocumentId = @DocumentId
      AND da.UserId IS NOT NULL
      AND (@StaysRoot = 0 OR da.Role <> 'owner')
    UNION
    SELECT u.UserId
    FROM app.DocumentInvitation AS di
    JOIN app.[User] AS u
      ON u.Email = di.Email
    WHERE di.DocumentId = @DocumentId
    UNION
    SELECT di.IssuerUserId
    FROM app.DocumentInvitation AS di
    WHERE di.DocumentId = @DocumentId
      AND di.IssuerUserId IS NOT NULL
    UNION
    SELECT da.UserId
    FROM app.DocumentAccess AS da
    WHERE @BecomesRoot = 1
      AND da.DocumentId = @OldRootId
      AND da.Role = 'owner'
      AND da.UserId IS NOT NULL
);
GO
