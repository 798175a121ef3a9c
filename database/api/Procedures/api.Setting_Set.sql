SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Setting_Set
  Purpose:      changes one setting (dbmerge.Setting). Operator-only. The value is validated per name (the same
                rules as the table's CHECK constraints, with a message that says what is allowed):
                  reconciliation.token_expiry_days      integer 1..365 (applies to imports from now on)
                  reconciliation.confirm_url_template   http:// or https:// URL containing {token}, at most
                                                        1800 characters (applies to imports from now on)
                  reconciliation.claim_timeout_minutes  integer 1..1440; must exceed the longest merge
                  outbox.retry_delay_seconds            integer 1..86400
  Transaction:  none: one UPDATE (atomic on its own); it neither begins nor requires a transaction.
  Result set:   one row: Name varchar(100), Value nvarchar(2000), Description nvarchar(400),
                UpdatedAt datetime2(3), UpdatedBy nvarchar(128), PreviousValue nvarchar(2000)
  Errors:
                51540 the caller is not a member of DbMergeOperator or db_owner
                51541 no setting has that name (the message lists the names)
                51542 the value is missing or not allowed for that setting (the message says what is allowed)
  Example:      EXEC api.Setting_Set @Name = 'reconciliation.confirm_url_template',
                     @Value = N'https://accounts.example.org/reconcile?token={token}';
*/
CREATE OR ALTER PROCEDURE api.Setting_Set
    @Name  varchar(100),
    @Value nvarchar(2000)
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    DECLARE @Message  nvarchar(2048);
    DECLARE @Trimmed  nvarchar(2000) = LTRIM(RTRIM(@Value));
    DECLARE @Number   int = TRY_CONVERT(int, LTRIM(RTRIM(@Value)));
    DECLARE @Changed TABLE
    (
        Name          varchar(100)    NOT NULL,
        Value         nvarchar(2000)  NOT NULL,
        Description   nvarchar(400)   NOT NULL,
        UpdatedAt     datetime2(3)    NOT NULL,
        UpdatedBy     nvarchar(128)   NOT NULL,
        PreviousValue nvarchar(2000)  NOT NULL
    );

    BEGIN TRY
        /* ---- check parameters ---------------------------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Setting_Set: %s is not a member of DbMergeOperator or db_owner; changing settings is operator-only (setting ''%s'').',
                USER_NAME(), ISNULL(CONVERT(nvarchar(100), @Name), N'NULL'));
            THROW 51540, @Message, 1;
        END;

        IF @Name IS NULL OR @Name NOT IN ('reconciliation.token_expiry_days', 'reconciliation.confirm_url_template',
                                         'reconciliation.claim_timeout_minutes', 'outbox.retry_delay_seconds')
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Setting_Set: no setting ''%s''; the settings are reconciliation.token_expiry_days, reconciliation.confirm_url_template, reconciliation.claim_timeout_minutes, outbox.retry_delay_seconds.',
                ISNULL(CONVERT(nvarchar(100), @Name), N'NULL'));
            THROW 51541, @Message, 1;
        END;

        IF NULLIF(@Trimmed, N'') IS NULL
           OR (@Name = 'reconciliation.token_expiry_days' AND (@Number IS NULL OR @Number NOT BETWEEN 1 AND 365))
           OR (@Name = 'reconciliation.claim_timeout_minutes' AND (@Number IS NULL OR @Number NOT BETWEEN 1 AND 1440))
           OR (@Name = 'outbox.retry_delay_seconds' AND (@Number IS NULL OR @Number NOT BETWEEN 1 AND 86400))
           OR (@Name = 'reconciliation.confirm_url_template'
               AND (NOT (@Trimmed LIKE N'https://%' OR @Trimmed LIKE N'http://%') OR CHARINDEX(N'{token}', @Trimmed) = 0 OR LEN(@Trimmed) > 1800))
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Setting_Set: value not allowed for %s (got %s characters); allowed: %s.',
                CONVERT(nvarchar(100), @Name), ISNULL(CONVERT(nvarchar(12), LEN(@Value)), N'NULL'),
                CASE @Name
                    WHEN 'reconciliation.token_expiry_days' THEN N'an integer 1..365'
                    WHEN 'reconciliation.claim_timeout_minutes' THEN N'an integer 1..1440'
                    WHEN 'outbox.retry_delay_seconds' THEN N'an integer 1..86400'
                    ELSE N'an http:// or https:// URL containing {token}, at most 1800 characters'
                END);
            THROW 51542, @Message, 1;
        END;

        /* ---- the work: one row by its primary key -------------------------------------------------- */
        UPDATE s
        SET s.Value = CASE WHEN @Number IS NOT NULL AND @Name <> 'reconciliation.confirm_url_template' THEN CONVERT(nvarchar(12), @Number) ELSE @Trimmed END,
            s.UpdatedAt = SYSUTCDATETIME(),
            s.UpdatedBy = ORIGINAL_LOGIN()
        OUTPUT inserted.Name, inserted.Value, inserted.Description, inserted.UpdatedAt, inserted.UpdatedBy, deleted.Value
        INTO @Changed (Name, Value, Description, UpdatedAt, UpdatedBy, PreviousValue)
        FROM dbmerge.Setting AS s
        WHERE s.Name = @Name;

        /* ---- result -------------------------------------------------------------------------------- */
        SELECT c.Name, c.Value, c.Description, c.UpdatedAt, c.UpdatedBy, c.PreviousValue
        FROM @Changed AS c;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
