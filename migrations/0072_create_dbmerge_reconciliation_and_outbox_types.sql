/*
  0072_create_dbmerge_reconciliation_and_outbox_types
  Why:   table-valued parameters (DESIGN §2: table types live in migrations), so that the runner sends many rows
         in one round trip instead of one call per row:
           dbmerge.ReconciliationImportRowList  one batch of an import (api.Reconciliation_ImportBatch): one row
                                                per (CSV line, position in the line's `|` list). ClientOutcome /
                                                ClientReason carry what the runner already decided from the file
                                                alone (a malformed row, a repeat of an earlier line), recorded as is.
                                                Collations equal app.User.Email's and the request table's, so the
                                                joins seek without conversion.
           dbmerge.OutboxIdList                 the events a drainer has written and flushed
                                                (api.Outbox_MarkDispatched).
         Callers need EXECUTE on a type to pass it: permissions.DbMergeOperator grants it to DbMergeOperator.
  Locks: creates two new types; no table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE TYPE dbmerge.ReconciliationImportRowList AS TABLE
(
    LineNumber    int            NOT NULL,
    PairNumber    smallint       NOT NULL,
    SourceId      nvarchar(100)  COLLATE Latin1_General_100_BIN2 NULL,
    ActiveEmail   nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
    InactiveEmail nvarchar(254)  COLLATE Latin1_General_100_CI_AS NULL,
    ClientOutcome varchar(10)    NULL,
    ClientReason  nvarchar(400)  NULL,
    PRIMARY KEY (LineNumber, PairNumber)
);
GO
CREATE TYPE dbmerge.OutboxIdList AS TABLE
(
    OutboxId bigint NOT NULL PRIMARY KEY
);
GO
