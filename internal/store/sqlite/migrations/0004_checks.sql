-- A transaction's total is never negative (the quality checks quarantine
-- such records first): a write that breaks this is refused as a data error.
-- SQLite cannot add a CHECK to a table, so a trigger enforces it (a
-- constraint error, SQLITE_CONSTRAINT_TRIGGER).
CREATE TRIGGER transactions_total_cents_check BEFORE INSERT ON transactions
WHEN NEW.total_cents < 0
BEGIN
    SELECT RAISE(ABORT, 'transactions.total_cents must not be negative');
END;
