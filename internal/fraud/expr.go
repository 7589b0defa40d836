package fraud

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The condition language of rules. It is deliberately small: numbers,
// feature names, arithmetic, comparisons and boolean logic, nothing that can
// loop, call out or fail at run time. Every value is a float64; a comparison
// or a logical operator yields 1 for true and 0 for false, and a value is
// true when it is non-zero (NaN is false), so a 0/1 feature such as
// new_device can stand alone as a condition. Grammar, loosest binding first:
//
//	or      = and { "||" and }
//	and     = not { "&&" not }
//	not     = "!" not | compare
//	compare = sum [ ( "<" | "<=" | ">" | ">=" | "==" | "!=" ) sum ]
//	sum     = product { ( "+" | "-" ) product }
//	product = unary { ( "*" | "/" ) unary }
//	unary   = "-" unary | primary
//	primary = number | feature | "(" or ")"
//
// Comparisons do not chain (a < b < c is an error, not a surprise).
// Expressions compile once into a tree of closures over the feature vector;
// evaluating one allocates nothing.

// Expr is a compiled condition.
type Expr struct {
	src  string
	eval func(v *[NumFeatures]float64) float64
	uses []Feature
}

// String returns the source the expression was compiled from.
func (e *Expr) String() string { return e.src }

// Eval returns the expression's value on v.
func (e *Expr) Eval(v *[NumFeatures]float64) float64 { return e.eval(v) }

// True reports whether the expression holds on v: its value is non-zero
// and not NaN.
func (e *Expr) True(v *[NumFeatures]float64) bool { return truth(e.eval(v)) }

// Features returns the features the expression reads, each once, in order
// of first use.
func (e *Expr) Features() []Feature { return append([]Feature(nil), e.uses...) }

func truth(x float64) bool { return x != 0 && x == x }

// Limits that keep a hostile rules file from costing much: conditions are
// written by people and are short.
const (
	maxExprLen   = 4096
	maxExprDepth = 64
)

// SyntaxError is a problem in a condition, with its byte offset.
type SyntaxError struct {
	Offset int    // byte offset in the condition, 0-based
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("at column %d: %s", e.Offset+1, e.Msg) }

// UnknownFeatureError is a condition naming a feature that does not exist.
type UnknownFeatureError struct {
	Name   string
	Offset int
}

func (e *UnknownFeatureError) Error() string {
	msg := fmt.Sprintf("at column %d: unknown feature %q", e.Offset+1, e.Name)
	if s := closestFeature(e.Name); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

// ParseExpr compiles a condition.
func ParseExpr(src string) (*Expr, error) {
	if len(src) > maxExprLen {
		return nil, &SyntaxError{Offset: maxExprLen, Msg: fmt.Sprintf("condition longer than %d bytes", maxExprLen)}
	}
	p := &parser{src: src}
	p.next()
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf("unexpected %s", p.tok)
	}
	e := &Expr{src: src, eval: n.compile()}
	seen := map[Feature]bool{}
	n.walk(func(n *node) {
		if n.op == opFeature && !seen[n.feat] {
			seen[n.feat] = true
			e.uses = append(e.uses, n.feat)
		}
	})
	return e, nil
}

// Tokens.

type tokKind int

const (
	tokEOF tokKind = iota
	tokNum
	tokIdent
	tokOp
	tokLParen
	tokRParen
	tokBad
)

type token struct {
	kind tokKind
	text string
	num  float64
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of condition"
	case tokNum:
		return "number " + t.text
	case tokIdent:
		return "name " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

type parser struct {
	src string
	pos int
	tok token
	err error // first lexical error
}

func (p *parser) errorf(format string, args ...any) error {
	if p.err != nil {
		return p.err
	}
	return &SyntaxError{Offset: p.tok.pos, Msg: fmt.Sprintf(format, args...)}
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

func (p *parser) next() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{kind: tokEOF, pos: start}
		return
	}
	c := p.src[p.pos]
	switch {
	case isIdentStart(c):
		for p.pos < len(p.src) && (isIdentStart(p.src[p.pos]) || isDigit(p.src[p.pos])) {
			p.pos++
		}
		p.tok = token{kind: tokIdent, text: p.src[start:p.pos], pos: start}
	case isDigit(c) || c == '.':
		for p.pos < len(p.src) && (isDigit(p.src[p.pos]) || p.src[p.pos] == '.' || p.src[p.pos] == '_') {
			p.pos++
		}
		// An exponent: 1e6, 2.5E-3.
		if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
			q := p.pos + 1
			if q < len(p.src) && (p.src[q] == '+' || p.src[q] == '-') {
				q++
			}
			if q < len(p.src) && isDigit(p.src[q]) {
				for q < len(p.src) && isDigit(p.src[q]) {
					q++
				}
				p.pos = q
			}
		}
		text := p.src[start:p.pos]
		v, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(v, 0) || strings.Contains(text, "_") {
			p.tok = token{kind: tokBad, text: text, pos: start}
			if p.err == nil {
				p.err = &SyntaxError{Offset: start, Msg: fmt.Sprintf("bad number %q", text)}
			}
			return
		}
		p.tok = token{kind: tokNum, text: text, num: v, pos: start}
	case c == '(':
		p.pos++
		p.tok = token{kind: tokLParen, text: "(", pos: start}
	case c == ')':
		p.pos++
		p.tok = token{kind: tokRParen, text: ")", pos: start}
	default:
		for _, op := range []string{"&&", "||", "<=", ">=", "==", "!=", "<", ">", "!", "+", "-", "*", "/"} {
			if strings.HasPrefix(p.src[p.pos:], op) {
				p.pos += len(op)
				p.tok = token{kind: tokOp, text: op, pos: start}
				return
			}
		}
		r, size := utf8.DecodeRuneInString(p.src[p.pos:])
		text := p.src[p.pos : p.pos+size]
		p.tok = token{kind: tokBad, text: text, pos: start}
		if p.err == nil {
			msg := fmt.Sprintf("unexpected character %q", r)
			switch c {
			case '&', '|':
				msg += fmt.Sprintf(" (write %c%c)", c, c)
			case '=':
				msg += " (write == to compare)"
			}
			p.err = &SyntaxError{Offset: start, Msg: msg}
		}
		p.pos += size
	}
}

func (p *parser) isOp(ops ...string) bool {
	if p.tok.kind != tokOp {
		return false
	}
	for _, op := range ops {
		if p.tok.text == op {
			return true
		}
	}
	return false
}

func (p *parser) deeper(depth int) error {
	if depth > maxExprDepth {
		return p.errorf("condition nested deeper than %d", maxExprDepth)
	}
	return nil
}

func (p *parser) or(depth int) (*node, error) {
	if err := p.deeper(depth); err != nil {
		return nil, err
	}
	l, err := p.and(depth + 1)
	for err == nil && p.isOp("||") {
		p.next()
		var r *node
		if r, err = p.and(depth + 1); err == nil {
			l = join(opOr, l, r)
		}
	}
	return l, err
}

func (p *parser) and(depth int) (*node, error) {
	l, err := p.not(depth)
	for err == nil && p.isOp("&&") {
		p.next()
		var r *node
		if r, err = p.not(depth); err == nil {
			l = join(opAnd, l, r)
		}
	}
	return l, err
}

func (p *parser) not(depth int) (*node, error) {
	if p.isOp("!") {
		if err := p.deeper(depth); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return join(opNot, x, nil), nil
	}
	return p.compare(depth)
}

var compareOps = map[string]op{"<": opLT, "<=": opLE, ">": opGT, ">=": opGE, "==": opEQ, "!=": opNE}

func (p *parser) compare(depth int) (*node, error) {
	l, err := p.sum(depth)
	if err != nil {
		return nil, err
	}
	if p.tok.kind == tokOp {
		if o, ok := compareOps[p.tok.text]; ok {
			p.next()
			r, err := p.sum(depth)
			if err != nil {
				return nil, err
			}
			if p.tok.kind == tokOp {
				if _, ok := compareOps[p.tok.text]; ok {
					return nil, p.errorf("comparisons do not chain: join them with &&")
				}
			}
			return join(o, l, r), nil
		}
	}
	return l, nil
}

func (p *parser) sum(depth int) (*node, error) {
	l, err := p.product(depth)
	for err == nil && p.isOp("+", "-") {
		o := opAdd
		if p.tok.text == "-" {
			o = opSub
		}
		p.next()
		var r *node
		if r, err = p.product(depth); err == nil {
			l = join(o, l, r)
		}
	}
	return l, err
}

func (p *parser) product(depth int) (*node, error) {
	l, err := p.unary(depth)
	for err == nil && p.isOp("*", "/") {
		o := opMul
		if p.tok.text == "/" {
			o = opDiv
		}
		p.next()
		var r *node
		if r, err = p.unary(depth); err == nil {
			l = join(o, l, r)
		}
	}
	return l, err
}

func (p *parser) unary(depth int) (*node, error) {
	if p.isOp("-") {
		if err := p.deeper(depth); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return join(opNeg, x, nil), nil
	}
	return p.primary(depth)
}

func (p *parser) primary(depth int) (*node, error) {
	t := p.tok
	switch t.kind {
	case tokNum:
		p.next()
		return &node{op: opConst, val: t.num}, nil
	case tokIdent:
		switch t.text {
		case "true":
			p.next()
			return &node{op: opConst, val: 1}, nil
		case "false":
			p.next()
			return &node{op: opConst, val: 0}, nil
		}
		f, ok := FeatureByName(t.text)
		if !ok {
			return nil, &UnknownFeatureError{Name: t.text, Offset: t.pos}
		}
		p.next()
		return &node{op: opFeature, feat: f, reads: true}, nil
	case tokLParen:
		p.next()
		x, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tokRParen {
			return nil, p.errorf("missing ) for the ( at column %d, found %s", t.pos+1, p.tok)
		}
		p.next()
		return x, nil
	case tokEOF:
		return nil, p.errorf("condition ends where a value was expected")
	}
	return nil, p.errorf("expected a number, a feature or (, found %s", t)
}

// The syntax tree.

type op int

const (
	opConst op = iota
	opFeature
	opNeg
	opNot
	opAdd
	opSub
	opMul
	opDiv
	opLT
	opLE
	opGT
	opGE
	opEQ
	opNE
	opAnd
	opOr
)

type node struct {
	op    op
	val   float64
	feat  Feature
	l, r  *node
	reads bool // the subtree reads a feature
}

// join makes an operator node over l and r (nil for unary operators).
func join(o op, l, r *node) *node {
	n := &node{op: o, l: l, r: r, reads: l.reads}
	if r != nil {
		n.reads = n.reads || r.reads
	}
	return n
}

func (n *node) walk(fn func(*node)) {
	fn(n)
	if n.l != nil {
		n.l.walk(fn)
	}
	if n.r != nil {
		n.r.walk(fn)
	}
}

type evalFn = func(v *[NumFeatures]float64) float64

// compile turns the tree into closures, folding constant subtrees and
// specialising the common "feature op constant" comparisons, which are
// most of every rule.
func (n *node) compile() evalFn {
	if c, ok := n.constant(); ok {
		return func(*[NumFeatures]float64) float64 { return c }
	}
	switch n.op {
	case opFeature:
		f := n.feat
		return func(v *[NumFeatures]float64) float64 { return v[f] }
	case opNeg:
		x := n.l.compile()
		return func(v *[NumFeatures]float64) float64 { return -x(v) }
	case opNot:
		x := n.l.compile()
		return func(v *[NumFeatures]float64) float64 { return b2f(!truth(x(v))) }
	case opAnd:
		l, r := n.l.compile(), n.r.compile()
		return func(v *[NumFeatures]float64) float64 { return b2f(truth(l(v)) && truth(r(v))) }
	case opOr:
		l, r := n.l.compile(), n.r.compile()
		return func(v *[NumFeatures]float64) float64 { return b2f(truth(l(v)) || truth(r(v))) }
	}
	if n.l.op == opFeature {
		if c, ok := n.r.constant(); ok {
			if fn := compareFeatureConst(n.op, n.l.feat, c); fn != nil {
				return fn
			}
		}
	}
	l, r := n.l.compile(), n.r.compile()
	switch n.op {
	case opAdd:
		return func(v *[NumFeatures]float64) float64 { return l(v) + r(v) }
	case opSub:
		return func(v *[NumFeatures]float64) float64 { return l(v) - r(v) }
	case opMul:
		return func(v *[NumFeatures]float64) float64 { return l(v) * r(v) }
	case opDiv:
		return func(v *[NumFeatures]float64) float64 { return l(v) / r(v) }
	case opLT:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) < r(v)) }
	case opLE:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) <= r(v)) }
	case opGT:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) > r(v)) }
	case opGE:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) >= r(v)) }
	case opEQ:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) == r(v)) }
	case opNE:
		return func(v *[NumFeatures]float64) float64 { return b2f(l(v) != r(v)) }
	}
	panic(fmt.Sprintf("fraud: unknown operator %d", n.op))
}

func compareFeatureConst(o op, f Feature, c float64) evalFn {
	switch o {
	case opLT:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] < c) }
	case opLE:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] <= c) }
	case opGT:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] > c) }
	case opGE:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] >= c) }
	case opEQ:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] == c) }
	case opNE:
		return func(v *[NumFeatures]float64) float64 { return b2f(v[f] != c) }
	}
	return nil
}

// constant evaluates a subtree that reads no feature.
func (n *node) constant() (float64, bool) {
	if n.reads {
		return 0, false
	}
	var zero [NumFeatures]float64
	return n.interpret(&zero), true
}

// interpret evaluates the tree directly; compile must agree with it, which
// the tests check.
func (n *node) interpret(v *[NumFeatures]float64) float64 {
	switch n.op {
	case opConst:
		return n.val
	case opFeature:
		return v[n.feat]
	case opNeg:
		return -n.l.interpret(v)
	case opNot:
		return b2f(!truth(n.l.interpret(v)))
	case opAnd:
		return b2f(truth(n.l.interpret(v)) && truth(n.r.interpret(v)))
	case opOr:
		return b2f(truth(n.l.interpret(v)) || truth(n.r.interpret(v)))
	}
	l, r := n.l.interpret(v), n.r.interpret(v)
	switch n.op {
	case opAdd:
		return l + r
	case opSub:
		return l - r
	case opMul:
		return l * r
	case opDiv:
		return l / r
	case opLT:
		return b2f(l < r)
	case opLE:
		return b2f(l <= r)
	case opGT:
		return b2f(l > r)
	case opGE:
		return b2f(l >= r)
	case opEQ:
		return b2f(l == r)
	case opNE:
		return b2f(l != r)
	}
	panic(fmt.Sprintf("fraud: unknown operator %d", n.op))
}

// closestFeature suggests the feature name nearest to a misspelt one, or
// "" when none is close.
func closestFeature(name string) string {
	best, bestD := "", len(name)/3+1
	for _, f := range FeatureNames {
		if d := editDistance(name, f, bestD); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or at least limit
// when it is not below limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	if len(a) > 64 || len(b) > 64 {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
