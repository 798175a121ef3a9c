/*
  0070_create_dbmerge_Setting
  Why:   values DbMerge's procedures read at run time, stored in the database so that every runner and every
         application server sees the same ones (issue 12): how long a reconciliation confirmation token lives,
         the confirmation link the e-mail carries, how long a reconciliation processing claim may stay
         unfinished before it counts as abandoned, and how long an outbox claim waits before another drainer
         may retry the event. Changed only through api.Setting_Set (operator-only, validated per name); shown
         by `dbmerge status` and `dbmerge settings list`. Each name's CHECK keeps an invalid value out even
         when the table is written by hand.
  Locks: creates a new table and fills it; no existing table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE TABLE dbmerge.Setting
(
    Name        varchar(100)    NOT NULL,
    Value       nvarchar(2000)  NOT NULL,
    Description nvarchar(400)   NOT NULL,
    UpdatedAt   datetime2(3)    NOT NULL CONSTRAINT DF_dbmerge_Setting_UpdatedAt DEFAULT (SYSUTCDATETIME()),
    UpdatedBy   nvarchar(128)   NOT NULL CONSTRAINT DF_dbmerge_Setting_UpdatedBy DEFAULT (ORIGINAL_LOGIN()),
    CONSTRAINT PK_dbmerge_Setting PRIMARY KEY CLUSTERED (Name),
    CONSTRAINT CK_dbmerge_Setting_TokenExpiryDays CHECK (Name <> 'reconciliation.token_expiry_days' OR TRY_CONVERT(int, Value) BETWEEN 1 AND 365),
    CONSTRAINT CK_dbmerge_Setting_ConfirmUrlTemplate CHECK (Name <> 'reconciliation.confirm_url_template'
        OR ((Value LIKE N'https://%' OR Value LIKE N'http://%') AND CHARINDEX(N'{token}', Value) > 0 AND LEN(Value) <= 1800)),
    CONSTRAINT CK_dbmerge_Setting_ClaimTimeoutMinutes CHECK (Name <> 'reconciliation.claim_timeout_minutes' OR TRY_CONVERT(int, Value) BETWEEN 1 AND 1440),
    CONSTRAINT CK_dbmerge_Setting_OutboxRetryDelaySeconds CHECK (Name <> 'outbox.retry_delay_seconds' OR TRY_CONVERT(int, Value) BETWEEN 1 AND 86400)
);
GO
INSERT INTO dbmerge.Setting (Name, Value, Description)
VALUES
    ('reconciliation.token_expiry_days', N'14',
     N'Days a reconciliation confirmation token stays valid after the import that created it (1..365).'),
    ('reconciliation.confirm_url_template', N'https://dbmerge.invalid/reconciliations/confirm?token={token}',
     N'The confirmation link of a reconciliation e-mail: http(s) URL with a {token} placeholder (set it to your confirmation page).'),
    ('reconciliation.claim_timeout_minutes', N'30',
     N'Minutes a reconciliation request may stay processing before a processor counts its claim as abandoned (1..1440; above the longest merge).'),
    ('outbox.retry_delay_seconds', N'300',
     N'Seconds after which an outbox event claimed but never marked dispatched may be claimed again (1..86400).');
GO
