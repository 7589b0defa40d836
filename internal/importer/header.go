package importer

import (
	"fmt"
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
		if r.col[c] < 0 && c < requiredCols {
			missing = append(missing, logicalNames[c])
		}
	}
	if len(missing) > 0 {
		return &HeaderError{Missing: missing, Header: r.header}
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
