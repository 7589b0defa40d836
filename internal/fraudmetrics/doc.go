// Package fraudmetrics measures live fraud detection on the stored
// outcomes: precision, recall, false-positive rate, PR-AUC and ROC-AUC of
// the decisions actually taken, per fraud scenario and over time, and the
// shadow model against the active one. It is the service behind
// GET /api/v1/fraud/metrics: Compute is the pure computation, Service reads
// the outcomes from the store and reuses an answer for a while however many
// dashboards poll. The HTTP shapes stay in package web.
package fraudmetrics
