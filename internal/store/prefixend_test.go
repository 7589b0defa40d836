package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPrefixEnd: every string starting with p lies in [p, end), every
// other string at or above p lies at or above end, and the end of valid
// UTF-8 is valid UTF-8. Customer IDs are valid UTF-8 (the decoder
// quarantines others), so for a valid p only valid strings are compared:
// between "\x7f" and its end "\u0080" lie only invalid ones.
func FuzzPrefixEnd(f *testing.F) {
	for _, c := range [][2]string{{"c1", "c10"}, {"c1", "c2"}, {"c\u00e9", "c\u00e9z"}, {"c\U0010ffff", "d"},
		{"a\ud7ff", "a\ue000"}, {"\xff", "\xff\xff"}, {"", "x"}, {"c\xff", "c\xffa"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, p, s string) {
		if utf8.ValidString(p) && !utf8.ValidString(s) {
			return
		}
		end, ok := PrefixEnd(p)
		if !ok {
			// No end: every string at or above p starts with it.
			if s >= p && !strings.HasPrefix(s, p) {
				t.Fatalf("PrefixEnd(%q) has no end, but %q is above it without the prefix", p, s)
			}
			return
		}
		if end <= p {
			t.Fatalf("PrefixEnd(%q) = %q, not above it", p, end)
		}
		if utf8.ValidString(p) && !utf8.ValidString(end) {
			t.Fatalf("PrefixEnd(%q) = %q, not valid UTF-8", p, end)
		}
		switch {
		case strings.HasPrefix(s, p) && s >= end:
			t.Fatalf("%q starts with %q but is not below its end %q", s, p, end)
		case !strings.HasPrefix(s, p) && s >= p && s < end:
			t.Fatalf("%q does not start with %q but is below its end %q", s, p, end)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct {
		p, end string
		ok     bool
	}{
		{"c1", "c2", true}, {"c\u00e9", "c\u00ea", true}, {"c\U0010ffff", "d", true}, {"a\ud7ff", "a\ue000", true},
		{"\U0010ffff", "", false}, {"", "", false}, {"c\xff", "d", true}, {"\xff\xff", "", false},
	} {
		if end, ok := PrefixEnd(tc.p); end != tc.end || ok != tc.ok {
			t.Errorf("PrefixEnd(%q) = %q, %v; want %q, %v", tc.p, end, ok, tc.end, tc.ok)
		}
	}
}
