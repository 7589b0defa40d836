package iforest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// ReadLabelledCSV reads the outlier-benchmark format of ODDS and ADBench:
// no header, every row the same number of comma-separated numbers, the
// last one the label (0 normal, 1 anomaly) and the others the features. It
// exists so models can be checked against published results on those
// sets. Errors give the line and column (1-based field) of the first bad
// value; non-finite features are rejected, since no split can be drawn
// between them.
func ReadLabelledCSV(r io.Reader) (X [][]float64, y []bool, err error) {
	d, err := ReadCSV(r, true)
	if err != nil {
		return nil, nil, err
	}
	if d.Header != nil {
		return nil, nil, fmt.Errorf("reading labelled CSV: line 1, column 1: feature %q: a header, but the benchmark format has none", d.Header[0])
	}
	return d.X, d.Y, nil
}

// Data is a CSV read by [ReadCSV] or [ReadCSVWith].
type Data struct {
	// Header is the first line when it is a header, else nil.
	Header []string
	// Features names the feature columns, in order, when there is a
	// header.
	Features []string
	// X holds the features of each row.
	X [][]float64
	// Y holds the labels when the CSV is labelled, else nil.
	Y []bool
	// IDs holds each row's CSVOptions.ID column, else nil.
	IDs []string
}

// CSVOptions says which columns of a CSV are what. By default every
// column is a feature.
type CSVOptions struct {
	// Labelled makes the last column the 0/1 label (1 anomaly).
	Labelled bool
	// Label names the header's column holding the 0/1 label.
	Label string
	// ID names a column carried to Data.IDs as text (an order or customer
	// number, to join the scores back), not a feature.
	ID string
	// Ignore names columns that are neither features nor the label.
	Ignore []string
}

// named tells whether o names columns, and so needs a header.
func (o CSVOptions) named() bool { return o.Label != "" || o.ID != "" || len(o.Ignore) > 0 }

// ReadCSV reads comma-separated numeric features, one row per line, as
// scored by shopstream iforest score: a first line without any number is
// taken as a header, and with labelled the last column is the label (0
// normal, 1 anomaly) rather than a feature. Every row must have the same
// number of fields. Errors give the line and column (1-based field) of the
// first bad value; non-finite features are rejected, since no split can be
// drawn between them.
//
// After the first line, the input is read in blocks of whole lines, parsed
// on one goroutine per CPU, and put back in order: the rows, and the error
// of the first bad line, are those a line-by-line reading gives
// (TestReadCSVBlocksAlike).
func ReadCSV(r io.Reader, labelled bool) (*Data, error) {
	return ReadCSVWith(r, CSVOptions{Labelled: labelled})
}

// ReadCSVWith is ReadCSV with the columns o names: when o names any, the
// first line is the header, every name must be in it, and the columns
// not named are the features.
func ReadCSVWith(r io.Reader, o CSVOptions) (*Data, error) {
	return readCSV(r, o, csvBlock, runtime.GOMAXPROCS(0))
}

const (
	// csvBlock is how much of the input one parsing job reads.
	csvBlock = 1 << 20
	// csvMaxLine is the longest line, its end included, that is read.
	csvMaxLine = 1 << 20
)

// csvRows is what reading some lines gives.
type csvRows struct {
	X   [][]float64
	Y   []bool
	IDs []string
	err error
}

// What a column is to the reader.
const (
	roleFeature = iota
	roleLabel
	roleID
	roleIgnore
)

// rowParser parses the rows after the first line.
type rowParser struct {
	what      string
	width, nf int
	roles     []byte // by column
	fields    [][]byte
	block     []float64 // rows are carved out of blocks, not allocated one by one
	out       csvRows
}

// lines parses the lines of data, the first of them line first, into
// p.out; it stops at the first bad line.
func (p *rowParser) lines(data []byte, first int) {
	line := first - 1
	for len(data) > 0 && p.out.err == nil {
		raw := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		line++
		if len(raw) > csvMaxLine {
			p.out.err = fmt.Errorf("reading %s: line %d is longer than 1 MiB", p.what, line)
			return
		}
		rec := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(rec)) == 0 {
			continue // blank lines are not rows
		}
		p.out.err = p.row(rec, line)
	}
}

// row parses one line's fields into p.out.
func (p *rowParser) row(rec []byte, line int) error {
	p.fields = splitFields(p.fields[:0], rec)
	if len(p.fields) != p.width {
		return fmt.Errorf("reading %s: line %d: wrong number of fields: %d, the first line has %d", p.what, line, len(p.fields), p.width)
	}
	nf := p.nf
	if len(p.block) < nf {
		p.block = make([]float64, nf*max(1, 4096/nf))
	}
	row := p.block[:nf:nf]
	p.block = p.block[nf:]
	k := 0
	for j, field := range p.fields {
		switch p.roles[j] {
		case roleFeature:
			v, perr := parseFloat(field)
			if perr == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				perr = errors.New("not a finite number")
			}
			if perr != nil {
				return fmt.Errorf("reading %s: line %d, column %d: feature %q: %w", p.what, line, j+1, field, unwrapNum(perr))
			}
			row[k] = v
			k++
		case roleLabel:
			switch string(field) {
			case "0", "0.0":
				p.out.Y = append(p.out.Y, false)
			case "1", "1.0":
				p.out.Y = append(p.out.Y, true)
			default:
				return fmt.Errorf("reading %s: line %d, column %d: label %q is not 0 or 1", p.what, line, j+1, field)
			}
		case roleID:
			p.out.IDs = append(p.out.IDs, string(field))
		}
	}
	p.out.X = append(p.out.X, row)
	return nil
}

// readCSV is ReadCSV with blocks of block bytes parsed on workers
// goroutines.
func readCSV(r io.Reader, o CSVOptions, block, workers int) (*Data, error) {
	labelled := o.Labelled || o.Label != ""
	what := "CSV"
	if labelled {
		what = "labelled CSV"
	}
	br := bufio.NewReaderSize(r, csvMaxLine)
	d := &Data{}
	head := rowParser{what: what}
	// The first line that is not blank: a header, or the first row, and
	// either way the width of every row.
	line := 0
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("reading %s: line %d is longer than 1 MiB", what, line+1)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		if len(raw) == 0 && err != nil {
			return nil, fmt.Errorf("reading %s: no rows", what)
		}
		line++
		rec := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(rec)) == 0 {
			if err != nil {
				return nil, fmt.Errorf("reading %s: no rows", what)
			}
			continue
		}
		head.fields = splitFields(head.fields[:0], rec)
		head.width = len(head.fields)
		header := o.named() || noNumbers(head.fields)
		if header {
			for _, f := range head.fields {
				d.Header = append(d.Header, string(f))
			}
		}
		roles, rerr := o.roles(d.Header, head.width)
		if rerr != nil {
			return nil, fmt.Errorf("reading %s: line %d: %w", what, line, rerr)
		}
		head.roles = roles
		for j, r := range head.roles {
			if r == roleFeature {
				head.nf++
				if header {
					d.Features = append(d.Features, d.Header[j])
				}
			}
		}
		if head.nf < 1 {
			return nil, fmt.Errorf("reading %s: line %d: %d column(s), need at least one feature%s", what, line, head.width, map[bool]string{true: " and the label"}[labelled])
		}
		if !header {
			if err := head.row(rec, line); err != nil {
				return nil, err
			}
		}
		break
	}
	d.X, d.Y, d.IDs = head.out.X, head.out.Y, head.out.IDs
	rest, err := readBlocks(br, head, line+1, block, max(workers, 1))
	if err != nil {
		return nil, err
	}
	n := len(d.X)
	for _, b := range rest {
		n += len(b.X)
	}
	d.X = append(make([][]float64, 0, n), d.X...)
	if labelled {
		d.Y = append(make([]bool, 0, n), d.Y...)
	}
	if o.ID != "" {
		d.IDs = append(make([]string, 0, n), d.IDs...)
	}
	for _, b := range rest {
		d.X = append(d.X, b.X...)
		d.Y = append(d.Y, b.Y...)
		d.IDs = append(d.IDs, b.IDs...)
	}
	if len(d.X) == 0 {
		return nil, fmt.Errorf("reading %s: no rows", what)
	}
	return d, nil
}

// readBlocks parses what is left of br, its first line being line, in
// blocks of whole lines on workers goroutines, and returns the blocks'
// rows in input order, or the error of the first bad line.
func readBlocks(br *bufio.Reader, head rowParser, line, block, workers int) ([]csvRows, error) {
	type job struct {
		seq, line int
		data      []byte
		err       error // a reading error, after the lines before it
	}
	type done struct {
		seq  int
		rows csvRows
	}
	jobs, results := make(chan job, workers), make(chan done, workers)
	free := make(chan []byte, 2*workers+2) // blocks parsed, to be read into again
	quit := make(chan struct{})
	var reading, parsing sync.WaitGroup
	// No goroutine outlives the call, even when a bad line ends it early.
	defer func() {
		close(quit)
		reading.Wait()
		parsing.Wait()
	}()
	reading.Add(1)
	go func() {
		defer reading.Done()
		defer close(jobs)
		send := func(j job) bool {
			select {
			case jobs <- j:
				return true
			case <-quit:
				return false
			}
		}
		var partial []byte // the start of a line, read but not yet sent
		for seq := 0; ; seq++ {
			var buf []byte
			select {
			case buf = <-free:
			default:
			}
			if cap(buf) < len(partial)+block {
				buf = make([]byte, 0, len(partial)+block)
			}
			buf = append(buf[:0], partial...)
			n, err := io.ReadFull(br, buf[len(partial):cap(buf)])
			buf = buf[:len(partial)+n]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if len(buf) > 0 {
					send(job{seq: seq, line: line, data: buf})
				}
				return
			}
			if err != nil {
				send(job{seq: seq, line: line, err: fmt.Errorf("reading %s: %w", head.what, err)})
				return
			}
			cut := bytes.LastIndexByte(buf[len(partial):], '\n')
			if cut < 0 {
				if len(buf) > csvMaxLine {
					send(job{seq: seq, line: line, err: fmt.Errorf("reading %s: line %d is longer than 1 MiB", head.what, line)})
					return
				}
				partial = buf
				seq--
				continue
			}
			cut += len(partial) + 1
			if !send(job{seq: seq, line: line, data: buf[:cut]}) {
				return
			}
			line += bytes.Count(buf[:cut], []byte{'\n'})
			// The next buffer takes the partial line; this one is the
			// job's until its worker hands it back.
			partial = append(partial[:0:0], buf[cut:]...)
		}
	}()
	for range workers {
		parsing.Add(1)
		go func() {
			defer parsing.Done()
			p := head
			p.fields = nil
			for j := range jobs {
				p.out, p.block = csvRows{err: j.err}, nil
				if j.err == nil {
					p.lines(j.data, j.line)
					// Nothing parsed refers to the block: the reader
					// may fill it again.
					select {
					case free <- j.data:
					default:
					}
				}
				select {
				case results <- done{seq: j.seq, rows: p.out}:
				case <-quit:
					return
				}
			}
		}()
	}
	go func() {
		parsing.Wait()
		close(results)
	}()
	var out []csvRows
	pending := map[int]csvRows{}
	for r := range results {
		pending[r.seq] = r.rows
		for {
			b, ok := pending[len(out)]
			if !ok {
				break
			}
			delete(pending, len(out))
			if b.err != nil {
				return nil, b.err
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// roles gives each of width columns its role: by the names o gives,
// looked up in header, or the last column the label when o.Labelled.
func (o CSVOptions) roles(header []string, width int) ([]byte, error) {
	roles := make([]byte, width)
	if !o.named() {
		if o.Labelled {
			roles[width-1] = roleLabel
		}
		return roles, nil
	}
	if o.Labelled {
		return nil, errors.New("the label is either the last column or a named one, not both")
	}
	find := func(what, name string, role byte) error {
		for j, h := range header {
			if h == name {
				if roles[j] != roleFeature {
					return fmt.Errorf("column %q is named twice (as %s and as something else)", name, what)
				}
				roles[j] = role
				return nil
			}
		}
		return fmt.Errorf("no %s column %q in the header %q", what, name, strings.Join(header, ","))
	}
	if o.Label != "" {
		if err := find("label", o.Label, roleLabel); err != nil {
			return nil, err
		}
	}
	if o.ID != "" {
		if err := find("ID", o.ID, roleID); err != nil {
			return nil, err
		}
	}
	for _, name := range o.Ignore {
		if err := find("ignored", name, roleIgnore); err != nil {
			return nil, err
		}
	}
	return roles, nil
}

// splitFields splits a line at commas, each field trimmed of spaces. A
// field may be quoted as spreadsheets and pandas quote text: "a, ""b""" is
// one field, a, "b" (a quoted field cannot hold a line break: lines are
// rows). A quote that does not close a field ("2,0) is taken as a
// character, so the field fails to parse as a number, which is the right
// answer for a numeric file.
func splitFields(dst [][]byte, rec []byte) [][]byte {
	quotes := bytes.IndexByte(rec, '"') >= 0
	for {
		if quotes {
			f := bytes.TrimLeft(rec, " \t")
			if len(f) > 0 && f[0] == '"' {
				if field, rest, ok := quotedField(f); ok {
					rest = bytes.TrimLeft(rest, " \t")
					if len(rest) == 0 {
						return append(dst, field)
					}
					if rest[0] == ',' {
						dst = append(dst, field)
						rec = rest[1:]
						continue
					}
				}
			}
		}
		i := bytes.IndexByte(rec, ',')
		f := rec
		if i >= 0 {
			f = rec[:i]
		}
		f = bytes.TrimSpace(f)
		if len(f) >= 2 && f[0] == '"' && f[len(f)-1] == '"' {
			f = bytes.TrimSpace(f[1 : len(f)-1])
		}
		dst = append(dst, f)
		if i < 0 {
			return dst
		}
		rec = rec[i+1:]
	}
}

// quotedField reads the quoted field at the start of f (f[0] is the
// quote): its text, trimmed of spaces and with doubled quotes made single,
// and what follows its closing quote; ok is false when no quote closes it.
func quotedField(f []byte) (field, rest []byte, ok bool) {
	doubled := false
	for j := 1; j < len(f); j++ {
		if f[j] != '"' {
			continue
		}
		if j+1 < len(f) && f[j+1] == '"' {
			doubled = true
			j++
			continue
		}
		field = bytes.TrimSpace(f[1:j])
		if doubled {
			field = bytes.ReplaceAll(field, []byte(`""`), []byte(`"`))
		}
		return field, f[j+1:], true
	}
	return nil, nil, false
}

// noNumbers tells a header line: none of its fields is a number.
func noNumbers(rec [][]byte) bool {
	for _, f := range rec {
		if _, err := strconv.ParseFloat(string(f), 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return false
		}
	}
	return true
}

// unwrapNum drops strconv's repetition of the input from its error.
func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
