SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  permissions.DbMergeOperator
  Operators (the dbmerge console) are members of DbMergeOperator: they may execute schema api like the
  application; operator-only procedures check IS_ROLEMEMBER(N'DbMergeOperator') themselves.
  Re-runnable: GRANT is idempotent.
*/
GRANT EXECUTE ON SCHEMA::api TO DbMergeOperator;
GO
