package quality

import (
	"bytes"
	"strconv"
)

// maxFieldName bounds the length of an unknown field's name as reported.
const maxFieldName = 64

// appendUnknownFields appends the names of raw's top-level members that
// version 1 does not know. raw is a JSON object the decoder has accepted.
//
// Hand-written rather than a second decode: the decoder (goccy/go-json)
// skips unknown members without a word, and asking it to refuse them
// stops at the first; this scan steps over the values of the known
// members with vectorised searches for quotes, so it costs about a tenth
// of the decode and allocates only for an unknown name.
func appendUnknownFields(dst []string, raw []byte) []string {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return dst
	}
	i++
	next := 0 // members usually come in the order event.Marshal writes them
	for {
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != '"' {
			return dst
		}
		end := stringEnd(raw, i+1)
		if end < 0 {
			return dst
		}
		key := raw[i+1 : end]
		switch {
		case next < len(v1Fields) && string(key) == v1Fields[next]:
			next++
		default:
			if k := fieldIndex(key); k >= 0 {
				next = k + 1
			} else {
				dst = append(dst, fieldName(key))
			}
		}
		i = skipWS(raw, end+1)
		if i >= len(raw) || raw[i] != ':' {
			return dst
		}
		i = skipValue(raw, skipWS(raw, i+1))
		i = skipWS(raw, i)
		if i >= len(raw) || raw[i] != ',' {
			return dst
		}
		i++
	}
}

func fieldIndex(key []byte) int {
	for k, f := range v1Fields {
		if string(key) == f {
			return k
		}
	}
	if bytes.IndexByte(key, '\\') >= 0 { // an escaped name may still be a known one
		if s, err := strconv.Unquote(`"` + string(key) + `"`); err == nil {
			for k, f := range v1Fields {
				if s == f {
					return k
				}
			}
		}
	}
	return -1
}

// fieldName is an unknown member's name as reported: unescaped when it
// can be, at most maxFieldName bytes of valid text.
func fieldName(key []byte) string {
	s := string(key)
	if bytes.IndexByte(key, '\\') >= 0 {
		if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
			s = u
		}
	}
	if len(s) > maxFieldName {
		s = s[:maxFieldName]
	}
	return trimErr(s)
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote closing the string whose
// contents start at i, or -1. A byte loop: the strings of a record are
// short, where a call to bytes.IndexByte costs more than it saves.
func stringEnd(b []byte, i int) int {
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i
		case '\\':
			i++
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at i.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		if e := stringEnd(b, i+1); e >= 0 {
			return e + 1
		}
		return len(b)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				e := stringEnd(b, i+1)
				if e < 0 {
					return len(b)
				}
				i = e
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	return i
}
