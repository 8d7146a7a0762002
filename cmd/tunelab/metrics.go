package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tunelab/tunelab/lab/metrics"
)

func init() {
	register(command{name: "metrics", summary: "classification, regression and multi-label metrics: `metrics [--task regression|multilabel] FILE.csv` or `metrics --submission SUB.csv --labels LABELLED.csv`", run: runMetrics})
}

// runMetrics prints sklearn's classification report (or the JSON report) of a label,prediction
// CSV file, the regression or multi-label metrics of one (--task), or scores a Kaggle id,target
// submission against a labelled file.
func runMetrics(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tunelab metrics [--json] [--digits N] [--pos-label L] FILE.csv\n"+
			"       tunelab metrics [--json] [--digits N] --task regression FILE.csv\n"+
			"       tunelab metrics [--json] [--digits N] --task multilabel [--sep S] [--classes A,B,...] FILE.csv\n"+
			"       tunelab metrics [--json] [--digits N] --submission SUB.csv --labels LABELLED.csv\n\n"+
			"FILE.csv has a header with columns label (true) and prediction: class names, numbers\n"+
			"(regression) or sets of class names joined by --sep (multilabel; empty is the empty set).\n"+
			"SUB.csv has columns id,target and LABELLED.csv columns id and target (e.g. the\n"+
			"disaster-tweets train.csv).")
		fs.PrintDefaults()
	}
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	digits := fs.Int("digits", 2, "digits after the decimal point in the text report")
	posLabel := fs.String("pos-label", "", "positive label: also print its precision, recall and F1 (the binary average)")
	submission := fs.String("submission", "", "Kaggle submission CSV (id,target) to score against --labels")
	labelled := fs.String("labels", "", "labelled CSV with id and target columns, for --submission")
	task := fs.String("task", "classification", "classification, regression or multilabel")
	sep := fs.String("sep", "|", "multilabel: the separator between the class names of a set")
	classes := fs.String("classes", "", "multilabel: the class names in order, comma-separated (default: the sorted names found)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *digits < 0 {
		return fmt.Errorf("--digits %d: want 0 or more", *digits)
	}
	switch *task {
	case "classification":
	case "regression", "multilabel":
		if *submission != "" || *labelled != "" || *posLabel != "" || fs.NArg() != 1 {
			fs.Usage()
			return fmt.Errorf("--task %s takes one FILE.csv, without --submission, --labels or --pos-label", *task)
		}
		if *task == "regression" {
			return regressionMetrics(fs.Arg(0), *asJSON, *digits, stdout, stderr)
		}
		var names []string
		if *classes != "" {
			names = strings.Split(*classes, ",")
		}
		return multiLabelMetrics(fs.Arg(0), *sep, names, *asJSON, *digits, stdout, stderr)
	default:
		return fmt.Errorf("--task %q: want classification, regression or multilabel", *task)
	}

	var report *metrics.Report
	var headline string
	if *submission != "" || *labelled != "" {
		if *submission == "" || *labelled == "" || fs.NArg() > 0 || *posLabel != "" {
			fs.Usage()
			return errors.New("--submission and --labels go together, without --pos-label or a FILE")
		}
		r, err := metrics.ScoreSubmissionFiles(*submission, *labelled)
		if err != nil {
			return err
		}
		report = r
		headline = fmt.Sprintf("F1 of class 1 (the competition metric): %.*f", max(*digits, 4), r.Binary.F1)
	} else {
		if fs.NArg() != 1 {
			fs.Usage()
			return fmt.Errorf("want one FILE.csv, got %d arguments", fs.NArg())
		}
		yTrue, yPred, err := metrics.ReadPredictionsFile(fs.Arg(0))
		if err != nil {
			return err
		}
		ev := metrics.New[string]()
		if *posLabel != "" {
			ev.WithPosLabel(*posLabel)
		}
		if report, err = ev.Report(yTrue, yPred); err != nil {
			return err
		}
		if b := report.Binary; b != nil {
			headline = fmt.Sprintf("F1 of class %s: %.*f (precision %.*f, recall %.*f)", b.PosLabel,
				max(*digits, 4), b.F1, *digits, b.Precision, *digits, b.Recall)
		}
	}

	if *asJSON {
		return printJSON(stdout, report)
	}
	printWarnings(stderr, report.Warnings)
	if headline != "" {
		fmt.Fprintf(stdout, "%s\n\n", headline)
	}
	fmt.Fprint(stdout, report.Text(*digits))
	fmt.Fprintf(stdout, "\n%s", confusionTable(report.ConfusionMatrix))
	return nil
}

// regressionMetrics prints the regression metrics of a label,prediction CSV file of numbers.
func regressionMetrics(path string, asJSON bool, digits int, stdout, stderr io.Writer) error {
	yTrue, yPred, err := metrics.ReadRegressionPredictionsFile(path)
	if err != nil {
		return err
	}
	report, err := metrics.Regression(yTrue, yPred)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, report)
	}
	printWarnings(stderr, report.Warnings)
	_, err = fmt.Fprint(stdout, report.Text(max(digits, 4)))
	return err
}

// multiLabelMetrics prints the multi-label metrics of a CSV file of label and prediction sets.
func multiLabelMetrics(path, sep string, classes []string, asJSON bool, digits int, stdout, stderr io.Writer) error {
	names, yTrue, yPred, err := metrics.ReadMultiLabelPredictionsFile(path, sep, classes)
	if err != nil {
		return err
	}
	report, err := metrics.MultiLabel(names, yTrue, yPred)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(stdout, report)
	}
	printWarnings(stderr, report.Warnings)
	_, err = fmt.Fprint(stdout, report.Text(digits))
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printWarnings(w io.Writer, warnings []string) {
	for _, warning := range warnings {
		fmt.Fprintln(w, "warning:", warning)
	}
}

// confusionTable formats the counts with right-aligned columns, true labels down the side.
func confusionTable(cm metrics.ConfusionMatrix[string]) string {
	cells := [][]string{append([]string{"true \\ predicted"}, cm.Labels...)}
	for i, row := range cm.Counts {
		line := []string{cm.Labels[i]}
		for _, n := range row {
			line = append(line, fmt.Sprint(n))
		}
		cells = append(cells, line)
	}
	widths := make([]int, len(cells[0]))
	for _, line := range cells {
		for j, c := range line {
			widths[j] = max(widths[j], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, line := range cells {
		for j, c := range line {
			if j > 0 {
				b.WriteString("  ")
			}
			fmt.Fprintf(&b, "%*s", widths[j], c)
		}
		b.WriteString("\n")
	}
	return b.String()
}
