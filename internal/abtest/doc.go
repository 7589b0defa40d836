// Package abtest runs A/B experiments on the recommendations: it keeps
// their definitions (a config file, the API, the store), assigns customers
// to variants, records exposures, and computes results from the store.
//
// Assignment is GrowthBook's (package experiment): the hash (version 2) of
// the experiment's seed and the customer id picks a bucket, the variants'
// weights and the coverage cut [0, 1) into ranges. It needs no state, so it
// is sticky and every instance agrees. A customer takes part in the first
// running experiment, by start time and then name, whose coverage holds
// them: experiments running together share the customers and never
// overlap, so an A/B on half of them (coverage 0.5) and an A/A on the
// others can run side by side.
//
// Exposures take the synchronous path: the first time a customer is
// shown recommendations in an experiment, the exposure (experiment,
// variant, customer, time, the products shown) is written to the store,
// keyed by (experiment, customer), before the answer goes out. A repeat,
// a retried write whose reply was lost, or a second instance's write of
// the same customer inserts nothing (ON CONFLICT DO NOTHING), so each
// customer is counted once, at their first exposure, which is what the
// conversion window starts from. We chose this over producing exposures to
// a Kafka topic for the processor to store with its offsets because it
// needs no new topic, no pipeline change and no second consumer, and it is
// exactly once by the key alone; the cost, one single-row insert, is paid
// once per customer and experiment: each Service remembers the pairs it
// has recorded (up to RememberExposures, then it starts again) and answers
// repeats from memory, so a returning customer's lookup stays in memory.
// When the write fails the recommendation is answered outside the
// experiment (recsvc.Assigner), so an exposure is never claimed that was
// not stored.
//
// Results (Service.Results) are computed by query: the exposures of the
// experiment and the stored transactions of the exposed customers within
// their conversion window. A customer converts when one of those
// transactions holds a product they were shown; their revenue is the sum
// of those transactions' totals, whatever they hold (revenue per exposed
// customer, so that cannibalised sales count against a variant). Per
// variant against the first (control): absolute and relative lift with
// 95% intervals by the fixed-horizon Welch test and by the sequential
// confidence sequence (the decision rule on a dashboard that is watched
// continuously), the pooled two-proportion z test, and the sample-ratio
// check, flagged at p < 0.001.
package abtest
