SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  permissions.DbMergeApp
  Application code runs as a member of DbMergeApp: it may execute every procedure in schema api and
  nothing else (no direct table access to app or dbmerge). Re-runnable: GRANT is idempotent.
*/
GRANT EXECUTE ON SCHEMA::api TO DbMergeApp;
GO
