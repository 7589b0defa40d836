package geoip

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxBINPrefix is the longest BIN prefix a table may hold: eight digits,
// the length BINs have had since 2022 (ISO/IEC 7812-1:2017).
const MaxBINPrefix = 8

// BINInfo is what a BIN table says about a card prefix.
type BINInfo struct {
	// Prefix is the table row that matched (the longest one).
	Prefix string
	// Country is the issuing country, ISO 3166 alpha-2, or "" where the
	// row gives none (a card scheme's range, not an issuer's).
	Country string
	// Type is "credit", "debit", "prepaid" or "" (unknown).
	Type string
	// Scheme is the card network, e.g. "visa", or "".
	Scheme string
}

// BINTable maps card BIN prefixes to their issuing country, card type and
// scheme by longest-prefix match.
type BINTable struct {
	rows map[string]BINInfo
	// countries counts the rows with an issuing country.
	countries int
}

// ErrBadBINTable is wrapped by every error about a BIN table's content.
var ErrBadBINTable = errors.New("bad BIN table")

var binTypes = map[string]bool{"": true, "credit": true, "debit": true, "prepaid": true}

// ReadBINTable reads a BIN table: CSV with the header
// "prefix,country,type,scheme" (country, type and scheme may be empty;
// scheme and type may be left out of the header), one row per prefix of 1
// to 8 digits, lines starting with # ignored. A prefix given twice, a
// country that is not two upper-case letters or an unknown type fails
// with the line's number.
func ReadBINTable(r io.Reader) (*BINTable, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: empty, want the header prefix,country,type,scheme", ErrBadBINTable)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadBINTable, err)
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("%w: column %q given twice", ErrBadBINTable, h)
		}
		col[h] = i
	}
	for _, need := range []string{"prefix", "country"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%w: the header has no %q column (want prefix,country,type,scheme)", ErrBadBINTable, need)
		}
	}
	field := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	t := &BINTable{rows: map[string]BINInfo{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadBINTable, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			return nil, fmt.Errorf("%w: line %d has %d fields, the header %d", ErrBadBINTable, line, len(rec), len(head))
		}
		p := field(rec, "prefix")
		if len(p) == 0 || len(p) > MaxBINPrefix || strings.Trim(p, "0123456789") != "" {
			return nil, fmt.Errorf("%w: line %d: prefix %q is not 1 to %d digits", ErrBadBINTable, line, p, MaxBINPrefix)
		}
		info := BINInfo{Prefix: p, Country: field(rec, "country"), Type: strings.ToLower(field(rec, "type")), Scheme: strings.ToLower(field(rec, "scheme"))}
		if info.Country != "" && !isCountryCode(info.Country) {
			return nil, fmt.Errorf("%w: line %d: country %q is not an ISO 3166 alpha-2 code (two upper-case letters)", ErrBadBINTable, line, info.Country)
		}
		if !binTypes[info.Type] {
			return nil, fmt.Errorf("%w: line %d: type %q is not credit, debit, prepaid or empty", ErrBadBINTable, line, info.Type)
		}
		if _, dup := t.rows[p]; dup {
			return nil, fmt.Errorf("%w: line %d: prefix %s given twice", ErrBadBINTable, line, p)
		}
		t.rows[p] = info
		if info.Country != "" {
			t.countries++
		}
	}
	if len(t.rows) == 0 {
		return nil, fmt.Errorf("%w: no rows", ErrBadBINTable)
	}
	return t, nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// Lookup returns the longest row that is a prefix of bin. Only the leading
// digits of bin count (at most MaxBINPrefix of them).
func (t *BINTable) Lookup(bin string) (BINInfo, bool) {
	n := 0
	for n < len(bin) && n < MaxBINPrefix && bin[n] >= '0' && bin[n] <= '9' {
		n++
	}
	for ; n > 0; n-- {
		if info, ok := t.rows[bin[:n]]; ok {
			return info, true
		}
	}
	return BINInfo{}, false
}

// CountryOfBIN returns the issuing country of bin, or "".
func (t *BINTable) CountryOfBIN(bin string) string {
	info, _ := t.Lookup(bin)
	return info.Country
}

// Len is the number of rows.
func (t *BINTable) Len() int { return len(t.rows) }

// HasCountries reports whether any row names an issuing country: a table
// of card schemes' ranges alone gives card types but no geography.
func (t *BINTable) HasCountries() bool { return t.countries > 0 }

// Prefixes returns the prefixes of the rows issued in country, sorted.
func (t *BINTable) Prefixes(country string) []string {
	var out []string
	for p, info := range t.rows {
		if info.Country == country {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
