package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

const breastw = "../../testdata/datasets/anomaly/breastw.csv"

func TestIForestJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runIForest(context.Background(), []string{"--csv", breastw, "--seed", "1", "--seeds", "2", "--json"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runIForest: %v (stderr %q)", err, stderr.String())
	}
	if n := strings.Count(stdout.String(), "\n"); n != 1 {
		t.Errorf("printed %d lines, want one JSON line: %q", n, stdout.String())
	}
	var rep struct {
		ROCAUC    *float64 `json:"roc_auc"`
		PRAUC     *float64 `json:"pr_auc"`
		Rows      *int     `json:"rows"`
		Anomalies *int     `json:"anomalies"`
	}
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decoding %q: %v", stdout.String(), err)
	}
	if rep.ROCAUC == nil || rep.PRAUC == nil || rep.Rows == nil || rep.Anomalies == nil {
		t.Fatalf("missing fields in %+v", rep)
	}
	if *rep.ROCAUC <= 0.95 || *rep.ROCAUC > 1 {
		t.Errorf("roc_auc %v on breastw, want above 0.95 (published 0.99)", *rep.ROCAUC)
	}
	if *rep.PRAUC <= 0 || *rep.PRAUC > 1 {
		t.Errorf("pr_auc %v, want in (0, 1]", *rep.PRAUC)
	}
	if *rep.Rows != 683 || *rep.Anomalies != 239 {
		t.Errorf("rows %d, anomalies %d, want 683 and 239", *rep.Rows, *rep.Anomalies)
	}
}

func TestIForestText(t *testing.T) {
	var stdout bytes.Buffer
	if err := runIForest(context.Background(), []string{"--csv", breastw, "--trees", "20"}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.Contains(out, "683 rows, 239 anomalies: ROC-AUC 0.9") {
		t.Errorf("output %q", out)
	}
}

func TestIForestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-csv is required"},
		{[]string{"--csv", breastw, "--seeds", "0"}, "-seeds"},
		{[]string{"--csv", breastw, "--trees", "-1"}, "-trees"},
		{[]string{"--csv", breastw, "--sample", "1"}, "-sample"},
		{[]string{"--csv", breastw, "--trees", "20000"}, "-trees 20000"},
	} {
		err := runIForest(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want a usage error mentioning %q", tc.args, err, tc.want)
		}
	}
	err := runIForest(context.Background(), []string{"--csv", "no/such.csv"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || IsUsage(err) || !strings.Contains(err.Error(), "--csv") {
		t.Errorf("missing file: error %v, want a non-usage error naming --csv", err)
	}
}
