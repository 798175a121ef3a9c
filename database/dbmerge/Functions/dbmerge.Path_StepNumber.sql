SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Path_StepNumber
  Purpose:
    Decodes one django-treebeard path step (7 characters, base 36, alphabet 0-9A-Z) to its ordinal
    ('0000001' -> 1, '0000010' -> 36). Inverse of dbmerge.Path_Step. Inline table-valued function.
  Result: one row, Number bigint; NULL when @Step is NULL, not 7 characters, or contains a character outside
    0-9A-Z (compared with a binary collation, so lower case is rejected).
  Transaction: none. Errors: none.
  Example:
    SELECT s.Number FROM dbmerge.Path_StepNumber('0000011') AS s;  -- 37
*/
CREATE OR ALTER FUNCTION dbmerge.Path_StepNumber
(
    @Step varchar(7)
)
RETURNS TABLE
AS
RETURN
(
    SELECT CASE WHEN DATALENGTH(@Step) = 7
                 AND @Step COLLATE Latin1_General_BIN2 NOT LIKE '%[^0-9A-Z]%'
           THEN CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 1, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * CONVERT(bigint, 2176782336)
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 2, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * 60466176
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 3, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * 1679616
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 4, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * 46656
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 5, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * 1296
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 6, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1) * 36
              + CONVERT(bigint, CHARINDEX(SUBSTRING(@Step, 7, 1) COLLATE Latin1_General_BIN2, a.Alphabet) - 1)
           END AS Number
    FROM (VALUES (CONVERT(varchar(36), '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' COLLATE Latin1_General_BIN2))) AS a (Alphabet)
);
GO
