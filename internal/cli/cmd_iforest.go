package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/shopstream/shopstream/internal/fraud/eval"
	"github.com/shopstream/shopstream/internal/fraud/iforest"
)

// iforestReport is the one JSON line `shopstream iforest --json` prints.
type iforestReport struct {
	ROCAUC    float64 `json:"roc_auc"`
	PRAUC     float64 `json:"pr_auc"`
	Rows      int     `json:"rows"`
	Anomalies int     `json:"anomalies"`
}

// runIForest checks the isolation forest against a labelled outlier
// benchmark the way Liu et al. evaluate it: train on the whole CSV, score
// every row, and report ROC-AUC and PR-AUC (average precision), averaged
// over --seeds consecutive seeds since single seeds vary by a few
// hundredths. The labels are used only to score, never to train.
//
// `iforest train` and `iforest score` save a model and score any CSV with
// it (runIForestTrain, runIForestScore).
func runIForest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "train":
			return runIForestTrain(ctx, args[1:], stdout, stderr)
		case "score":
			return runIForestScore(ctx, args[1:], stdout, stderr)
		}
	}
	fs := newFlagSet("iforest", stderr)
	csvPath := fs.String("csv", "", "labelled CSV to train on and score: no header, numeric features, last column the 0/1 label (required)")
	seed := fs.Int64("seed", 0, "seed of the first forest")
	trees := fs.Int("trees", iforest.DefaultTrees, "trees per forest")
	sample := fs.Int("sample", iforest.DefaultSampleSize, "sub-sample size ψ per tree (all rows when the CSV has fewer)")
	seeds := fs.Int("seeds", 1, "number of forests, with seeds --seed to --seed+seeds-1, whose figures are averaged")
	asJSON := fs.Bool("json", false, `print one JSON line {"roc_auc", "pr_auc", "rows", "anomalies"}`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *csvPath == "":
		return usageError{errors.New("iforest: flag -csv is required: the labelled CSV to score")}
	case *seeds < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -seeds: want at least 1", *seeds)}
	case *trees < 1:
		return usageError{fmt.Errorf("invalid value %d for flag -trees: want at least 1", *trees)}
	case *sample < 2:
		return usageError{fmt.Errorf("invalid value %d for flag -sample: want at least 2", *sample)}
	}

	fh, err := os.Open(*csvPath)
	if err != nil {
		return fmt.Errorf("opening --csv: %w", err)
	}
	defer fh.Close()
	in, zclose, err := gunzipByName(*csvPath, fh)
	if err != nil {
		return err
	}
	defer zclose()
	X, y, err := iforest.ReadLabelledCSV(in)
	if err != nil {
		return fmt.Errorf("%s: %w", *csvPath, err)
	}
	rep := iforestReport{Rows: len(X)}
	for _, l := range y {
		if l {
			rep.Anomalies++
		}
	}
	if rep.Anomalies == 0 || rep.Anomalies == rep.Rows {
		return fmt.Errorf("%s: %d anomalies in %d rows: ROC-AUC and PR-AUC need both classes", *csvPath, rep.Anomalies, rep.Rows)
	}

	scores := make([]float64, len(X))
	for k := range *seeds {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := iforest.Train(X, iforest.Config{Trees: *trees, SampleSize: *sample, Seed: *seed + int64(k)})
		if errors.Is(err, iforest.ErrInvalidConfig) {
			return usageError{fmt.Errorf("flags -trees %d, -sample %d: %w", *trees, *sample, err)}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", *csvPath, err)
		}
		f.ScoreBatch(X, scores)
		rep.ROCAUC += eval.ROCAUC(scores, y)
		rep.PRAUC += eval.PRAUC(scores, y)
	}
	rep.ROCAUC /= float64(*seeds)
	rep.PRAUC /= float64(*seeds)
	if math.IsNaN(rep.ROCAUC) || math.IsNaN(rep.PRAUC) {
		return fmt.Errorf("%s: ROC-AUC %v, PR-AUC %v: undefined", *csvPath, rep.ROCAUC, rep.PRAUC)
	}

	if *asJSON {
		b, err := json.Marshal(rep)
		if err != nil {
			return fmt.Errorf("encoding the report: %w", err)
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	seedDesc := fmt.Sprintf("seed %d", *seed)
	if *seeds > 1 {
		seedDesc = fmt.Sprintf("mean over seeds %d-%d", *seed, *seed+int64(*seeds)-1)
	}
	_, err = fmt.Fprintf(stdout, "%s: %d rows, %d anomalies: ROC-AUC %.4f, PR-AUC %.4f (isolation forest, %d trees, ψ %d, %s)\n",
		*csvPath, rep.Rows, rep.Anomalies, rep.ROCAUC, rep.PRAUC, *trees, min(*sample, rep.Rows), seedDesc)
	return err
}
