-- sqlite3: 200k rows, an index, updates, deletes, VACUUM, integrity check.
PRAGMA journal_mode = DELETE;
PRAGMA cache_size = -20000;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, name TEXT, payload BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200000)
INSERT INTO t SELECT i, (i * 7919) % 100003, 'name-' || ((i * 31) % 5000) || '-' || i,
                     zeroblob(20 + (i % 200)) FROM c;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(k), max(length(name)), sum(length(payload)) FROM t;
UPDATE t SET name = upper(name) || '+', k = k + 1 WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), sum(k), count(DISTINCT substr(name, 1, 8)) FROM t;
SELECT k, count(*) FROM t WHERE k BETWEEN 500 AND 520 GROUP BY k ORDER BY k;
SELECT name FROM t WHERE name LIKE 'NAME-42-%' ORDER BY name LIMIT 5;
SELECT substr(group_concat(name, ','), 1, 80) FROM (SELECT name FROM t ORDER BY k DESC, id LIMIT 1000);
VACUUM;
PRAGMA integrity_check;
SELECT count(*), sum(id) FROM t INDEXED BY t_k WHERE k > 50000;
