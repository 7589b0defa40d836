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
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading labelled CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 2 {
			return nil, nil, fmt.Errorf("reading labelled CSV: line %d: %d column(s), need at least one feature and the label", line, len(rec))
		}
		row := make([]float64, len(rec)-1)
		for j, field := range rec[:len(row)] {
			v, err := strconv.ParseFloat(strings.TrimSpace(field), 64)
			if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				err = errors.New("not a finite number")
			}
			if err != nil {
				l, _ := cr.FieldPos(j)
				return nil, nil, fmt.Errorf("reading labelled CSV: line %d, column %d: feature %q: %w", l, j+1, field, unwrapNum(err))
			}
			row[j] = v
		}
		var label bool
		switch strings.TrimSpace(rec[len(row)]) {
		case "0", "0.0":
		case "1", "1.0":
			label = true
		default:
			l, _ := cr.FieldPos(len(row))
			return nil, nil, fmt.Errorf("reading labelled CSV: line %d, column %d: label %q is not 0 or 1", l, len(rec), rec[len(row)])
		}
		X = append(X, row)
		y = append(y, label)
	}
	if len(X) == 0 {
		return nil, nil, errors.New("reading labelled CSV: no rows")
	}
	return X, y, nil
}

// unwrapNum drops strconv's repetition of the input from its error.
func unwrapNum(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
