--
-- The "walmon." prefix is reserved when walmon is loaded (test/walmon.conf
-- preloads it): a misspelt walmon setting is an error, not a new
-- placeholder.  PostgreSQL 14 has no reserved prefixes: there the misspelt
-- name is accepted, as for any other extension, and expected/guc_prefix_1.out
-- is its output.  (Kept apart from worker.sql so that the alternate output
-- is this file's only.)
--
SELECT * FROM regress.try($$SET walmon.naptme = '1s'$$);
