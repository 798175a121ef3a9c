/*
  0001_create_schemas_and_roles
  Why:   DbMerge keeps the application's tables in [app], its own bookkeeping in [dbmerge], and the
         procedures callers may execute in [api]. Two database roles carry the permissions:
         DbMergeApp (EXECUTE on schema api) and DbMergeOperator (operator-only procedures).
  Locks: schema-level metadata only; no table is touched.
*/
CREATE SCHEMA app AUTHORIZATION dbo;
GO
CREATE SCHEMA dbmerge AUTHORIZATION dbo;
GO
CREATE SCHEMA api AUTHORIZATION dbo;
GO
CREATE ROLE DbMergeApp AUTHORIZATION dbo;
GO
CREATE ROLE DbMergeOperator AUTHORIZATION dbo;
GO
