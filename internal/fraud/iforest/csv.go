package iforest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
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

// Data is a CSV read by [ReadCSV].
type Data struct {
	// Header is the first line when it is not all numbers, else nil.
	Header []string
	// X holds the features of each row.
	X [][]float64
	// Y holds the labels when the CSV is labelled, else nil.
	Y []bool
}

// ReadCSV reads comma-separated numeric features, one row per line, as
// scored by shopstream iforest score: a first line without any number is
// taken as a header, and with labelled the last column is the label (0
// normal, 1 anomaly) rather than a feature. Every row must have the same
// number of fields. Errors give the line and column (1-based field) of the
// first bad value; non-finite features are rejected, since no split can be
// drawn between them.
func ReadCSV(r io.Reader, labelled bool) (*Data, error) {
	what := "CSV"
	if labelled {
		what = "labelled CSV"
	}
	br := bufio.NewReaderSize(r, 1<<20)
	d := &Data{}
	width, nf := 0, 0
	var fields [][]byte
	var block []float64 // rows are carved out of blocks, not allocated one by one
	for line, first := 0, true; ; {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("reading %s: line %d is longer than 1 MiB", what, line+1)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		if len(raw) == 0 && err != nil {
			break
		}
		line++
		rec := bytes.TrimRight(raw, "\r\n")
		if len(bytes.TrimSpace(rec)) == 0 {
			if err != nil {
				break
			}
			continue // blank lines are not rows
		}
		fields = splitFields(fields[:0], rec)
		if first {
			first = false
			width, nf = len(fields), len(fields)
			if labelled {
				nf--
			}
			if nf < 1 {
				return nil, fmt.Errorf("reading %s: line %d: %d column(s), need at least one feature%s", what, line, len(fields), map[bool]string{true: " and the label"}[labelled])
			}
			if noNumbers(fields) {
				for _, f := range fields {
					d.Header = append(d.Header, string(f))
				}
				if err != nil {
					break
				}
				continue
			}
		}
		if len(fields) != width {
			return nil, fmt.Errorf("reading %s: line %d: wrong number of fields: %d, the first line has %d", what, line, len(fields), width)
		}
		if len(block) < nf {
			block = make([]float64, nf*max(1, 4096/nf))
		}
		row := block[:nf:nf]
		block = block[nf:]
		for j, field := range fields[:nf] {
			v, perr := strconv.ParseFloat(string(field), 64)
			if perr == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				perr = errors.New("not a finite number")
			}
			if perr != nil {
				return nil, fmt.Errorf("reading %s: line %d, column %d: feature %q: %w", what, line, j+1, field, unwrapNum(perr))
			}
			row[j] = v
		}
		d.X = append(d.X, row)
		if labelled {
			switch string(fields[nf]) {
			case "0", "0.0":
				d.Y = append(d.Y, false)
			case "1", "1.0":
				d.Y = append(d.Y, true)
			default:
				return nil, fmt.Errorf("reading %s: line %d, column %d: label %q is not 0 or 1", what, line, width, fields[nf])
			}
		}
		if err != nil {
			break
		}
	}
	if len(d.X) == 0 {
		return nil, fmt.Errorf("reading %s: no rows", what)
	}
	return d, nil
}

// splitFields splits a line at commas, each field trimmed of spaces and of
// one pair of surrounding double quotes ("1.5"), as spreadsheets quote
// numbers. A quoted field holding a comma splits at it and then fails to
// parse as a number, which is the right answer for a numeric file.
func splitFields(dst [][]byte, rec []byte) [][]byte {
	for {
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
