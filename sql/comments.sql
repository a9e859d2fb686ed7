--
-- Self-describing: every table, column, view, function and the wrapper of
-- the extension carries a comment, so that \d+ and \df+ explain them.
--
CREATE EXTENSION walmon;

-- members without a comment: none
SELECT pg_describe_object(d.classid, d.objid, 0) AS member_without_comment
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'walmon')
  AND d.deptype = 'e'
  AND d.classid IN ('pg_class'::regclass, 'pg_proc'::regclass, 'pg_type'::regclass,
                   'pg_foreign_data_wrapper'::regclass)
  AND NOT (d.classid = 'pg_class'::regclass
		   AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S')
  -- a table's or view's row type and an array type, members from 17 on,
  -- are described by their relation and element type
  AND NOT (d.classid = 'pg_type'::regclass
		   AND EXISTS (SELECT FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
					   WHERE t.oid = d.objid
					     AND (r.relkind <> 'c'
							  OR EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid))))
  AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
ORDER BY 1;

-- columns of its tables and views without a comment: none
SELECT c.relname || '.' || a.attname AS column_without_comment
FROM pg_depend d
JOIN pg_class c ON c.oid = d.objid
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'walmon')
  AND d.deptype = 'e' AND c.relkind IN ('r', 'v')
  AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1;

-- settings without a description: none
SELECT name AS setting_without_description FROM pg_settings
WHERE name LIKE 'walmon.%' AND coalesce(short_desc, '') = '';

-- what \d+ shows, for one column
SELECT col_description('wal_monitor'::regclass, attnum)
FROM pg_attribute WHERE attrelid = 'wal_monitor'::regclass AND attname = 'replication_lag_seconds';

DROP EXTENSION walmon;
