package sqlstore

import "strings"

// Sanitize makes text storable in every dialect: PostgreSQL's text takes
// neither NUL nor invalid UTF-8. Each NUL becomes U+FFFD and each invalid
// byte sequence one U+FFFD.
func Sanitize(s string) string {
	if !strings.ContainsRune(s, 0) && strings.ToValidUTF8(s, "") == s {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
