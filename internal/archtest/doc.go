// Package archtest holds the test that keeps the layers as
// docs/architecture.md draws them: the domain at the centre imports nothing
// but the domain, the standard library's pure parts and a few pure
// libraries, and the packages above it do not reach back up to what
// uses them (detector to the pipeline, web to the jobs, the store to its
// callers). It has no code of its own; run it with go test.
package archtest
