package event

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode"
	"unicode/utf8"
)

// NormaliseAddress is a shipping address in the form two spellings of one
// address share: lower case, apostrophes dropped ("St John's" and "St
// Johns" are one street), every other run of punctuation, symbols and
// white space one space, trimmed. Words and numbers keep their order and
// their boundaries, so "Flat 1, 23 High St" and "Flat 12, 3 High St" stay
// apart; abbreviations are not expanded ("St" is not "Street") and a
// postcode written without its space ("SW1A1AA") is another word.
// Invalid UTF-8 counts as a separator.
func NormaliseAddress(s string) string {
	return string(AppendNormalisedAddress(make([]byte, 0, len(s)), s))
}

// AppendNormalisedAddress appends NormaliseAddress(s) to b.
func AppendNormalisedAddress(b []byte, s string) []byte {
	start := len(b)
	space := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\'' || r == '\u2019' || r == '\u2018' || r == '`':
			continue
		case r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			if space && len(b) > start {
				b = append(b, ' ')
			}
			space = false
			b = utf8.AppendRune(b, unicode.ToLower(r))
		default:
			space = true
		}
	}
	return b
}

// AddressKey is the identity of a shipping address across accounts: 16 hex
// digits of the HMAC-SHA256, keyed with key, of its normal form
// (NormaliseAddress), "" when it has no letter or digit. The address
// itself is not kept beyond the record: the key is what is stored and
// what the entity stage counts. Keyed with the deployment's secret (the
// store's, or --address-key-file), a key seen in the API, an alert or a
// ring's reason does not confirm a guessed address to whoever lacks the
// secret: without it, hashing "14 Mill Lane" is no test of whether a
// customer ships there. With an empty key it is the unkeyed SHA-256 of
// the normal form, which anyone can recompute: for tests and the offline
// evaluation, whose keys are never shown. Either way it is a pseudonym,
// erased with the customer like the device and card.
func AddressKey(key []byte, s string) string {
	k, ok := AddressKeyBytes(key, s)
	if !ok {
		return ""
	}
	return hex.EncodeToString(k[:])
}

// AddressKeyBytes is AddressKey before its hex encoding (ok false when
// AddressKey is ""), without allocating for normal forms of up to 256
// bytes: what the fraud state compares for every order. The HMAC is
// computed here (RFC 2104 over SHA-256, a key longer than the block
// hashed first) rather than with crypto/hmac, which allocates.
func AddressKeyBytes(key []byte, s string) (k [8]byte, ok bool) {
	const block = 64
	var buf [block + 256]byte
	n := AppendNormalisedAddress(buf[:block], s)
	if len(n) == block {
		return k, false
	}
	var sum [sha256.Size]byte
	if len(key) == 0 {
		sum = sha256.Sum256(n[block:])
	} else {
		var kb [block]byte
		if len(key) > block {
			h := sha256.Sum256(key)
			copy(kb[:], h[:])
		} else {
			copy(kb[:], key)
		}
		for i := range block {
			n[i] = kb[i] ^ 0x36
		}
		inner := sha256.Sum256(n)
		var outer [block + sha256.Size]byte
		for i := range block {
			outer[i] = kb[i] ^ 0x5c
		}
		copy(outer[block:], inner[:])
		sum = sha256.Sum256(outer[:])
	}
	copy(k[:], sum[:8])
	return k, true
}

// IsAddressKey reports whether s has the form of an address key: 16
// lower-case hex digits, as AddressKey returns. A stored transaction keeps
// only its address's key, so code that reads both live events and stored
// rows (the fraud state, rebuilt by replay) takes such a value as the key
// itself; no address a person writes has that form.
func IsAddressKey(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
