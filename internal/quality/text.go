package quality

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// nulEscape is how JSON writes the NUL character inside a string.
var nulEscape = []byte(`\u0000`)

// checkText rejects a record whose text neither store can hold the same
// way: PostgreSQL refuses a NUL character and invalid UTF-8 in a text
// column (SQLSTATE 22021) while SQLite keeps them, and the JSON decoder
// silently turns invalid UTF-8 into U+FFFD. It looks at the raw bytes, so
// it costs one pass of three vectorised scans on a clean record.
func checkText(raw []byte) *Failure {
	if utf8.Valid(raw) && bytes.IndexByte(raw, 0) < 0 && !bytes.Contains(raw, nulEscape) {
		return nil
	}
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == 0:
			return fail(InvalidText, "%s: NUL byte at byte %d", fieldAt(raw, i), i)
		case c == '\\':
			if bytes.HasPrefix(raw[i:], nulEscape) {
				return fail(InvalidText, `%s: NUL character (\u0000) at byte %d`, fieldAt(raw, i), i)
			}
			i += 2 // skip the escaped character, so `\\u0000` is not a NUL
			continue
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				return fail(InvalidText, "%s: invalid UTF-8 at byte %d", fieldAt(raw, i), i)
			}
			i += n
			continue
		}
		i++
	}
	return nil
}

// fieldAt names the JSON member whose value holds byte i of raw: the last
// complete "key": before it. It is a best effort for the failure's detail,
// not a parser; it returns "record" when it finds none.
func fieldAt(raw []byte, i int) string {
	for j := min(i, len(raw)) - 1; j > 0; j-- {
		if raw[j] != ':' {
			continue
		}
		k := j - 1
		for k >= 0 && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r') {
			k--
		}
		if k < 1 || raw[k] != '"' {
			continue
		}
		start := bytes.LastIndexByte(raw[:k], '"')
		if start < 0 {
			return "record"
		}
		name := raw[start+1 : k]
		if len(name) > 64 || !utf8.Valid(name) || bytes.IndexByte(name, 0) >= 0 || bytes.IndexByte(name, '\\') >= 0 {
			return "record"
		}
		return fmt.Sprintf("field %q", name)
	}
	return "record"
}
