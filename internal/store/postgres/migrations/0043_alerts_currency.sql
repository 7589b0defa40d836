-- An alert keeps its transaction's currency, so that its amount (minor
-- units) reads in that currency's major units: 15,050 minor units are
-- 150.50 EUR and 15,050 JPY. A constant default adds the column without
-- rewriting the table. Alerts raised before it carry '', read as a
-- currency of two decimals, as every amount was read until then.
ALTER TABLE alerts ADD COLUMN currency text COLLATE "C" NOT NULL DEFAULT '';
