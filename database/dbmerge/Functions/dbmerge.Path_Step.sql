SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Path_Step
  Purpose:
    Encodes a sibling ordinal as one django-treebeard path step: 7 characters, base 36, alphabet 0-9A-Z,
    zero-padded (1 -> '0000001', 36 -> '0000010'). Inline table-valued function so it can be CROSS APPLYed
    set-based (no scalar UDF per row).
  Result: one row, Step varchar(7) COLLATE Latin1_General_BIN2; Step is NULL when @Number is NULL, < 1, or
    greater than 36^7 - 1 (78,364,164,095: 'ZZZZZZZ'), so callers detect overflow with IS NULL.
  Transaction: none. Errors: none.
  Example:
    SELECT s.Step FROM dbmerge.Path_Step(37) AS s;  -- '0000011'
*/
CREATE OR ALTER FUNCTION dbmerge.Path_Step
(
    @Number bigint
)
RETURNS TABLE
AS
RETURN
(
    SELECT CONVERT(varchar(7),
               CASE WHEN @Number BETWEEN 1 AND 78364164095 THEN
                   SUBSTRING(a.Alphabet, CONVERT(int, (@Number / CONVERT(bigint, 2176782336)) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, (@Number / 60466176) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, (@Number / 1679616) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, (@Number / 46656) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, (@Number / 1296) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, (@Number / 36) % 36) + 1, 1)
                 + SUBSTRING(a.Alphabet, CONVERT(int, @Number % 36) + 1, 1)
               END) COLLATE Latin1_General_BIN2 AS Step
    FROM (VALUES (CONVERT(varchar(36), '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'))) AS a (Alphabet)
);
GO
