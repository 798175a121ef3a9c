SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  dbmerge.Email_Validate
  Purpose:
    The e-mail address check of reconciliation imports (the runner's ReconciliationCsv applies the same rules
    before sending, so an offline parse and the server agree). An address is valid when it is 3..254
    characters, holds exactly one '@' with a non-empty local part before it, a domain after it that contains a
    '.', does not start or end with '.' and has no '..', and contains no character at or below U+0020 (space,
    tab, CR, LF and the other control characters), no U+007F and none of , ; : < > ( ) [ ] \ " |.
    Deliberately simple: it rejects what cannot be an address and what would break a CSV or a header; it does
    not try to implement RFC 5322. Inline table-valued function so it can be CROSS APPLYed set-based.
  Result: one row, IsValid bit (0 for NULL).
  Transaction: none. Errors: none.
  Example:
    SELECT v.IsValid FROM dbmerge.Email_Validate(N'ada@example.org') AS v;  -- 1
*/
CREATE OR ALTER FUNCTION dbmerge.Email_Validate
(
    @Email nvarchar(254)
)
RETURNS TABLE
AS
RETURN
(
    SELECT CONVERT(bit, CASE
               WHEN @Email IS NULL THEN 0
               WHEN LEN(@Email) < 3 OR DATALENGTH(@Email) / 2 <> LEN(@Email) THEN 0
               WHEN DATALENGTH(@Email) / 2 - DATALENGTH(REPLACE(@Email COLLATE Latin1_General_100_BIN2, N'@', N'')) / 2 <> 1 THEN 0
               WHEN CHARINDEX(N'@', @Email) = 1 THEN 0
               WHEN PATINDEX(N'%[' + NCHAR(1) + N'-' + NCHAR(32) + NCHAR(127) + N',;:<>()"\|]%', @Email COLLATE Latin1_General_100_BIN2) > 0 THEN 0
               WHEN CHARINDEX(N'[', @Email) > 0 OR CHARINDEX(N']', @Email) > 0 THEN 0
               WHEN d.Domain NOT LIKE N'%_._%' OR d.Domain LIKE N'.%' OR d.Domain LIKE N'%.' OR d.Domain LIKE N'%..%' THEN 0
               ELSE 1
           END) AS IsValid
    FROM (VALUES (SUBSTRING(@Email, CHARINDEX(N'@', @Email) + 1, 254))) AS d (Domain)
);
GO
