-- The product fold rewrites every product's hour and day rows at each
-- run (every 10 s while a stream is live: about 4,000 rows). The covering
-- index of 0031 held the updated sums, so no update could stay on its
-- page (HOT): each wrote a new row version elsewhere and an entry into
-- all three indexes. Without it, and with room on the pages (fill factor
-- 70, for pages written from now on), an update changes no indexed
-- column and stays in place. Upserting a run's 3,973 rows of a kept
-- database: 55 to 73 ms and 2.5 MB of WAL with the covering index, 22 to
-- 31 ms and 0.6 to 0.96 MB without (test/perf/inplace.sh;
-- docs/dashboard.md, "Top products of a range"). The totals of a range are read through the primary key's
-- (granularity, window_start) prefix; the rows of a day stay together.
DROP INDEX IF EXISTS product_windows_totals;
ALTER TABLE product_windows SET (fillfactor = 70);
