package importer

import (
	"fmt"
	"slices"
	"strings"
)

// resolve finds the field index of every logical column.
func (r *Reader) resolve() error {
	claimed := make([]bool, len(r.header))
	var missing []string
	for c := range numCols {
		r.col[c] = -1
		want, mapped := r.cfg.Columns[logicalNames[c]]
		if !mapped {
			continue
		}
		for i, h := range r.header {
			if !claimed[i] && strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(want)) {
				r.col[c], claimed[i] = i, true
				break
			}
		}
		if r.col[c] < 0 {
			missing = append(missing, fmt.Sprintf("%s (mapped to %q)", logicalNames[c], want))
		}
	}
	norm := make([]string, len(r.header))
	for i, h := range r.header {
		norm[i] = normHeader(h)
	}
	for c := range numCols {
		if _, mapped := r.cfg.Columns[logicalNames[c]]; mapped {
			continue
		}
	synonyms:
		for _, syn := range headerSynonyms[c] {
			for i, h := range norm {
				if !claimed[i] && h == syn {
					r.col[c], claimed[i] = i, true
					break synonyms
				}
			}
		}
	}
	// An order-level log (customer, date, amount: lifetimes' transaction
	// log, CDNOW's) has no order, product or quantity column: each row is
	// an order of one line, its amount under an amount's header, and its
	// country is not required. A file with an order column is of order
	// lines, and needs their product and quantity.
	r.report.OrderLevel = r.col[colOrder] < 0 && r.col[colProduct] < 0 && r.col[colQuantity] < 0
	if r.report.OrderLevel && r.col[colPrice] < 0 {
		if _, mapped := r.cfg.Columns[UnitPrice]; !mapped {
		amount:
			for _, syn := range amountSynonyms {
				for i, h := range norm {
					if !claimed[i] && h == syn {
						r.col[colPrice], claimed[i] = i, true
						break amount
					}
				}
			}
		}
	}
	for c := range requiredCols {
		if r.col[c] >= 0 || slices.ContainsFunc(missing, func(m string) bool { return strings.HasPrefix(m, logicalNames[c]+" ") }) {
			continue
		}
		if c == colCountry || r.report.OrderLevel && (c == colOrder || c == colProduct || c == colQuantity) {
			continue // a file without countries: the unknown region (row)
		}
		missing = append(missing, logicalNames[c])
	}
	if len(missing) > 0 {
		he := &HeaderError{Missing: missing, Header: r.header, OrderLevel: r.report.OrderLevel}
		if len(r.header) == 1 {
			for _, sep := range []rune{';', '\t', '|'} {
				if sep != r.cfg.Comma && strings.ContainsRune(r.header[0], sep) {
					he.Separator = sep
					break
				}
			}
		}
		return he
	}
	// A column read under a header that another column has too (two
	// "Quantity" columns) would be one of them, silently: refused.
	for c := range numCols {
		i := r.col[c]
		if i < 0 {
			continue
		}
		for j, h := range r.header {
			if j != i && (norm[j] == norm[i] || strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(r.header[i]))) {
				return fmt.Errorf("importer: the header has two columns %q (columns %d and %d), and %s would be read from either: rename one of them in the file",
					strings.TrimSpace(r.header[i]), min(i, j)+1, max(i, j)+1, logicalNames[c])
			}
		}
	}
	for _, i := range r.col {
		r.minWidth = max(r.minWidth, i+1)
	}
	return nil
}

func normHeader(h string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\t':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(h)))
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
