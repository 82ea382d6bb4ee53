-- sqlite3: tables, an index, a join, grouping, a recursive CTE, window functions, printf
CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE emp(id INTEGER PRIMARY KEY, name TEXT, dept INTEGER REFERENCES dept(id), salary REAL);
CREATE INDEX emp_dept ON emp(dept);
INSERT INTO dept(name) VALUES ('eng'), ('ops'), ('sales');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO emp(name, dept, salary)
  SELECT printf('emp%03d', i), 1 + (i * 7) % 3, 1000 + (i * 37) % 500 FROM n;
SELECT d.name, count(*), sum(e.salary), printf('%.2f', avg(e.salary)), min(e.name), max(e.name)
  FROM emp e JOIN dept d ON d.id = e.dept GROUP BY d.name ORDER BY d.name;
SELECT name, salary, rank() OVER (PARTITION BY dept ORDER BY salary DESC, name) AS r
  FROM emp WHERE id % 50 = 0 ORDER BY dept, r;
WITH RECURSIVE fib(a, b, k) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, k + 1 FROM fib WHERE k < 40)
SELECT group_concat(a, ',') FROM fib WHERE k % 10 = 0;
UPDATE emp SET salary = salary * 1.1 WHERE dept = 2;
DELETE FROM emp WHERE id > 290;
SELECT count(*), printf('%.1f', sum(salary)) FROM emp;
BEGIN; INSERT INTO dept(name) VALUES ('tmp'); ROLLBACK;
SELECT count(*) FROM dept;
SELECT upper('riscv') || '-' || length('linux user') || '-' || substr('pydbt', 3) || '-' || hex(42) || '-' || (7 / 2) || '-' || (7 / 2.0);
SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name;
