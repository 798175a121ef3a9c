/*
  0051_create_dbmerge_DocumentMove
  Why:   issue 10. Every committed api.Document_Move gets a row here, numbered per document (MoveSequence
         1, 2, 3, … for each DocumentId), in the move's own transaction. The number makes the outbox dedupe
         keys deterministic ('document.moved:<DocumentId>:<MoveSequence>', 'collaboration.reset:…'), so a
         retried dispatch of the same event carries the same key and a consumer deduplicates it; a move that
         rolls back takes no number. The row also records what the move wrote (subtree size, siblings shifted,
         paths rewritten, rows written), so an operator can see the cost of every move afterwards.
         No move writes a row for a no-op. Rows are history: DbMerge never deletes them, and a purge must keep
         the last row of every document (the next number is its MoveSequence + 1; restarting at 1 would reuse
         dedupe keys still in dbmerge.Outbox). DocumentId, TargetDocumentId and ActorUserId are deliberately
         NOT foreign keys: history survives the deletion of documents and users (as dbmerge.MergeRun does).
  Locks: creates a new table; no existing table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE TABLE dbmerge.DocumentMove
(
    DocumentId         int           NOT NULL,
    MoveSequence       int           NOT NULL,
    MovedAt            datetime2(3)  NOT NULL,
    ActorUserId        int           NULL,
    Position           varchar(20)   NOT NULL,
    TargetDocumentId   int           NOT NULL,
    OldPath            varchar(252)  COLLATE Latin1_General_BIN2 NOT NULL,
    NewPath            varchar(252)  COLLATE Latin1_General_BIN2 NOT NULL,
    OldParentId        int           NULL,
    NewParentId        int           NULL,
    ScopeChanged       bit           NOT NULL,
    AccessesDeleted    int           NOT NULL,
    InvitationsDeleted int           NOT NULL,
    OwnersRestored     int           NOT NULL,
    DocumentsMoved     int           NOT NULL,
    SiblingsShifted    int           NOT NULL,
    PathsRewritten     int           NOT NULL,
    RowsWritten        int           NOT NULL,
    CONSTRAINT PK_dbmerge_DocumentMove PRIMARY KEY CLUSTERED (DocumentId, MoveSequence),
    CONSTRAINT CK_dbmerge_DocumentMove_MoveSequence CHECK (MoveSequence >= 1),
    CONSTRAINT CK_dbmerge_DocumentMove_Position CHECK (Position IN ('first-child', 'last-child', 'left', 'right', 'first-sibling', 'last-sibling')),
    CONSTRAINT CK_dbmerge_DocumentMove_Counts CHECK (DocumentsMoved >= 1 AND SiblingsShifted >= 0 AND PathsRewritten >= DocumentsMoved AND RowsWritten >= PathsRewritten)
);
GO
