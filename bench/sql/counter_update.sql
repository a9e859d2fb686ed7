-- The smallest write transaction: a HOT update of one int by primary key on
-- a 100-row table with fillfactor 50 (limits_schema.sql).
\set id random(1, 100)
UPDATE limits.counter SET n = n + 1 WHERE id = :id;
