SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  permissions.DbMergeOperator
  Operators (the dbmerge console) are members of DbMergeOperator: they may execute schema api like the
  application, and the operator-only procedures of schema dbmerge that the console calls. Those procedures
  also check IS_ROLEMEMBER(N'DbMergeOperator') themselves. Constraint validation and trust build their
  statements with sp_executesql, where ownership chaining does not apply: the operator additionally needs
  SELECT on the validated table (validate), ALTER on it (trust) and VIEW DATABASE STATE (row estimates);
  db_owner has all of them.
  Re-runnable: GRANT is idempotent.
*/
GRANT EXECUTE ON SCHEMA::api TO DbMergeOperator;
GO
GRANT EXECUTE ON OBJECT::dbmerge.Constraint_ValidateBatch TO DbMergeOperator;
GO
GRANT EXECUTE ON OBJECT::dbmerge.Constraint_Trust TO DbMergeOperator;
GO
GRANT EXECUTE ON TYPE::dbmerge.ReconciliationImportRowList TO DbMergeOperator;
GO
GRANT EXECUTE ON TYPE::dbmerge.OutboxIdList TO DbMergeOperator;
GO
