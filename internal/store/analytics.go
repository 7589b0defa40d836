package store

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"
)

// Analytics is what the periodic customer-analytics job, the analytics API
// and the `shopstream analytics` command need from the store. Both the
// PostgreSQL and the SQLite store implement it.
//
// Reads stream or aggregate in SQL, so a refresh over ten million
// transactions never holds them in memory. Writes go in chunks of at most
// [AnalyticsChunk] rows per database transaction, so the stream's batches
// are never held up behind a refresh for long.
type Analytics interface {
	// PurchaseDays streams one row per customer and UTC calendar day with
	// a purchase before until: purchases on the same day count once (their
	// amounts added), as the customer models require. Rows come ordered by
	// customer ID (byte order) and then day.
	PurchaseDays(ctx context.Context, until time.Time, fn func(*PurchaseDay) error) error
	// CategorySpend streams each customer's spend per item category, from
	// the items of transactions before until, ordered by customer ID (byte
	// order) and then category.
	CategorySpend(ctx context.Context, until time.Time, fn func(*CategorySpend) error) error
	// LatestPurchase returns the latest event time of any stored purchase,
	// or the zero time when there is none.
	LatestPurchase(ctx context.Context) (time.Time, error)

	// WriteCustomerAnalytics upserts the rows, at most AnalyticsChunk per
	// database transaction.
	WriteCustomerAnalytics(ctx context.Context, rows []CustomerAnalytics) error
	// ReplaceCohorts replaces the stored cohort matrix in one transaction;
	// computedAt is when the refresh built it, asOf the instant it covers
	// purchases to (the month of asOf is unfinished).
	ReplaceCohorts(ctx context.Context, cells []CohortCell, computedAt, asOf time.Time) error
	// SaveModelVersion stores a new version of a model of kind (one more
	// than the latest), marks it active and earlier versions retired, and
	// returns its version.
	SaveModelVersion(ctx context.Context, kind string, params, metrics []byte) (int, error)

	// LatestModelVersion returns the newest model of kind, or ErrNoModel.
	LatestModelVersion(ctx context.Context, kind string) (*ModelVersion, error)
	// CustomerProfile returns a customer's stored totals and analytics, or
	// ErrUnknownCustomer.
	CustomerProfile(ctx context.Context, customerID string) (*CustomerProfile, error)
	// CustomerTransactions returns a page of a customer's stored
	// transactions, newest first by event time (then transaction ID,
	// highest first): the customer page's purchase history.
	CustomerTransactions(ctx context.Context, f CustomerTxFilter) ([]CustomerTx, error)
	// SegmentStats returns, per RFM segment with customers, how many there
	// are and their value, largest segment first.
	SegmentStats(ctx context.Context) ([]SegmentStat, error)
	// ScoreCounts returns how many scored customers have each R, F and M
	// score, and the size of the ties that decide the top recency and the
	// bottom frequency score: what explains an empty segment.
	ScoreCounts(ctx context.Context) (*ScoreCounts, error)
	// TopCustomers returns up to limit customers with the highest
	// predicted CLV, highest first.
	TopCustomers(ctx context.Context, limit int) ([]CustomerAnalytics, error)
	// Customers returns a page of the scored customers f selects, by
	// customer ID in byte order: the customer list and search.
	Customers(ctx context.Context, f CustomerListFilter) ([]CustomerAnalytics, error)
	// Cohorts returns the stored cohort matrix, ordered by cohort month and
	// month offset, and when it was computed and as of when (zero when
	// never).
	Cohorts(ctx context.Context) ([]CohortCell, CohortTimes, error)

	// CustomerSegments streams every scored customer's ID and RFM segment
	// in customer-ID byte order: the segments of the refresh before, for
	// a refresh that does not hold them.
	CustomerSegments(ctx context.Context, fn func(customerID, segment string) error) error
	// SaveSegmentMovement stores one refresh's segment movement and, in
	// the same transaction, deletes every one but the newest keep. It
	// returns the movement's ID.
	SaveSegmentMovement(ctx context.Context, m SegmentMovement, keep int) (int64, error)
	// SegmentMovements returns up to limit stored movements, newest first.
	SegmentMovements(ctx context.Context, limit int) ([]SegmentMovement, error)

	// TryLead tries to become the one instance that runs the periodic job
	// called name. It does not wait: ok is false when another instance
	// leads. While ok, the caller leads until it calls release, which must
	// be called exactly once. PostgreSQL holds a session advisory lock on a
	// dedicated pooled connection; SQLite serves one process, so it only
	// keeps two runs in that process apart.
	TryLead(ctx context.Context, name string) (release func(), ok bool, err error)
}

// AnalyticsChunk is the most rows WriteCustomerAnalytics writes in one
// database transaction.
const AnalyticsChunk = 5000

// Model kinds of the analytics job in the models table.
const (
	ModelCLV      = "clv"
	ModelSegments = "segments"
)

// ErrUnknownCustomer is returned for a customer the store has no purchase of.
var ErrUnknownCustomer = errors.New("unknown customer")

// ErrNoModel is returned when no model of the kind asked for was stored.
var ErrNoModel = errors.New("no model stored")

// PurchaseDay is one customer's purchases on one UTC calendar day.
type PurchaseDay struct {
	CustomerID string
	// Day is midnight UTC of the day.
	Day time.Time
	// Orders is how many transactions fell on the day.
	Orders int64
	// AmountCents is their total.
	AmountCents int64
}

// CategorySpend is one customer's spend in one item category.
type CategorySpend struct {
	CustomerID string
	Category   string
	// Cents is the sum of quantity × unit price over the customer's items
	// in the category.
	Cents int64
}

// CustomerListFilter selects scored customers for Analytics.Customers.
type CustomerListFilter struct {
	// Segment, when set, is the RFM segment they are in.
	Segment string
	// Prefix, when set, starts their IDs.
	Prefix string
	// After, when set, is the ID the page starts after (the last of the
	// page before).
	After string
	// ByCLV orders them by predicted CLV (CLVFigures.Value), highest
	// first, ID in byte order breaking ties, and keeps only those with a
	// CLV (none when no model was fitted, or its fit was degenerate);
	// otherwise they are by ID.
	ByCLV bool
	// AfterCLV is, with ByCLV and After, the CLV of the customer the page
	// starts after.
	AfterCLV float64
	// Limit is the most returned; at least 1.
	Limit int
}

// PrefixEnd is the least string above every string starting with p, in
// byte order, and false when there is none (p empty, or all of it the
// greatest code point). For valid UTF-8 the end is valid UTF-8 too (its
// last code point is the next one up), so it can be a PostgreSQL text
// parameter; byte order is code point order in UTF-8.
func PrefixEnd(p string) (string, bool) {
	if !utf8.ValidString(p) {
		b := []byte(p)
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] < 0xff {
				b[i]++
				return string(b[:i+1]), true
			}
		}
		return "", false
	}
	rs := []rune(p)
	for i := len(rs) - 1; i >= 0; i-- {
		switch r := rs[i]; {
		case r == utf8.MaxRune:
			continue
		case r == 0xd7ff: // the surrogates are not code points of UTF-8
			rs[i] = 0xe000
		default:
			rs[i] = r + 1
		}
		return string(rs[:i+1]), true
	}
	return "", false
}

// CustomerAnalytics is the job's result for one customer.
type CustomerAnalytics struct {
	CustomerID string
	// RecencyDays is the days from the last purchase to the refresh's
	// as-of day; FrequencyDays the purchase days; MonetaryCents the total
	// spend: the raw values the scores rank.
	RecencyDays   float64
	FrequencyDays int64
	MonetaryCents int64
	// R, F and M are quintile scores 1-5 over the whole population.
	R       int
	F       int
	M       int
	Segment string
	// Cluster is the behavioural cluster (0 = largest), nil when no
	// clustering has been fitted.
	Cluster *int
	// CLV holds the lifetime-value prediction, nil when no CLV model has
	// been fitted.
	CLV *CLVFigures
	// UpdatedAt is when the job computed the row.
	UpdatedAt time.Time
}

// CLVFigures are one customer's predicted lifetime-value figures.
type CLVFigures struct {
	ProbAlive float64
	// ExpectedPurchases is over the CLV horizon (12 months by default).
	ExpectedPurchases float64
	// ExpectedAOV is the expected value of one future order, in major
	// units.
	ExpectedAOV float64
	// Value is the discounted expected revenue over the horizon, in major
	// units.
	Value float64
	// ModelVersion is the CLV model version the figures came from.
	ModelVersion int
}

// CustomerTxFilter selects a page of one customer's transactions.
type CustomerTxFilter struct {
	CustomerID string
	// Limit bounds the page; at most 1000, default 50.
	Limit int
	// Before, when set, keeps the transactions that come after it newest
	// first: the place of the previous page's last row.
	Before *CustomerTxCursor
}

// CustomerTxCursor is the place of a transaction in a customer's history.
type CustomerTxCursor struct {
	EventTime     time.Time
	TransactionID string
}

// CustomerTx is one stored transaction of a customer's history.
type CustomerTx struct {
	TransactionID string
	EventTime     time.Time
	TotalCents    int64
	Currency      string
	Channel       string
	PaymentMethod string
	// ItemsJSON is the transaction's items as stored (a JSON array).
	ItemsJSON []byte
	Risk      float64
	Decision  string
}

// CustomerProfile is what the store knows about one customer.
type CustomerProfile struct {
	CustomerID   string
	FirstSeen    time.Time
	LastSeen     time.Time
	Orders       int64
	RevenueCents int64
	// Analytics is nil until the job has scored the customer.
	Analytics *CustomerAnalytics
}

// ScoreCounts counts the scored customers by score: R[0] those with
// R = 1, ..., R[4] those with R = 5, and likewise F and M.
type ScoreCounts struct {
	Customers int64
	R, F, M   [5]int64
	// NewestDay is how many customers share the least recency (they last
	// bought on the newest day), and LeastFrequency how many share the
	// least frequency: ties that large take a middle score.
	NewestDay, LeastFrequency int64
}

// SegmentStat is one RFM segment's size and value.
type SegmentStat struct {
	Segment   string
	Customers int64
	// RevenueCents is the segment's customers' total revenue to date.
	RevenueCents int64
	// MeanCLV is the mean predicted CLV of the segment's customers with a
	// prediction, nil when none has one.
	MeanCLV *float64
}

// CohortCell is one cell of the acquisition-cohort matrix: the customers
// whose first purchase fell in Month, and what they did MonthOffset months
// later (0 = the acquisition month).
type CohortCell struct {
	// Month is the first instant of the cohort's calendar month, UTC.
	Month       time.Time
	MonthOffset int
	// Size is how many customers the cohort has.
	Size int64
	// Active is how many of them bought in the month.
	Active int64
	// RevenueCents is what they spent in the month.
	RevenueCents int64
}

// CohortTimes say when the stored cohort matrix was computed and the
// instant it covers purchases to; AsOf is zero for a matrix stored before
// it was recorded.
type CohortTimes struct {
	ComputedAt time.Time
	AsOf       time.Time
}

// SegmentMovement is how the customers moved between RFM segments from
// one analytics refresh to the next.
type SegmentMovement struct {
	// ID orders the movements (assigned by SaveSegmentMovement).
	ID int64
	// AsOf is the refresh's as-of instant, ComputedAt when it ran, and
	// PreviousComputedAt when the refresh compared against ran (nil when
	// no movement was stored before: the segments compared against, if
	// any, were stored before movements were recorded).
	AsOf               time.Time
	ComputedAt         time.Time
	PreviousComputedAt *time.Time
	// Flows are the non-empty cells of the transition matrix.
	Flows []SegmentFlow
}

// SegmentFlow counts the customers whose segment was From at the refresh
// before and To at this one; From "" is a customer new since, To "" one
// no longer scored (erased, or purchases deleted by retention).
type SegmentFlow struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Customers int64  `json:"customers"`
}

// ModelVersion is one stored version of a model.
type ModelVersion struct {
	Kind    string
	Version int
	Status  string
	// Params and Metrics are JSON documents.
	Params    []byte
	Metrics   []byte
	CreatedAt time.Time
}
