// Package archtest holds the test that keeps the layers as
// docs/architecture.md draws them: the domain at the centre imports nothing
// but the domain, the standard library's pure parts and a few pure
// libraries. It has no code of its own; run it with go test.
package archtest
