// Package eval measures how well a detector's scores separate fraud from
// legitimate traffic. Fraud is 1-2% of transactions, so accuracy says
// nothing; these are the figures that do:
//
//   - [ROCAUC]: the chance that a random positive outscores a random
//     negative, threshold-free and insensitive to class balance.
//   - [PRAUC]: average precision, which, unlike ROC-AUC, drops when the
//     rare class is buried among many false alarms.
//   - [RecallAtFPR]: what an operator gets for a given alert budget, the
//     form the fraud target is written in (recall ≥ 0.90 at FPR ≤ 1%).
//   - [Confusion]: precision, recall, FPR and F1 at one chosen threshold.
//
// Conventions shared by every function: a higher score means more
// suspicious; a record is flagged when its score is at or above the
// threshold; records with equal scores are never separated (a threshold
// takes all of them or none), so results do not depend on input order.
// A metric with no meaning for the input (no positives, no negatives, a
// zero denominator) is NaN rather than a made-up 0 or 1, so a degenerate
// evaluation cannot pass for a result. Scores and labels of different
// lengths are a programming error and panic.
//
// The package is pure: no I/O, no randomness, no global state.
package eval
