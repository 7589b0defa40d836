// Package recommend is the pure core of product recommendations: co-purchase
// counts folded in as purchases arrive, item-item collaborative filtering
// with a choice of similarities, popularity as fallback and baseline, EASE
// (Steck 2019) as a model-based method, and the offline evaluation that
// compares them on a time split (precision, recall, NDCG and hit rate at k,
// catalogue coverage, bootstrap intervals).
//
// It does no I/O: callers feed purchases in, in event-time order, and ask for
// models and rankings. Memory for serving is bounded by keeping only the top
// neighbours of each item, never a full item-item matrix.
package recommend
