package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/fraud/iforest"
)

// columnFlags are train's and score's flags naming the CSV's columns.
type columnFlags struct {
	labelled  bool
	label, id string
	ignore    string
}

func (c *columnFlags) register(fs *flag.FlagSet, labelledUse string) {
	fs.BoolVar(&c.labelled, "labelled", false, labelledUse)
	fs.StringVar(&c.label, "label", "", "name of the header's 0/1 label column (1 anomaly), instead of --labelled's last column; not a feature")
	fs.StringVar(&c.id, "id", "", "name of the header's ID column (an order or customer number): not a feature; score copies it to each row's output")
	fs.StringVar(&c.ignore, "ignore", "", "comma-separated names of the header's columns that are neither features nor the label (text, dates)")
}

// options checks the flags and turns them into the reader's options.
func (c *columnFlags) options() (iforest.CSVOptions, error) {
	o := iforest.CSVOptions{Labelled: c.labelled, Label: c.label, ID: c.id}
	if c.ignore != "" {
		o.Ignore = strings.Split(c.ignore, ",")
		for i, n := range o.Ignore {
			if o.Ignore[i] = strings.TrimSpace(n); o.Ignore[i] == "" {
				return o, usageError{fmt.Errorf("invalid value %q for flag -ignore: an empty column name", c.ignore)}
			}
		}
	}
	if c.labelled && c.label != "" {
		return o, usageError{errors.New("flags -labelled and -label: give one: -labelled takes the last column as the label, -label names it")}
	}
	return o, nil
}

// readFeatures reads --csv for train and score, gzip-compressed when its
// name ends in .gz: a header line is recognised (and required when o names
// columns), and o says which columns are the label, the ID and ignored.
func readFeatures(path string, o iforest.CSVOptions) (*iforest.Data, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening --csv: %w", err)
	}
	defer fh.Close()
	in, zclose, err := gunzipByName(path, fh)
	if err != nil {
		return nil, err
	}
	defer zclose()
	d, err := iforest.ReadCSVWith(in, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// iforestTrainReport is what `iforest train --json` prints.
type iforestTrainReport struct {
	Model      string `json:"model"`
	Rows       int    `json:"rows"`
	Features   int    `json:"features"`
	Trees      int    `json:"trees"`
	SampleSize int    `json:"sample_size"`
	Seed       int64  `json:"seed"`
	Bytes      int    `json:"bytes"`
	// Seconds is the whole command's; ReadSeconds reading the CSV and
	// FitSeconds training, of them.
	Seconds     float64 `json:"seconds"`
	ReadSeconds float64 `json:"read_seconds"`
	FitSeconds  float64 `json:"fit_seconds"`
}

// runIForestTrain trains a forest on every row of a CSV (the label column,
// if any, dropped) and saves it in the versioned binary format of
// iforest.Forest.MarshalBinary.
func runIForestTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("iforest train", stderr)
	csvPath := fs.String("csv", "", "CSV of numeric features to train on, one row per line, an optional header line (required)")
	var cols columnFlags
	cols.register(fs, "the last column is a 0/1 label: left out of the features")
	model := fs.String("model", "", "file to write the trained model to (required)")
	seed := fs.Int64("seed", 0, "seed of the forest")
	trees := fs.Int("trees", iforest.DefaultTrees, "trees in the forest")
	sample := fs.Int("sample", iforest.DefaultSampleSize, "sub-sample size ψ per tree (all rows when the CSV has fewer)")
	asJSON := fs.Bool("json", false, "print the report as one JSON line")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *csvPath == "":
		return usageError{errors.New("iforest train: flag -csv is required: the CSV to train on")}
	case *model == "":
		return usageError{errors.New("iforest train: flag -model is required: the file to write the model to")}
	}
	o, err := cols.options()
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := readFeatures(*csvPath, o)
	if err != nil {
		return err
	}
	read := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := iforest.Train(d.X, iforest.Config{Trees: *trees, SampleSize: *sample, Seed: *seed})
	if errors.Is(err, iforest.ErrInvalidConfig) {
		return usageError{fmt.Errorf("flags -trees %d, -sample %d: %w", *trees, *sample, err)}
	}
	if err != nil {
		return fmt.Errorf("training on %s: %w", *csvPath, err)
	}
	fit := time.Since(start) - read
	b, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*model, b, 0o644); err != nil {
		return fmt.Errorf("writing --model: %w", err)
	}
	m := f.Metadata()
	rep := iforestTrainReport{Model: *model, Rows: len(d.X), Features: m.Features, Trees: m.Trees, SampleSize: m.SampleSize,
		Seed: m.Seed, Bytes: len(b), Seconds: time.Since(start).Seconds(), ReadSeconds: read.Seconds(), FitSeconds: fit.Seconds()}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	_, err = fmt.Fprintf(stdout, "trained an isolation forest on %d rows of %d features (%d trees, ψ %d, seed %d) in %.2fs (reading %.2fs, training %.2fs); wrote %s (%d bytes)\n",
		rep.Rows, rep.Features, rep.Trees, rep.SampleSize, rep.Seed, rep.Seconds, rep.ReadSeconds, rep.FitSeconds, rep.Model, rep.Bytes)
	return err
}

// iforestScoreReport is what `iforest score` prints about a scored file;
// the AUCs only when it is labelled.
type iforestScoreReport struct {
	Rows      int      `json:"rows"`
	Anomalies *int     `json:"anomalies,omitempty"`
	ROCAUC    *float64 `json:"roc_auc,omitempty"`
	PRAUC     *float64 `json:"pr_auc,omitempty"`
	// Seconds is the whole command's; of them, ReadSeconds reading the
	// CSV, ScoreSeconds scoring and WriteSeconds writing the scores.
	Seconds      float64 `json:"seconds"`
	ReadSeconds  float64 `json:"read_seconds"`
	ScoreSeconds float64 `json:"score_seconds"`
	WriteSeconds float64 `json:"write_seconds"`
}

// runIForestScore scores every row of a CSV with a saved model and writes
// one score per row, in input order, as CSV or JSON lines.
func runIForestScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("iforest score", stderr)
	csvPath := fs.String("csv", "", "CSV of numeric features to score, one row per line, an optional header line (required)")
	var cols columnFlags
	cols.register(fs, "the last column is a 0/1 label: not a feature; the labels are copied to the output and ROC-AUC and PR-AUC reported")
	model := fs.String("model", "", "model file written by iforest train (required)")
	out := fs.String("out", "-", "file to write the per-row scores to; - is standard output")
	format := fs.String("format", "csv", "format of the scores: csv (row[,ID],score[,label] with a header) or jsonl (one JSON object per row)")
	asJSON := fs.Bool("json", false, "print the report as one JSON line (to standard error when the scores go to standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *csvPath == "":
		return usageError{errors.New("iforest score: flag -csv is required: the CSV to score")}
	case *model == "":
		return usageError{errors.New("iforest score: flag -model is required: a model file written by iforest train")}
	case *format != "csv" && *format != "jsonl":
		return usageError{fmt.Errorf("invalid value %q for flag -format: want csv or jsonl", *format)}
	}
	start := time.Now()
	raw, err := os.ReadFile(*model)
	if err != nil {
		return fmt.Errorf("reading --model: %w", err)
	}
	var f iforest.Forest
	if err := f.UnmarshalBinary(raw); err != nil {
		return fmt.Errorf("--model %s: %w", *model, err)
	}
	o, err := cols.options()
	if err != nil {
		return err
	}
	t0 := time.Now()
	d, err := readFeatures(*csvPath, o)
	if err != nil {
		return err
	}
	read := time.Since(t0)
	if want := f.Metadata().Features; len(d.X[0]) != want {
		return fmt.Errorf("%s has %d features a row, the model %s was trained on %d", *csvPath, len(d.X[0]), *model, want)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t0 = time.Now()
	scores := make([]float64, len(d.X))
	f.ScoreParallel(d.X, scores, runtime.GOMAXPROCS(0))
	score := time.Since(t0)
	t0 = time.Now()

	w, report := stdout, stdout
	if *out != "-" {
		fh, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("creating --out: %w", err)
		}
		defer fh.Close()
		w = fh
	} else {
		report = stderr
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	if *format == "csv" {
		bw.WriteString("row,")
		if d.IDs != nil {
			bw.Write(appendCSVField(nil, cols.id))
			bw.WriteString(",")
		}
		if d.Y != nil {
			bw.WriteString("score,label\n")
		} else {
			bw.WriteString("score\n")
		}
	}
	for i, s := range scores {
		line = line[:0]
		if *format == "jsonl" {
			line = append(line, `{"row":`...)
		}
		line = strconv.AppendInt(line, int64(i), 10)
		if d.IDs != nil {
			if *format == "jsonl" {
				line = append(line, `,"id":`...)
				line = appendJSONString(line, d.IDs[i])
			} else {
				line = append(line, ',')
				line = appendCSVField(line, d.IDs[i])
			}
		}
		if *format == "jsonl" {
			line = append(line, `,"score":`...)
		} else {
			line = append(line, ',')
		}
		line = strconv.AppendFloat(line, s, 'g', -1, 64)
		if d.Y != nil {
			if *format == "jsonl" {
				line = append(line, `,"label":`...)
			} else {
				line = append(line, ',')
			}
			line = append(line, "01"[b2i(d.Y[i])])
		}
		if *format == "jsonl" {
			line = append(line, '}')
		}
		line = append(line, '\n')
		bw.Write(line)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the scores: %w", err)
	}
	if *out != "-" {
		if err := w.(*os.File).Close(); err != nil {
			return fmt.Errorf("writing --out: %w", err)
		}
	}

	rep := iforestScoreReport{Rows: len(d.X), ReadSeconds: read.Seconds(), ScoreSeconds: score.Seconds(), WriteSeconds: time.Since(t0).Seconds()}
	if d.Y != nil {
		n := 0
		for _, l := range d.Y {
			n += b2i(l)
		}
		rep.Anomalies = &n
		if n > 0 && n < len(d.Y) {
			roc, pr := eval.Ranking(scores, d.Y)
			if !math.IsNaN(roc) && !math.IsNaN(pr) {
				rep.ROCAUC, rep.PRAUC = &roc, &pr
			}
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if *asJSON {
		return json.NewEncoder(report).Encode(rep)
	}
	if *out == "-" {
		return nil // the scores are the output; --json adds the report
	}
	msg := fmt.Sprintf("scored %d rows of %s with %s into %s", rep.Rows, *csvPath, *model, *out)
	if rep.ROCAUC != nil {
		msg += fmt.Sprintf(": %d anomalies, ROC-AUC %.4f, PR-AUC %.4f", *rep.Anomalies, *rep.ROCAUC, *rep.PRAUC)
	}
	_, err = fmt.Fprintln(report, msg)
	return err
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendCSVField appends v as one CSV field, quoted (quotes doubled) when
// it holds a comma, a quote or a line break.
func appendCSVField(b []byte, v string) []byte {
	if !strings.ContainsAny(v, ",\"\r\n") {
		return append(b, v...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(v, `"`, `""`)...)
	return append(b, '"')
}

// appendJSONString appends v as a JSON string.
func appendJSONString(b []byte, v string) []byte {
	q, _ := json.Marshal(v) // a string always marshals
	return append(b, q...)
}
