-- Households of an import are now located in memory and written in one transaction
-- (server/db/household-import.ts): the staging table of migration 011 has no more use.
DROP TABLE IF EXISTS import_household;
