package sqlstore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"grüße €", "grüße €"},
		{"a\x00b", "a\uFFFDb"},
		{"bad \xff\xfe end", "bad \uFFFD end"},
		{"\x00\xc3", "\uFFFD\uFFFD"},
	}
	for _, tc := range tests {
		if got := Sanitize(tc.in); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "ok", "a\x00b", "\xff", "grüße\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		if !utf8.ValidString(out) || strings.ContainsRune(out, 0) {
			t.Fatalf("Sanitize(%q) = %q: not storable", in, out)
		}
		if utf8.ValidString(in) && !strings.ContainsRune(in, 0) && out != in {
			t.Fatalf("Sanitize changed storable text %q to %q", in, out)
		}
		if Sanitize(out) != out {
			t.Fatalf("Sanitize is not idempotent on %q", in)
		}
	})
}
