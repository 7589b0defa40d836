-- A transaction's total is never negative (the quality checks quarantine
-- such records first): a write that breaks this is refused as a data error.
-- NOT VALID: existing rows are not rescanned; new ones are checked.
ALTER TABLE transactions ADD CONSTRAINT transactions_total_cents_check CHECK (total_cents >= 0) NOT VALID;
