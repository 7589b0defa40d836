package iforest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	d := &Data{}
	var row []float64
	width := 0
	for first := true; ; first = false {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", what, err)
		}
		line, _ := cr.FieldPos(0)
		nf := len(rec)
		if labelled {
			nf--
		}
		if nf < 1 {
			return nil, fmt.Errorf("reading %s: line %d: %d column(s), need at least one feature%s", what, line, len(rec), map[bool]string{true: " and the label"}[labelled])
		}
		if first && noNumbers(rec) {
			d.Header = append([]string(nil), rec...)
			width = len(rec)
			continue
		}
		if width == 0 {
			width = len(rec)
		} else if len(rec) != width {
			return nil, fmt.Errorf("reading %s: line %d: %d columns, the first line has %d", what, line, len(rec), width)
		}
		row = make([]float64, nf)
		for j, field := range rec[:nf] {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = errors.New("not a finite number")
			}
			if err != nil {
				l, _ := cr.FieldPos(j)
				return nil, fmt.Errorf("reading %s: line %d, column %d: feature %q: %w", what, l, j+1, field, unwrapNum(err))
			}
			row[j] = v
		}
		d.X = append(d.X, row)
		if !labelled {
			continue
		}
		var label bool
		switch strings.TrimSpace(rec[nf]) {
		case "0", "0.0":
		case "1", "1.0":
			label = true
		default:
			l, _ := cr.FieldPos(nf)
			return nil, fmt.Errorf("reading %s: line %d, column %d: label %q is not 0 or 1", what, l, len(rec), rec[nf])
		}
		d.Y = append(d.Y, label)
	}
	if len(d.X) == 0 {
		return nil, fmt.Errorf("reading %s: no rows", what)
	}
	return d, nil
}

// noNumbers tells a header line: none of its fields is a number.
func noNumbers(rec []string) bool {
	for _, f := range rec {
		if _, err := strconv.ParseFloat(strings.TrimSpace(f), 64); err == nil || errors.Is(err, strconv.ErrRange) {
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
