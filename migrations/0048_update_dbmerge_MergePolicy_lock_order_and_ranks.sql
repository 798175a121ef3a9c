/*
  0048_update_dbmerge_MergePolicy_lock_order_and_ranks
  Why:   merge v2 (issue 9). The per-table work of dbmerge.User_MergeCore is generated from these rows by
         `dbmerge generate merge` (the generator reads the INSERT of 0010 and the UPDATEs below, the same rows DBM040
         and the run-time coverage check 51105 read).
         1. ApplyOrder becomes the lock order of the data tables (README "Lock order", L3): the merge works through
            the policies in ApplyOrder, so every table is locked in one fixed order. Invitations now come before the
            memberships, the order api.Invitation_Accept locks them in (user row, invitation, membership), so a merge
            and an accept of the same user cannot deadlock. Policies on one table stay together. The new values
            (1010 …) are all above the old ones (10 … 170), so no single-row UPDATE collides with
            UQ_dbmerge_MergePolicy_ApplyOrder on the way.
         2. app.Invitation.Email ranks share modes by app.InvitationShareMode (0044) and applies to pending
            invitations only (RowFilter, 0047): between duplicates for one channel or organization the higher share
            mode is kept, whoever held it.
         3. Descriptions say what the generated handlers do.
  Locks: row locks on the 17 rows of dbmerge.MergePolicy (a small reference table), for the migration's transaction.
*/
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1010,
       Description = N'Same course: the source enrollment''s children (submissions, the final qualification) are re-pointed to the target''s enrollment, then it is deleted; both enrollments holding a final qualification refuses the merge (51106).'
WHERE SchemaName = N'app' AND TableName = N'Enrollment' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1020,
       Description = N'User grants only (team grants have no user and are untouched): for a document both users can access, the target keeps the higher role (app.DocumentRole) and the source''s grant is deleted.'
WHERE SchemaName = N'app' AND TableName = N'DocumentAccess' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1030,
       Description = N'Invitations to the source''s e-mail are re-addressed to the target''s, unless another active user holds that address; for a document both addresses are invited to, the target''s invitation keeps the higher role.'
WHERE SchemaName = N'app' AND TableName = N'DocumentInvitation' AND ColumnName = N'Email';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1040
WHERE SchemaName = N'app' AND TableName = N'DocumentInvitation' AND ColumnName = N'IssuerUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1050, RankTable = N'app.InvitationShareMode', RowFilter = N'Status = ''pending''',
       Description = N'Pending invitations to the source''s e-mail are re-addressed to the target''s, unless another active user holds that address; per channel or organization one pending invitation of the target''s address remains, with the higher share mode (app.InvitationShareMode).'
WHERE SchemaName = N'app' AND TableName = N'Invitation' AND ColumnName = N'Email';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1060
WHERE SchemaName = N'app' AND TableName = N'Invitation' AND ColumnName = N'SenderUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1070
WHERE SchemaName = N'app' AND TableName = N'Invitation' AND ColumnName = N'InvitedUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1080
WHERE SchemaName = N'app' AND TableName = N'OrganizationMember' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1090
WHERE SchemaName = N'app' AND TableName = N'ChannelMember' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1100
WHERE SchemaName = N'app' AND TableName = N'LinkTrace' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1110
WHERE SchemaName = N'app' AND TableName = N'DocumentFavorite' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1120
WHERE SchemaName = N'app' AND TableName = N'ReactionUser' AND ColumnName = N'UserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1130
WHERE SchemaName = N'app' AND TableName = N'Document' AND ColumnName = N'CreatorUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1140
WHERE SchemaName = N'app' AND TableName = N'Thread' AND ColumnName = N'CreatorUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1150
WHERE SchemaName = N'app' AND TableName = N'Comment' AND ColumnName = N'AuthorUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1160
WHERE SchemaName = N'app' AND TableName = N'Collection' AND ColumnName = N'OwnerUserId';
GO
UPDATE dbmerge.MergePolicy SET ApplyOrder = 1170
WHERE SchemaName = N'app' AND TableName = N'User' AND ColumnName = N'MergedIntoUserId';
GO
