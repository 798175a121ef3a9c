SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Collection_NamePrefix
  Purpose:
    The first @MaxLength UTF-16 code units of a collection name, never splitting a surrogate pair (when the cut
    would keep a lone high surrogate, one code unit less is kept). Used by dbmerge.Collection_ClaimCore to build a
    renamed collection's name 'Name (k)' that fits app.Collection.Name (nvarchar(200), i.e. 200 code units): the
    prefix is at most 200 - LEN(' (k)') code units, so the concatenation never needs truncation (no error 2628).
    Lengths are code units whatever the database collation: DATALENGTH / 2, and LEFT / SUBSTRING / UNICODE under
    the explicit non-supplementary collation Latin1_General_100_CI_AS (an _SC default collation would count a
    surrogate pair as one character and return up to twice as many code units). Trailing spaces count (DATALENGTH,
    not LEN); callers pass RTRIMmed names.
    Inline table-valued function so it is CROSS APPLYed set-based (no scalar UDF per row).
  Result: one row, Prefix nvarchar(200) COLLATE Latin1_General_100_CI_AS; NULL when @Name or @MaxLength is NULL or
    @MaxLength < 0.
  Transaction: none. Errors: none.
  Example:
    SELECT p.Prefix FROM dbmerge.Collection_NamePrefix(N'Reading list', 7) AS p;  -- N'Reading'
*/
CREATE OR ALTER FUNCTION dbmerge.Collection_NamePrefix
(
    @Name      nvarchar(200),
    @MaxLength int
)
RETURNS TABLE
AS
RETURN
(
    SELECT CONVERT(nvarchar(200),
               CASE
                   WHEN @Name IS NULL OR @MaxLength IS NULL OR @MaxLength < 0 THEN NULL
                   WHEN DATALENGTH(@Name) / 2 <= @MaxLength THEN @Name COLLATE Latin1_General_100_CI_AS
                   WHEN @MaxLength = 0 THEN N'' COLLATE Latin1_General_100_CI_AS
                   WHEN UNICODE(SUBSTRING(@Name COLLATE Latin1_General_100_CI_AS, @MaxLength, 1)) BETWEEN 55296 AND 56319
                       THEN LEFT(@Name COLLATE Latin1_General_100_CI_AS, @MaxLength - 1)
                   ELSE LEFT(@Name COLLATE Latin1_General_100_CI_AS, @MaxLength)
               END) COLLATE Latin1_General_100_CI_AS AS Prefix
);
GO
