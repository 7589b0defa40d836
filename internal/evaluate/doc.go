// Package evaluate measures the fraud scoring chain against the synthetic
// shop's labelled stream. It sits above both package fraud (what is
// measured) and package generate (the data it is measured on), so that
// neither has to know the other: the domain stays free of the generator.
//
// Fraud runs the whole chain record by record, exactly as the pipeline
// does, and reports precision, recall, false-positive rate, PR-AUC and
// recall per fraud scenario; docs/fraud.md gives the figures and how to
// reproduce them. The metrics themselves are in package fraud/eval.
package evaluate
