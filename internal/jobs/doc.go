// Package jobs runs shopstream's periodic model jobs next to the stream,
// and holds the customer-analytics refresh, the first of them.
//
// A [Runner] starts each [Job] after its first delay and then every
// interval, on a clock that tests replace; runs of one job never overlap,
// missed ticks are skipped rather than queued, a failing or panicking run
// is logged and counted and the next one runs on schedule; a job may ask
// for its next run sooner (Job.Again), as the refresh does while it
// catches up with a growing population. Every run is
// counted in shopstream_job_runs_total{job,outcome} (outcome ok, skipped or
// error) and timed in shopstream_job_duration_seconds{job}.
//
// [Refresh] is the analytics refresh. Each run first takes the store's
// leader lock (a PostgreSQL advisory lock), so among many processors only
// one refreshes at a time and the others skip. It then streams every
// customer's purchase days out of the store (grouped in SQL), summarises
// them for the models, rebuilds the acquisition-cohort matrix, refits
// BG/NBD and Gamma-Gamma (keeping the previous model when there are too
// few customers or the fit fails), scores RFM quintiles over the whole
// population, predicts CLV for everyone, clusters customers with k-means
// on a seeded sample of standardised RFM and category-mix features and
// assigns all of them, and writes the results in chunks of
// [store.AnalyticsChunk] rows, so the stream's batches keep flowing
// between them. A run as of the same day as the last fit of this process,
// over a population changed by less than 1%, keeps that day's models and
// writes only the rows whose values changed.
//
// The files follow the steps: refresh.go schedules one run and times its
// phases, population.go reads the customers, clv.go and segments.go each
// load, fit and store one model (their stored form is package modeldoc),
// cohorts.go builds the cohort matrix and write.go writes the customers.
package jobs
