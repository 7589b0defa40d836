-- The check on total_cents (0004) raises FAIL rather than ABORT. ABORT
-- undoes the failing statement's own earlier rows, so SQLite keeps a
-- statement journal of every page each multi-row INSERT into transactions
-- changes (14% of an import's insert time in a profile); FAIL leaves them,
-- and every writer of transactions rolls its whole transaction back on
-- the error anyway. The error is the same constraint error as before.
DROP TRIGGER transactions_total_cents_check;
CREATE TRIGGER transactions_total_cents_check BEFORE INSERT ON transactions
WHEN NEW.total_cents < 0
BEGIN
    SELECT RAISE(FAIL, 'transactions.total_cents must not be negative');
END;
