SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
/*
  permissions.DbMergeOperator
  Operators (the dbmerge console) are members of DbMergeOperator: they may execute schema api like the
  application, and the operator-only procedures of schema dbmerge that the console calls. Those procedures
  also check IS_ROLEMEMBER(N'DbMergeOperator') themselves.
  Constraint validation (README "Operations", required permissions): the console reads the validation progress
  and the recorded violations directly (`constraints list`, `constraints violations`, `status`), hence SELECT on
  those two tables. The procedures build their statements with sp_executesql, where ownership chaining does not
  apply, and catalog views show a caller only what it may see, so per validated table the operator additionally
  needs SELECT and VIEW DEFINITION (validate; SELECT on the table a foreign key references) and ALTER (trust).
  Those are granted per table by the DBA, not here: which tables an operator may validate is a local decision.
  No VIEW DATABASE STATE is needed (row estimates come from sys.partitions). db_owner has all of them.
  Re-runnable: GRANT is idempotent.
*/
GRANT EXECUTE ON SCHEMA::api TO DbMergeOperator;
GO
GRANT EXECUTE ON OBJECT::dbmerge.Constraint_ValidateBatch TO DbMergeOperator;
GO
GRANT EXECUTE ON OBJECT::dbmerge.Constraint_Trust TO DbMergeOperator;
GO
GRANT SELECT ON OBJECT::dbmerge.ConstraintValidation TO DbMergeOperator;
GO
GRANT SELECT ON OBJECT::dbmerge.ConstraintViolation TO DbMergeOperator;
GO
GRANT EXECUTE ON TYPE::dbmerge.ReconciliationImportRowList TO DbMergeOperator;
GO
GRANT EXECUTE ON TYPE::dbmerge.OutboxIdList TO DbMergeOperator;
GO
