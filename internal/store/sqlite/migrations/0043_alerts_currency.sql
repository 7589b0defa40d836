-- An alert keeps its transaction's currency, so that its amount (minor
-- units) reads in that currency's major units: 15,050 minor units are
-- 150.50 EUR and 15,050 JPY. Alerts raised before it carry '', read as a
-- currency of two decimals, as every amount was read until then.
ALTER TABLE alerts ADD COLUMN currency TEXT NOT NULL DEFAULT '';
