SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  api.Reconciliation_ImportBatch
  Purpose:      decides the outcome of one batch of an import (at most 500 rows of @Rows, one per CSV line and
                position in the line's `|` list of inactive e-mails) and, unless @DryRun, records it: every pair
                is created, duplicate, conflict or error, and a bad row never fails the batch. Operator-only.
                For each row, first match wins:
                  recorded   the import already holds an outcome for (line, pair): that outcome is returned and
                             nothing is decided again (a resumed or repeated import changes nothing);
                  client     ClientOutcome from the runner (decided from the file alone: malformed row, a repeat
                             of an earlier line of the same file) is recorded as sent;
                  error      id / active_email / inactive_email missing, an address that is not an e-mail address
                             (dbmerge.Email_Validate), or the same address on both sides;
                  duplicate  a request with the same id, inactive e-mail and active e-mail exists (any status):
                             not an error, nothing changes;
                  conflict   a request with the same id but another active e-mail exists, or an earlier row of
                             this batch gave the id another active e-mail;
                  duplicate  an earlier row of this batch has the same id and inactive e-mail;
                  error      the active e-mail matches no active user (or several), the inactive e-mail matches no
                             user, only merged accounts (already merged) or several unmerged accounts;
                  error      the inactive account is already in an open request (pending-confirmation, ready,
                             processing, error): the same pair under another id, or another pair; or an earlier
                             row of this batch already requested it;
                  created    otherwise: a request in pending-confirmation, two tokens, two outbox events.
                Created requests: RequestId from dbmerge.ReconciliationRequestSequence; per side a token of 32
                random bytes (CRYPT_GEN_RANDOM), stored only as its SHA-256 in dbmerge.ReconciliationToken; the
                plain token (64 lowercase hex characters) and the confirmation link built from the setting
                reconciliation.confirm_url_template go only into the payload's "secret" member of the side's
                'reconciliation.confirm' outbox event, which api.Outbox_MarkDispatched erases. Tokens expire after
                reconciliation.token_expiry_days (read once per batch).
                  'reconciliation.confirm' {"requestId":..,"importId":..,"sourceId":"..","side":"active"|"inactive",
                                            "email":"..","otherEmail":"..","expiresAt":"..Z",
                                            "secret":{"token":"..","confirmUrl":".."}}
                  dedupe key reconciliation.confirm:<RequestId>:<side>
                The outcomes of the batch are recorded in dbmerge.ReconciliationImportRow and added to the import's
                counts. @DryRun = 1 decides the same way and writes nothing (no transaction, no lock; @ImportId
                may be NULL); created rows then have RequestId NULL.
                Every statement joins the batch (at most 500 rows) to an index: app.User by UQ_app_User_Email_Active
                (active e-mail) and IX_app_User_Email (inactive e-mail); requests by IX_..._SourceId (id) and
                UQ_..._InactiveUserId_Open (open request of the inactive account); recorded outcomes by the primary
                key of dbmerge.ReconciliationImportRow. At most 1,000 outbox and token rows per statement.
  Transaction:  OWNS its transaction (unless @DryRun). Called inside an open transaction or with
                IMPLICIT_TRANSACTIONS ON it refuses (51501) without touching the caller's transaction.
  Lock order:   L1 applock N'DbMerge.ReconciliationImport' (imports serialize: no two decide that an id is new);
                L2 app.User rows are only read (plain READ COMMITTED, nothing written, nothing held after the
                read); then dbmerge.Outbox (insert), dbmerge.ReconciliationImport (counts),
                dbmerge.ReconciliationRequest (insert), dbmerge.ReconciliationToken (insert),
                dbmerge.ReconciliationImportRow (insert): request ids come from the sequence so the outbox rows,
                which need them, are written first.
  Result set:   one row per row of @Rows, by LineNumber, PairNumber: LineNumber int, PairNumber smallint,
                SourceId nvarchar(100), ActiveEmail nvarchar(254), InactiveEmail nvarchar(254),
                Outcome varchar(10) ('created' | 'duplicate' | 'conflict' | 'error'), Reason nvarchar(400) NULL,
                RequestId int NULL (created: the new request; duplicate/conflict: the existing one),
                WasRecorded bit (1: the outcome was recorded by an earlier call). Never a token.
  Errors:
                51500 the caller is not a member of DbMergeOperator or db_owner
                51501 called inside an open transaction or with IMPLICIT_TRANSACTIONS ON
                51502 a parameter is missing or out of range (@ImportId without @DryRun, more than 500 rows,
                      LineNumber/PairNumber < 1, a ClientOutcome other than duplicate/conflict/error or an error
                      or conflict without ClientReason, @LockTimeoutMs 0..600000)
                51503 no import has the id @ImportId
                51504 the batch is not from the import's file: the import is completed and never recorded one of
                      its lines, or its rows exceed the pairs the import declared
                51506 the import applock was not granted within @LockTimeoutMs (another import is running)
                51507 the setting reconciliation.confirm_url_template or reconciliation.token_expiry_days is
                      missing or invalid
                51508 the random tokens of the batch were not all distinct (CRYPT_GEN_RANDOM misbehaved); rolled back
  Example:      DECLARE @Rows dbmerge.ReconciliationImportRowList;
                INSERT INTO @Rows (LineNumber, PairNumber, SourceId, ActiveEmail, InactiveEmail)
                VALUES (2, 1, N'A-1', N'ada@example.org', N'ada.lovelace@old.example');
                EXEC api.Reconciliation_ImportBatch @ImportId = 3, @Rows = @Rows, @DryRun = 0, @LockTimeoutMs = 10000;
*/
CREATE OR ALTER PROCEDURE api.Reconciliation_ImportBatch
    @ImportId      int,
    @Rows          dbmerge.ReconciliationImportRowList READONLY,
    @DryRun        bit = 0,
    @LockTimeoutMs int = 10000
AS
BEGIN
    SET NOCOUNT, XACT_ABORT ON;

    /* Refuse inside a caller's transaction (or IMPLICIT_TRANSACTIONS ON) with XACT_ABORT OFF, before the TRY: THROW
       honours XACT_ABORT (with it ON the THROW would roll the caller's work back) and the CATCH below rolls back. */
    IF @@TRANCOUNT > 0 OR (@@OPTIONS & 2) = 2
    BEGIN
        SET XACT_ABORT OFF;
        DECLARE @OpenMessage nvarchar(2048) = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: called inside an open transaction or with IMPLICIT_TRANSACTIONS ON (@@TRANCOUNT %d); it owns its transaction: call it outside one, with IMPLICIT_TRANSACTIONS OFF.', @@TRANCOUNT);
        THROW 51501, @OpenMessage, 1;
    END;

    DECLARE @Message       nvarchar(2048);
    DECLARE @LockResult    int;
    DECLARE @RowCount      int;
    DECLARE @ImportFound   bit = 0;
    DECLARE @Completed     bit = 0;
    DECLARE @TotalPairs    int;
    DECLARE @RecordedPairs int;
    DECLARE @Template      nvarchar(2000);
    DECLARE @ExpiryText    nvarchar(2000);
    DECLARE @ExpiryDays    int;
    DECLARE @Now           datetime2(3);
    DECLARE @ExpiresAt     datetime2(3);
    DECLARE @ExpiresAtText varchar(30);
    DECLARE @Row TABLE
    (
        LineNumber     int            NOT NULL,
        PairNumber     smallint       NOT NULL,
        SourceId       nvarchar(100)  COLLATE Latin1_General_100_BIN2 NULL,
        ActiveEmail    nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
        InactiveEmail  nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
        ClientOutcome  varchar(10)    NULL,
        ClientReason   nvarchar(400)  NULL,
        Outcome        varchar(10)    NULL,
        Reason         nvarchar(400)  NULL,
        RequestId      int            NULL,
        ActiveUserId   int            NULL,
        InactiveUserId int            NULL,
        WasRecorded    bit            NOT NULL DEFAULT (0),
        PRIMARY KEY (LineNumber, PairNumber)
    );
    DECLARE @New TABLE
    (
        RequestId      int            NOT NULL PRIMARY KEY,
        LineNumber     int            NOT NULL,
        PairNumber     smallint       NOT NULL,
        SourceId       nvarchar(100)  COLLATE Latin1_General_100_BIN2 NOT NULL,
        ActiveEmail    nvarchar(254)  COLLATE Latin1_General_100_CI_AS NOT NULL,
        InactiveEmail  nvarchar(254)  COLLATE Latin1_General_100_CI_AS NOT NULL,
        ActiveUserId   int            NOT NULL,
        InactiveUserId int            NOT NULL,
        ActiveToken    binary(32)     NOT NULL,
        InactiveToken  binary(32)     NOT NULL
    );

    BEGIN TRY
        /* ---- check parameters (no transaction open) -------------------------------------------------- */
        IF ISNULL(IS_ROLEMEMBER(N'DbMergeOperator'), 0) = 0 AND ISNULL(IS_ROLEMEMBER(N'db_owner'), 0) = 0
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: %s is not a member of DbMergeOperator or db_owner; reconciliation imports are operator-only.', USER_NAME());
            THROW 51500, @Message, 1;
        END;

        SET @RowCount = (SELECT COUNT(*) FROM @Rows);

        IF @DryRun IS NULL OR (@DryRun = 0 AND @ImportId IS NULL) OR @RowCount > 500
           OR @LockTimeoutMs IS NULL OR @LockTimeoutMs NOT BETWEEN 0 AND 600000
           OR EXISTS (SELECT 1 FROM @Rows AS r WHERE r.LineNumber < 1 OR r.PairNumber < 1)
           OR EXISTS (SELECT 1 FROM @Rows AS r
                      WHERE r.ClientOutcome IS NOT NULL
                        AND ((r.ClientOutcome <> 'duplicate' AND r.ClientOutcome <> 'conflict' AND r.ClientOutcome <> 'error')
                             OR (r.ClientOutcome <> 'duplicate' AND NULLIF(LTRIM(RTRIM(r.ClientReason)), N'') IS NULL)))
        BEGIN
            SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: @ImportId is required unless @DryRun = 1, a batch holds at most 500 rows with LineNumber and PairNumber >= 1, ClientOutcome is duplicate, conflict or error (the last two with a ClientReason), @LockTimeoutMs 0..600000 (import %s, dry run %s, %d rows, lock timeout %s).',
                ISNULL(CONVERT(nvarchar(12), @ImportId), N'NULL'), ISNULL(CONVERT(nvarchar(12), @DryRun), N'NULL'), @RowCount,
                ISNULL(CONVERT(nvarchar(12), @LockTimeoutMs), N'NULL'));
            THROW 51502, @Message, 1;
        END;

        INSERT INTO @Row (LineNumber, PairNumber, SourceId, ActiveEmail, InactiveEmail, ClientOutcome, ClientReason)
        SELECT r.LineNumber, r.PairNumber,
               NULLIF(LTRIM(RTRIM(r.SourceId)), N''),
               NULLIF(LTRIM(RTRIM(r.ActiveEmail)), N''),
               NULLIF(LTRIM(RTRIM(r.InactiveEmail)), N''),
               r.ClientOutcome,
               NULLIF(LTRIM(RTRIM(r.ClientReason)), N'')
        FROM @Rows AS r;

        /* ---- take locks: the import applock (L1); a dry run takes none --------------------------------- */
        IF @DryRun = 0
        BEGIN
            BEGIN TRANSACTION;

            EXEC @LockResult = sys.sp_getapplock @Resource = N'DbMerge.ReconciliationImport', @LockMode = N'Exclusive',
                 @LockOwner = N'Transaction', @LockTimeout = @LockTimeoutMs;
            IF @LockResult < 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: another import holds the import lock (sp_getapplock returned %d after %d ms; import %d); nothing changed, retry when it has finished.',
                    @LockResult, @LockTimeoutMs, @ImportId);
                THROW 51506, @Message, 1;
            END;
        END;

        IF @ImportId IS NOT NULL
        BEGIN
            SELECT @ImportFound = 1, @Completed = IIF(i.CompletedAt IS NULL, 0, 1), @TotalPairs = i.TotalPairs,
                   @RecordedPairs = i.CreatedCount + i.DuplicateCount + i.ConflictCount + i.ErrorCount
            FROM dbmerge.ReconciliationImport AS i
            WHERE i.ImportId = @ImportId;

            IF @ImportFound = 0
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: import %d does not exist; start one with api.Reconciliation_ImportBegin.', @ImportId);
                THROW 51503, @Message, 1;
            END;

            /* recorded: the outcome an earlier call recorded for (line, pair) (PK_dbmerge_ReconciliationImportRow). */
            UPDATE r
            SET r.Outcome = ir.Outcome, r.Reason = ir.Reason, r.RequestId = ir.RequestId, r.WasRecorded = 1
            FROM @Row AS r
            JOIN dbmerge.ReconciliationImportRow AS ir
              ON ir.ImportId = @ImportId AND ir.LineNumber = r.LineNumber AND ir.PairNumber = r.PairNumber
            OPTION (RECOMPILE);

            IF @Completed = 1 AND EXISTS (SELECT 1 FROM @Row AS r WHERE r.WasRecorded = 0)
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: import %d is completed and never recorded line %d; the batch is not from the file it recorded, nothing changed.',
                    @ImportId, (SELECT MIN(r.LineNumber) FROM @Row AS r WHERE r.WasRecorded = 0));
                THROW 51504, @Message, 1;
            END;

            IF @RecordedPairs + (SELECT COUNT(*) FROM @Row AS r WHERE r.WasRecorded = 0) > @TotalPairs
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: import %d declared %d pairs and recorded %d; %d more do not fit: the batch is not from the file it recorded, nothing changed.',
                    @ImportId, @TotalPairs, @RecordedPairs, (SELECT COUNT(*) FROM @Row AS r WHERE r.WasRecorded = 0));
                THROW 51504, @Message, 1;
            END;
        END;

        /* ---- decide: first match wins (each UPDATE only touches rows still undecided) ------------------ */

        /* client: decided by the runner from the file alone. */
        UPDATE @Row
        SET Outcome = ClientOutcome, Reason = ClientReason
        WHERE Outcome IS NULL AND ClientOutcome IS NOT NULL;

        /* error: the row's own shape. */
        UPDATE r
        SET r.Outcome = 'error',
            r.Reason = CASE
                           WHEN r.SourceId IS NULL THEN N'id is missing'
                           WHEN r.ActiveEmail IS NULL THEN N'active_email is missing'
                           WHEN r.InactiveEmail IS NULL THEN N'inactive_email is missing'
                           WHEN va.IsValid = 0 THEN N'active_email is not a valid e-mail address'
                           WHEN vi.IsValid = 0 THEN N'inactive_email is not a valid e-mail address'
                           ELSE N'the same address is on both sides'
                       END
        FROM @Row AS r
        CROSS APPLY dbmerge.Email_Validate(r.ActiveEmail) AS va
        CROSS APPLY dbmerge.Email_Validate(r.InactiveEmail) AS vi
        WHERE r.Outcome IS NULL
          AND (r.SourceId IS NULL OR r.ActiveEmail IS NULL OR r.InactiveEmail IS NULL
               OR va.IsValid = 0 OR vi.IsValid = 0 OR r.ActiveEmail = r.InactiveEmail);

        /* duplicate: the same id, inactive and active e-mail were imported before (IX_..._SourceId, covering). */
        UPDATE r
        SET r.Outcome = 'duplicate', r.RequestId = q.RequestId,
            r.Reason = CONCAT(N'already imported as request ', q.RequestId, N' (import ', q.ImportId, N', line ', q.LineNumber, N')')
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) q.RequestId, q.ImportId, q.LineNumber
                     FROM dbmerge.ReconciliationRequest AS q
                     WHERE q.SourceId = r.SourceId AND q.InactiveEmail = r.InactiveEmail AND q.ActiveEmail = r.ActiveEmail
                     ORDER BY q.RequestId) AS q
        WHERE r.Outcome IS NULL
        OPTION (RECOMPILE);

        /* conflict: the id was imported with another active e-mail (IX_..._SourceId: seek on SourceId). */
        UPDATE r
        SET r.Outcome = 'conflict', r.RequestId = q.RequestId,
            r.Reason = LEFT(CONCAT(N'id ', r.SourceId, N' was imported with active_email ', q.ActiveEmail,
                                   N' (request ', q.RequestId, N', import ', q.ImportId, N', line ', q.LineNumber, N')'), 400)
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) q.RequestId, q.ActiveEmail, q.ImportId, q.LineNumber
                     FROM dbmerge.ReconciliationRequest AS q
                     WHERE q.SourceId = r.SourceId AND q.ActiveEmail <> r.ActiveEmail
                     ORDER BY q.RequestId) AS q
        WHERE r.Outcome IS NULL
        OPTION (RECOMPILE);

        /* conflict within the batch: the first undecided row of the id gave it another active e-mail.
           (Every row is compared with the state before this statement: set-based, no order dependence.) */
        UPDATE r
        SET r.Outcome = 'conflict',
            r.Reason = LEFT(CONCAT(N'id ', r.SourceId, N' has active_email ', f.ActiveEmail, N' on line ', f.LineNumber), 400)
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) f.ActiveEmail, f.LineNumber
                     FROM @Row AS f
                     WHERE f.SourceId = r.SourceId AND f.Outcome IS NULL
                       AND (f.LineNumber < r.LineNumber OR (f.LineNumber = r.LineNumber AND f.PairNumber < r.PairNumber))
                     ORDER BY f.LineNumber, f.PairNumber) AS f
        WHERE r.Outcome IS NULL AND f.ActiveEmail <> r.ActiveEmail;

        /* duplicate within the batch: an earlier undecided row has the same id and inactive e-mail. */
        UPDATE r
        SET r.Outcome = 'duplicate', r.Reason = CONCAT(N'same as line ', f.LineNumber)
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) f.LineNumber
                     FROM @Row AS f
                     WHERE f.SourceId = r.SourceId AND f.InactiveEmail = r.InactiveEmail AND f.Outcome IS NULL
                       AND (f.LineNumber < r.LineNumber OR (f.LineNumber = r.LineNumber AND f.PairNumber < r.PairNumber))
                     ORDER BY f.LineNumber, f.PairNumber) AS f
        WHERE r.Outcome IS NULL;

        /* error: the users. Active: UQ_app_User_Email_Active (IsActive = 1 matches its filter). Inactive:
           IX_app_User_Email; the account to merge is the one not merged away yet. */
        UPDATE r
        SET r.ActiveUserId = a.UserId,
            r.InactiveUserId = iu.UserId,
            r.Outcome = CASE WHEN a.Matches <> 1 OR i.Matches = 0 OR i.Unmerged <> 1 THEN 'error' END,
            r.Reason = CASE
                           WHEN a.Matches = 0 THEN N'active_email matches no active user'
                           WHEN a.Matches > 1 THEN CONCAT(N'active_email matches ', a.Matches, N' active users')
                           WHEN i.Matches = 0 THEN N'inactive_email matches no user'
                           WHEN i.Unmerged = 0 THEN CONCAT(N'the inactive account is already merged (user ', im.UserId, N' into user ', im.MergedIntoUserId, N')')
                           WHEN i.Unmerged > 1 THEN CONCAT(N'inactive_email matches ', i.Unmerged, N' accounts that are not merged; merge them by hand first')
                       END
        FROM @Row AS r
        CROSS APPLY (SELECT COUNT(*) AS Matches, MIN(u.UserId) AS UserId
                     FROM app.[User] AS u
                     WHERE u.Email = r.ActiveEmail AND u.IsActive = 1) AS a
        CROSS APPLY (SELECT COUNT(*) AS Matches, SUM(IIF(u.MergedIntoUserId IS NULL, 1, 0)) AS Unmerged
                     FROM app.[User] AS u
                     WHERE u.Email = r.InactiveEmail) AS i
        OUTER APPLY (SELECT TOP (1) u.UserId
                     FROM app.[User] AS u
                     WHERE u.Email = r.InactiveEmail AND u.MergedIntoUserId IS NULL
                     ORDER BY u.UserId) AS iu
        OUTER APPLY (SELECT TOP (1) u.UserId, u.MergedIntoUserId
                     FROM app.[User] AS u
                     WHERE u.Email = r.InactiveEmail AND u.MergedIntoUserId IS NOT NULL
                     ORDER BY u.UserId) AS im
        WHERE r.Outcome IS NULL
        OPTION (RECOMPILE);

        /* error: the inactive account is already in an open request (UQ_..._InactiveUserId_Open, covering). */
        UPDATE r
        SET r.Outcome = 'error',
            r.Reason = LEFT(CASE WHEN q.ActiveUserId = r.ActiveUserId
                                 THEN CONCAT(N'the pair is already requested under id ', q.SourceId, N' (request ', q.RequestId, N')')
                                 ELSE CONCAT(N'the inactive account is already in open request ', q.RequestId, N' (id ', q.SourceId, N', into user ', q.ActiveUserId, N')')
                            END, 400)
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) q.RequestId, q.ActiveUserId, q.SourceId
                     FROM dbmerge.ReconciliationRequest AS q
                     WHERE q.InactiveUserId = r.InactiveUserId
                       AND q.Status IN ('pending-confirmation', 'ready', 'processing', 'error')
                     ORDER BY q.RequestId) AS q
        WHERE r.Outcome IS NULL
        OPTION (RECOMPILE);

        /* error within the batch: an earlier undecided row already requests the same inactive account. */
        UPDATE r
        SET r.Outcome = 'error', r.Reason = CONCAT(N'the inactive account is already requested on line ', f.LineNumber)
        FROM @Row AS r
        CROSS APPLY (SELECT TOP (1) f.LineNumber
                     FROM @Row AS f
                     WHERE f.InactiveUserId = r.InactiveUserId AND f.Outcome IS NULL
                       AND (f.LineNumber < r.LineNumber OR (f.LineNumber = r.LineNumber AND f.PairNumber < r.PairNumber))
                     ORDER BY f.LineNumber, f.PairNumber) AS f
        WHERE r.Outcome IS NULL;

        UPDATE @Row SET Outcome = 'created' WHERE Outcome IS NULL;

        /* ---- write (not for a dry run) ----------------------------------------------------------------- */
        IF @DryRun = 0
        BEGIN
            SELECT @Template = s.Value FROM dbmerge.Setting AS s WHERE s.Name = 'reconciliation.confirm_url_template';
            SELECT @ExpiryText = s.Value FROM dbmerge.Setting AS s WHERE s.Name = 'reconciliation.token_expiry_days';
            SET @ExpiryDays = TRY_CONVERT(int, @ExpiryText);

            IF @Template IS NULL OR CHARINDEX(N'{token}', @Template) = 0 OR @ExpiryDays IS NULL OR @ExpiryDays NOT BETWEEN 1 AND 365
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: the settings reconciliation.confirm_url_template (an http(s) URL with {token}) and reconciliation.token_expiry_days (1..365) must be set (import %d); see dbmerge settings set.', @ImportId);
                THROW 51507, @Message, 1;
            END;

            SET @Now = SYSUTCDATETIME();
            SET @ExpiresAt = DATEADD(DAY, @ExpiryDays, @Now);
            SET @ExpiresAtText = CONCAT(CONVERT(varchar(23), @ExpiresAt, 126), 'Z');

            /* Materialize ids and tokens once: every later statement reads the same bytes (a nondeterministic
               function referenced twice in one query may be evaluated twice). */
            INSERT INTO @New (RequestId, LineNumber, PairNumber, SourceId, ActiveEmail, InactiveEmail, ActiveUserId, InactiveUserId, ActiveToken, InactiveToken)
            SELECT NEXT VALUE FOR dbmerge.ReconciliationRequestSequence OVER (ORDER BY r.LineNumber, r.PairNumber),
                   r.LineNumber, r.PairNumber, r.SourceId, r.ActiveEmail, r.InactiveEmail, r.ActiveUserId, r.InactiveUserId,
                   CRYPT_GEN_RANDOM(32), CRYPT_GEN_RANDOM(32)
            FROM @Row AS r
            WHERE r.Outcome = 'created' AND r.WasRecorded = 0;

            IF (SELECT COUNT(DISTINCT t.Token) FROM (SELECT n.ActiveToken AS Token FROM @New AS n UNION ALL SELECT n.InactiveToken FROM @New AS n) AS t)
               <> 2 * (SELECT COUNT(*) FROM @New)
            BEGIN
                SET @Message = FORMATMESSAGE(N'api.Reconciliation_ImportBatch: the %d random tokens of the batch were not all distinct (import %d); rolled back, nothing changed.',
                    2 * (SELECT COUNT(*) FROM @New), @ImportId);
                THROW 51508, @Message, 1;
            END;

            UPDATE r
            SET r.RequestId = n.RequestId
            FROM @Row AS r
            JOIN @New AS n ON n.LineNumber = r.LineNumber AND n.PairNumber = r.PairNumber;

            /* dbmerge.Outbox: one confirmation per side; the plain token only here, in "secret". */
            INSERT INTO dbmerge.Outbox (EventType, DedupeKey, Payload)
            SELECT 'reconciliation.confirm',
                   CONCAT(N'reconciliation.confirm:', n.RequestId, N':', s.Side),
                   (SELECT n.RequestId AS requestId, @ImportId AS importId, n.SourceId AS sourceId, s.Side AS side,
                           s.Email AS email, s.OtherEmail AS otherEmail, @ExpiresAtText AS expiresAt,
                           s.Token AS [secret.token], REPLACE(@Template, N'{token}', s.Token) AS [secret.confirmUrl]
                    FOR JSON PATH, WITHOUT_ARRAY_WRAPPER)
            FROM @New AS n
            CROSS APPLY (VALUES (CONVERT(varchar(8), 'active'), n.ActiveEmail, n.InactiveEmail, LOWER(CONVERT(char(64), n.ActiveToken, 2))),
                                (CONVERT(varchar(8), 'inactive'), n.InactiveEmail, n.ActiveEmail, LOWER(CONVERT(char(64), n.InactiveToken, 2))))
                         AS s (Side, Email, OtherEmail, Token);

            /* dbmerge.ReconciliationImport: the counts of the rows recorded now. */
            UPDATE i
            SET i.CreatedCount = i.CreatedCount + c.Created,
                i.DuplicateCount = i.DuplicateCount + c.Duplicates,
                i.ConflictCount = i.ConflictCount + c.Conflicts,
                i.ErrorCount = i.ErrorCount + c.Errors
            FROM dbmerge.ReconciliationImport AS i
            CROSS JOIN (SELECT SUM(IIF(r.Outcome = 'created', 1, 0)) AS Created,
                               SUM(IIF(r.Outcome = 'duplicate', 1, 0)) AS Duplicates,
                               SUM(IIF(r.Outcome = 'conflict', 1, 0)) AS Conflicts,
                               SUM(IIF(r.Outcome = 'error', 1, 0)) AS Errors
                        FROM @Row AS r
                        WHERE r.WasRecorded = 0
                        HAVING COUNT(*) > 0) AS c
            WHERE i.ImportId = @ImportId;

            /* dbmerge.ReconciliationRequest, then dbmerge.ReconciliationToken (hashes only). */
            INSERT INTO dbmerge.ReconciliationRequest
                (RequestId, ImportId, LineNumber, PairNumber, SourceId, ActiveEmail, InactiveEmail, ActiveUserId, InactiveUserId,
                 Status, PreviousStatus, StatusChangedAt, CreatedAt, ExpiresAt)
            SELECT n.RequestId, @ImportId, n.LineNumber, n.PairNumber, n.SourceId, n.ActiveEmail, n.InactiveEmail, n.ActiveUserId, n.InactiveUserId,
                   'pending-confirmation', NULL, @Now, @Now, @ExpiresAt
            FROM @New AS n;

            INSERT INTO dbmerge.ReconciliationToken (RequestId, Side, TokenHash, CreatedAt)
            SELECT n.RequestId, s.Side, CONVERT(binary(32), HASHBYTES('SHA2_256', s.Token)), @Now
            FROM @New AS n
            CROSS APPLY (VALUES (CONVERT(varchar(8), 'active'), n.ActiveToken), (CONVERT(varchar(8), 'inactive'), n.InactiveToken)) AS s (Side, Token);

            /* dbmerge.ReconciliationImportRow: every outcome decided now. */
            INSERT INTO dbmerge.ReconciliationImportRow (ImportId, LineNumber, PairNumber, SourceId, ActiveEmail, InactiveEmail, Outcome, Reason, RequestId)
            SELECT @ImportId, r.LineNumber, r.PairNumber, r.SourceId, r.ActiveEmail, r.InactiveEmail, r.Outcome, r.Reason, r.RequestId
            FROM @Row AS r
            WHERE r.WasRecorded = 0;

            COMMIT TRANSACTION;
        END;

        /* ---- result: the outcomes, never a token --------------------------------------------------------- */
        SELECT r.LineNumber, r.PairNumber, r.SourceId, r.ActiveEmail, r.InactiveEmail, r.Outcome, r.Reason, r.RequestId, r.WasRecorded
        FROM @Row AS r
        ORDER BY r.LineNumber, r.PairNumber;
    END TRY
    BEGIN CATCH
        IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;
        THROW;
    END CATCH;
END;
GO
