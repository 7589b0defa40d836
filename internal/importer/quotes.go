package importer

import (
	"bytes"
	"encoding/csv"
	"io"
	"strings"
)

// An opening quote never closed on its line (a description written
// `"WHITE METAL LANTERN` by hand, a field cut short) makes the CSV reader
// take every line after it as that field's text until a later quote closes
// it, or to the end of the file: thousands of order lines read as one row,
// which is skipped, or, when the fields after the closing quote happen to
// be as many as the header's, imported with that row's order and a
// description of megabytes, the lines between lost. The Reader notices a
// record that spans lines of which one, read alone, has as many fields as
// the header (an order line), and reads the record's lines again one by
// one: each is a row, the first with its unclosed quote taken as a literal
// character when it then has the header's fields, and skipped as
// UnclosedQuote otherwise. A field that legitimately spans lines (a note
// with line breaks, properly quoted) holds free text, not order lines, and
// is left as it is. Each line of such a record is parsed alone at most
// twice (to find an order line among them, and as a row), so a file of
// many stray quotes costs no more than reading it three times.

// tee keeps the bytes the CSV reader has read from the input and not yet
// consumed as records, so that a record's raw text can be looked at again.
type tee struct {
	r    io.Reader
	buf  []byte
	base int64 // input offset of buf[0]
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// span returns the input's bytes [from, to), both at or after the from of
// the last call, and forgets those before from.
func (t *tee) span(from, to int64) []byte {
	if d := from - t.base; d > 64<<10 {
		n := copy(t.buf, t.buf[d:])
		t.buf, t.base = t.buf[:n], from
	}
	return t.buf[from-t.base : to-t.base]
}

// queued is a row re-read from a record that spanned lines: its fields,
// or the reason it is no row and the line.
type queued struct {
	rec   []string
	bad   SkipReason
	value string
}

// read returns the next record, from the lines of a record re-read first.
// bad is non-empty for a line that is no row (value: the line).
func (r *Reader) read() (rec []string, bad SkipReason, value string, err error) {
	if len(r.queue) > 0 {
		q := r.queue[0]
		r.queue[0] = queued{}
		r.queue = r.queue[1:]
		return q.rec, q.bad, q.value, nil
	}
	start := r.cr.InputOffset()
	rec, err = r.cr.Read()
	if err != nil {
		return rec, "", "", err
	}
	raw := r.tee.span(start, r.cr.InputOffset())
	if body := trimEOL(raw); bytes.IndexByte(body, '\n') >= 0 {
		if q := r.reread(body); q != nil {
			r.queue = q
			return r.read()
		}
	}
	return rec, "", "", nil
}

// reread returns the rows of the lines of body, a record spanning lines,
// when one of its lines after the first is an order line by itself (as
// many fields as the header); nil when none is (a quoted field with line
// breaks).
func (r *Reader) reread(body []byte) []queued {
	nl := bytes.IndexByte(body, '\n')
	rest := body[nl+1:]
	found := false
	for l := range bytes.Lines(rest) {
		if f, _ := r.lineFields(l); len(f) == len(r.header) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	r.report.UnclosedQuotes++
	var out []queued
	for l := range bytes.Lines(body) {
		l = trimEOL(l)
		if len(l) == 0 {
			continue // a blank line is no record
		}
		r.report.RereadLines++
		f, openAt := r.lineFields(l)
		if openAt >= 0 && len(f) != len(r.header) {
			// The unclosed quote taken as a character: the fields before
			// it, then the rest of the line split at each separator.
			f = append(f[:len(f)-1], strings.Split(string(l[openAt:]), string(r.cfg.Comma))...)
			if len(f) != len(r.header) {
				out = append(out, queued{bad: UnclosedQuote, value: string(l)})
				continue
			}
		}
		out = append(out, queued{rec: f})
	}
	return out
}

// lineFields reads line (no line break) alone as a CSV record. openAt is
// the byte offset of the quote its last field opens and the line does not
// close, -1 when there is none.
func (r *Reader) lineFields(line []byte) (fields []string, openAt int) {
	line = trimEOL(line)
	cr := csv.NewReader(bytes.NewReader(line))
	cr.Comma = r.cfg.Comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	f, err := cr.Read()
	if err != nil || len(f) == 0 {
		return nil, -1
	}
	_, col := cr.FieldPos(len(f) - 1)
	at := col - 1 // FieldPos counts columns in bytes from 1
	if at < 0 || at >= len(line) || line[at] != '"' {
		return f, -1
	}
	// A quoted last field is closed when the line ends with its closing
	// quote (an even run of quotes before it is escaped ones).
	field := line[at+1:]
	q := 0
	for q < len(field) && field[len(field)-1-q] == '"' {
		q++
	}
	if q%2 == 1 {
		return f, -1
	}
	return f, at
}

// trimEOL drops a trailing line break (LF or CRLF).
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}
