package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shopstream/shopstream/internal/fraud/iforest"
)

// A model saved by train and loaded by score gives the scores of the
// forest trained in memory with the same seed, row for row, for a
// labelled file and for the same features with a header and no label.
func TestIForestTrainScore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "breastw.model")
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if err := runIForest(ctx, []string{"train", "--csv", breastw, "--labelled", "--model", model, "--seed", "7", "--trees", "50"}, &stdout, &stderr); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr.String())
	}

	X, y := readBreastw(t)
	f, err := iforest.Train(X, iforest.Config{Trees: 50, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(X))
	f.ScoreBatch(X, want)

	// Labelled, JSON lines.
	out := filepath.Join(dir, "scores.jsonl")
	stdout.Reset()
	if err := runIForest(ctx, []string{"score", "--model", model, "--csv", breastw, "--labelled", "--format", "jsonl", "--out", out, "--json"}, &stdout, &stderr); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr.String())
	}
	var rep iforestScoreReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || rep.Rows != len(X) || rep.ROCAUC == nil || *rep.ROCAUC < 0.95 {
		t.Errorf("report %s (%v): want %d rows and a ROC-AUC above 0.95", stdout.String(), err, len(X))
	}
	// The phases' times are parts of the whole.
	if rep.ReadSeconds <= 0 || rep.ScoreSeconds <= 0 || rep.WriteSeconds <= 0 || rep.ReadSeconds+rep.ScoreSeconds+rep.WriteSeconds > rep.Seconds {
		t.Errorf("report %s: want read, score and write seconds above 0 and within seconds", stdout.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != len(X) {
		t.Fatalf("%d score lines, want %d", len(lines), len(X))
	}
	for i, l := range lines {
		var r struct {
			Row   int     `json:"row"`
			Score float64 `json:"score"`
			Label int     `json:"label"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d %q: %v", i+1, l, err)
		}
		if r.Row != i || r.Score != want[i] || (r.Label == 1) != y[i] {
			t.Fatalf("line %d: %+v, want row %d score %v label %v", i+1, r, i, want[i], y[i])
		}
	}

	// Unlabelled with a header, CSV to standard output.
	var plain strings.Builder
	plain.WriteString("f1,f2,f3,f4,f5,f6,f7,f8,f9\n")
	for _, x := range X {
		for j, v := range x {
			if j > 0 {
				plain.WriteByte(',')
			}
			plain.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
		plain.WriteByte('\n')
	}
	in := filepath.Join(dir, "plain.csv")
	if err := os.WriteFile(in, []byte(plain.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := runIForest(ctx, []string{"score", "--model", model, "--csv", in}, &stdout, &stderr); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr.String())
	}
	lines = strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if lines[0] != "row,score" || len(lines) != len(X)+1 {
		t.Fatalf("CSV output starts %q, %d lines; want a row,score header and %d rows", lines[0], len(lines), len(X))
	}
	for i, l := range lines[1:] {
		if l != strconv.Itoa(i)+","+strconv.FormatFloat(want[i], 'g', -1, 64) {
			t.Fatalf("line %d %q, want score %v", i+2, l, want[i])
		}
	}

	// The labelled file read as unlabelled has one feature too many.
	err = runIForest(ctx, []string{"score", "--model", model, "--csv", breastw}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "10 features a row") || !strings.Contains(err.Error(), "trained on 9") {
		t.Errorf("scoring 10 columns with a 9-feature model: %v", err)
	}
}

// TestIForestNamedColumns: an analyst's file with an order number, a text
// column and the label in the middle, read by name, gzip-compressed or
// not: the model is trained on the other columns alone (the scores are
// those of a forest trained on them in memory), and each row's order
// number and label go to the output.
func TestIForestNamedColumns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	X, y := readBreastw(t)
	var csv bytes.Buffer
	csv.WriteString("f0,order,f1,f2,f3,note,Class,f4,f5,f6,f7,f8\n")
	for i, x := range X {
		fmt.Fprintf(&csv, "%g,\"ord %d, B\",%g,%g,%g,free text,%d,%g,%g,%g,%g,%g\n", x[0], i, x[1], x[2], x[3], b2i(y[i]), x[4], x[5], x[6], x[7], x[8])
	}
	plain := filepath.Join(dir, "orders.csv")
	if err := os.WriteFile(plain, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "orders.csv.gz")
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(csv.Bytes())
	zw.Close()
	if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	model := filepath.Join(dir, "m.model")
	cols := []string{"--label", "Class", "--id", "order", "--ignore", "note"}
	var stdout, stderr bytes.Buffer
	if err := runIForest(ctx, append([]string{"train", "--csv", plain, "--model", model, "--seed", "3", "--trees", "40"}, cols...), &stdout, &stderr); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr.String())
	}
	f, err := iforest.Train(X, iforest.Config{Trees: 40, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, len(X))
	f.ScoreBatch(X, want)

	for _, in := range []string{plain, gz} {
		out := filepath.Join(dir, "scores.csv")
		stdout.Reset()
		if err := runIForest(ctx, append([]string{"score", "--csv", in, "--model", model, "--out", out}, cols...), &stdout, &stderr); err != nil {
			t.Fatalf("score %s: %v\n%s", in, err, stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if lines[0] != "row,order,score,label" || len(lines) != len(X)+1 {
			t.Fatalf("%s: header %q and %d lines, want row,order,score,label and %d", in, lines[0], len(lines), len(X)+1)
		}
		for i, l := range lines[1:] {
			wantLine := fmt.Sprintf("%d,\"ord %d, B\",%s,%d", i, i, strconv.FormatFloat(want[i], 'g', -1, 64), b2i(y[i]))
			if l != wantLine {
				t.Fatalf("%s: line %d %q, want %q", in, i+2, l, wantLine)
			}
		}
		if !strings.Contains(stdout.String(), "ROC-AUC") {
			t.Errorf("%s: report %q names no ROC-AUC", in, stdout.String())
		}
	}

	// JSON lines carry the ID as a string.
	stdout.Reset()
	if err := runIForest(ctx, append([]string{"score", "--csv", plain, "--model", model, "--format", "jsonl"}, cols...), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var first struct {
		Row   int     `json:"row"`
		ID    string  `json:"id"`
		Score float64 `json:"score"`
		Label int     `json:"label"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(stdout.String(), "\n", 2)[0]), &first); err != nil || first.ID != "ord 0, B" || first.Score != want[0] {
		t.Errorf("first JSON line %+v (%v), want id \"ord 0, B\" and score %v", first, err, want[0])
	}

	// A name ending in .gz (any case) is read as gzip, and a file that is
	// not one says so.
	upper := filepath.Join(dir, "ORDERS.CSV.GZ")
	if err := os.WriteFile(upper, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runIForest(ctx, append([]string{"score", "--csv", upper, "--model", model, "--out", filepath.Join(dir, "u.csv")}, cols...), io.Discard, io.Discard); err != nil {
		t.Errorf("score %s: %v", upper, err)
	}
	notGz := filepath.Join(dir, "plain.csv.gz")
	if err := os.WriteFile(notGz, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runIForest(ctx, append([]string{"score", "--csv", notGz, "--model", model}, cols...), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "reading it as gzip (the name ends in .gz)") {
		t.Errorf("a plain file named .gz: error %v", err)
	}

	// The flags' mistakes are named.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--labelled", "--label", "Class"}, "flags -labelled and -label"},
		{[]string{"--label", "class"}, `no label column "class" in the header`},
		{[]string{"--label", "Class", "--ignore", "note,"}, "invalid value \"note,\" for flag -ignore"},
	} {
		err := runIForest(ctx, append([]string{"score", "--csv", plain, "--model", model}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// readBreastw reads the labelled breastw set the tests train on.
func readBreastw(t *testing.T) ([][]float64, []bool) {
	t.Helper()
	fh, err := os.Open(breastw)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	X, y, err := iforest.ReadLabelledCSV(fh)
	if err != nil {
		t.Fatal(err)
	}
	return X, y
}

// TestIForestNotCSV: each way iforest reads a --csv (the labelled AUC run,
// train, score) refuses a workbook as a usage error saying what it is,
// and reads a gzip file whatever its name.
func TestIForestNotCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	xlsx := filepath.Join(dir, "features.xlsx")
	if err := os.WriteFile(xlsx, []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00binary"), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "m.iforest")
	var stdout, stderr bytes.Buffer
	if err := runIForest(ctx, []string{"train", "--csv", breastw, "--labelled", "--model", model, "--trees", "20"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--csv", xlsx}, {"train", "--csv", xlsx, "--model", filepath.Join(dir, "x.iforest")}, {"score", "--model", model, "--csv", xlsx}} {
		err := runIForest(ctx, args, &stdout, &stderr)
		if err == nil || !IsUsage(err) || !strings.Contains(err.Error(), "is not CSV text but a ZIP archive") {
			t.Errorf("iforest %v: %v; want a usage error saying it is a ZIP archive, not CSV text", args, err)
		}
	}
	raw, err := os.ReadFile(breastw)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(dir, "breastw.csv")
	if err := os.WriteFile(gz, zb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if err := runIForest(ctx, []string{"--csv", gz, "--json"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), `"rows":`) {
		t.Errorf("iforest of gzip bytes under a .csv name: %v\n%s", err, stdout.String())
	}
}
