SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Document_EffectiveRole
  Purpose:
    The effective role of a user on a document: the highest role granted to the user DIRECTLY
    (app.DocumentAccess.UserId) on the document itself or on any of its ancestors. Ancestors are the documents
    whose Path is a prefix of the document's Path at a multiple of the step length 7. The prefixes are generated
    with a numbers list (1..36, the maximum depth) and each is looked up by equality on UQ_app_Document_Path
    (one index seek per ancestor level; no LIKE scan over the table).
    Team grants (DocumentAccess.Team) do NOT confer a user role: the schema has no team-membership table, so
    a user cannot be related to a team. When team membership is modelled, extend the access join here.
  Result: inline table-valued function; exactly one row when the user has any role on the document or an
    ancestor, no row otherwise (document missing, user NULL, no grant):
    RoleRank tinyint (1 reader .. 5 owner), Role varchar(20)
  Transaction: none (read-only; takes the caller's isolation level).
  Errors: none.
  Example:
    SELECT er.RoleRank, er.Role FROM dbmerge.Document_EffectiveRole(1001, 42) AS er;
*/
CREATE OR ALTER FUNCTION dbmerge.Document_EffectiveRole
(
    @DocumentId int,
    @UserId     int
)
RETURNS TABLE
AS
RETURN
(
    SELECT TOP (1)
           r.RoleRank,
           r.Role
    FROM app.Document AS d
    CROSS JOIN (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12),
                       (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24),
                       (25), (26), (27), (28), (29), (30), (31), (32), (33), (34), (35), (36)) AS n (Level)
    JOIN app.Document AS a
      ON a.Path = LEFT(d.Path, n.Level * 7)
    JOIN app.DocumentAccess AS da
      ON da.DocumentId = a.DocumentId
     AND da.UserId = @UserId
    JOIN app.DocumentRole AS r
      ON r.Role = da.Role
    WHERE d.DocumentId = @DocumentId
      AND n.Level <= d.Depth
    ORDER BY r.RoleRank DESC
);
GO
