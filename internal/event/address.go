package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
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
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\'' || r == '\u2019' || r == '\u2018' || r == '`':
			continue
		case r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default:
			space = true
		}
	}
	return b.String()
}

// AddressKey is the identity of a shipping address across accounts: 16 hex
// digits of the SHA-256 of its normal form (NormaliseAddress), "" when it
// has no letter or digit. The address itself is not kept beyond the
// record: the key is what is stored and what the entity stage counts. An
// unkeyed hash of something as guessable as an address is a pseudonym,
// not an anonymisation: it is erased with the customer like the device
// and card.
func AddressKey(s string) string {
	n := NormaliseAddress(s)
	if n == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:8])
}
