/*
  0060_create_dbmerge_CollectionClaim
  Why:   issue 13 (seeds/002): collections claimed by a user - the anonymous collections of a session at login
         (api.Collection_ClaimSession) and the collections of an inactive legacy account with the same e-mail
         (api.Collection_ClaimLegacy) - are recorded so that an operator can see what moved when and undo a
         legacy claim (api.Collection_UndoClaim, dbmerge collections undo-claim).
           dbmerge.CollectionClaim      one row per claim that moved at least one collection (a repeated claim
                                        that finds nothing writes no row): kind, the claiming user, who asked,
                                        when, how many collections moved and how many were renamed, and, once
                                        undone, when and by whom. A session claim keeps only the SHA-256 of the
                                        session id (SessionIdHash): enough to tell a later claim of the same
                                        session who claimed it, without keeping a session token forever.
           dbmerge.CollectionClaimItem  one row per moved collection: where it came from (FromUserId; NULL for a
                                        session), where it went (ToUserId), its name and UpdatedAt before the
                                        claim (what an undo restores) and after it (what the claim left: an undo
                                        refuses unless the collection still has exactly these).
         UserId / FromUserId / ToUserId / CollectionId are deliberately NOT foreign keys (like dbmerge.MergeRun):
         history must survive whatever later happens to the users and collections, and a foreign key to
         app.User would need a merge policy that rewrites history (DBM040).
         Indexes: PK_dbmerge_CollectionClaim (ClaimId: undo, list one claim); IX_dbmerge_CollectionClaim_UserId
         (claims of a user, newest first); IX_dbmerge_CollectionClaim_SessionIdHash (latest claim of a session,
         filtered on SessionIdHash IS NOT NULL: only session claims); PK_dbmerge_CollectionClaimItem (ClaimId,
         CollectionId: the items of a claim in keyset order); IX_dbmerge_CollectionClaimItem_FromUserId (what
         was claimed from an account, filtered on FromUserId IS NOT NULL: only legacy items).
  Locks: creates two new tables; no existing table is touched.
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
CREATE TABLE dbmerge.CollectionClaim
(
    ClaimId         bigint         IDENTITY(1, 1) NOT NULL,
    Kind            varchar(10)    NOT NULL,
    UserId          int            NOT NULL,
    SessionIdHash   binary(32)     NULL,
    LegacyUserId    int            NULL,
    RequestedBy     nvarchar(128)  NOT NULL,
    ClaimedAt       datetime2(3)   NOT NULL,
    CollectionCount int            NOT NULL,
    RenamedCount    int            NOT NULL,
    UndoneAt        datetime2(3)   NULL,
    UndoneBy        nvarchar(128)  NULL,
    CONSTRAINT PK_dbmerge_CollectionClaim PRIMARY KEY CLUSTERED (ClaimId),
    CONSTRAINT CK_dbmerge_CollectionClaim_Kind CHECK (Kind IN ('session', 'legacy')),
    CONSTRAINT CK_dbmerge_CollectionClaim_Source CHECK ((Kind = 'session' AND SessionIdHash IS NOT NULL AND LegacyUserId IS NULL)
                                                        OR (Kind = 'legacy' AND SessionIdHash IS NULL)),
    CONSTRAINT CK_dbmerge_CollectionClaim_Counts CHECK (CollectionCount > 0 AND RenamedCount >= 0 AND RenamedCount <= CollectionCount),
    CONSTRAINT CK_dbmerge_CollectionClaim_Undone CHECK ((UndoneAt IS NULL AND UndoneBy IS NULL)
                                                        OR (UndoneAt IS NOT NULL AND UndoneBy IS NOT NULL AND Kind = 'legacy'))
);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_CollectionClaim_UserId ON dbmerge.CollectionClaim (UserId, ClaimId);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_CollectionClaim_SessionIdHash ON dbmerge.CollectionClaim (SessionIdHash, ClaimId) INCLUDE (UserId) WHERE SessionIdHash IS NOT NULL;
GO
CREATE TABLE dbmerge.CollectionClaimItem
(
    ClaimId      bigint         NOT NULL,
    CollectionId int            NOT NULL,
    FromUserId   int            NULL,
    ToUserId     int            NOT NULL,
    OldName      nvarchar(200)  NOT NULL,
    NewName      nvarchar(200)  NOT NULL,
    OldUpdatedAt datetime2(3)   NOT NULL,
    NewUpdatedAt datetime2(3)   NOT NULL,
    CONSTRAINT PK_dbmerge_CollectionClaimItem PRIMARY KEY CLUSTERED (ClaimId, CollectionId),
    CONSTRAINT FK_dbmerge_CollectionClaimItem_ClaimId_dbmerge_CollectionClaim FOREIGN KEY (ClaimId) REFERENCES dbmerge.CollectionClaim (ClaimId)
);
GO
CREATE NONCLUSTERED INDEX IX_dbmerge_CollectionClaimItem_FromUserId ON dbmerge.CollectionClaimItem (FromUserId, ClaimId) WHERE FromUserId IS NOT NULL;
GO
