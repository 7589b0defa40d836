-- The shipping address's key (event.AddressKey: 16 hex digits of the
-- SHA-256 of its normal form), '' when the record had none (records from
-- before it was carried, imported order logs). The address itself is not
-- stored. The entity stage counts it as the entity address:<key>; erasing
-- a customer clears it with the device and card.
ALTER TABLE transactions ADD COLUMN shipping_address text NOT NULL DEFAULT '';
