/*
  0047_add_dbmerge_MergePolicy_RowFilter
  Why:   a policy may apply to some of a table's rows only: RowFilter is a predicate over the policy table's own
         columns, written without a table alias (e.g. Status = 'pending'), that `dbmerge generate merge` adds to every
         statement of the policy (the generated code is static T-SQL, validated offline like every procedure).
         NULL: every row. Set for app.Invitation.Email in 0048 (only pending invitations are re-addressed).
  Locks: metadata-only — a nullable column without a default is recorded in the catalog only; no row is read or
         rewritten. Sch-M on dbmerge.MergePolicy for the catalog update only; waits at most LOCK_TIMEOUT (1222 → the
         Migrator retries).
*/
SET XACT_ABORT ON;
SET LOCK_TIMEOUT 1000;
GO
ALTER TABLE dbmerge.MergePolicy ADD RowFilter nvarchar(400) NULL;
GO
