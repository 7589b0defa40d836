// Package modeldoc holds the stored form of the customer-analytics models:
// the JSON documents in the params and metrics of a model version of kind
// "clv" or "segments". The refresh job (internal/jobs) writes them; the
// views of the API and the command line (internal/analyticsview) read them,
// so neither depends on the other.
package modeldoc

import "time"

// CLVParams is the stored form of a CLV model (models.params, kind "clv").
// Alpha and the model period are in weeks.
type CLVParams struct {
	BGNBD struct {
		R     float64 `json:"r"`
		Alpha float64 `json:"alpha"`
		A     float64 `json:"a"`
		B     float64 `json:"b"`
	} `json:"bgnbd"`
	GammaGamma struct {
		P     float64 `json:"p"`
		Q     float64 `json:"q"`
		Gamma float64 `json:"gamma"`
	} `json:"gamma_gamma"`
	Period string `json:"period"`
}

// CLVMetrics are the fit statistics stored with a CLV model.
type CLVMetrics struct {
	AsOf            time.Time `json:"as_of"`
	Customers       int       `json:"customers"`
	RepeatCustomers int       `json:"repeat_customers"`
	// BGNBDLogLikelihood and GammaGammaLogLikelihood are the maximised
	// log-likelihoods, for comparing fits on the same data.
	BGNBDLogLikelihood      float64 `json:"bgnbd_log_likelihood"`
	GammaGammaLogLikelihood float64 `json:"gamma_gamma_log_likelihood"`
	// FrequencyMonetaryCorrelation is the Pearson correlation of repeat
	// frequency and mean repeat spend; Gamma-Gamma assumes it is near 0.
	FrequencyMonetaryCorrelation float64 `json:"frequency_monetary_correlation"`
	// PopulationMeanSpend is p·γ/(q−1), the expected order value of a
	// customer with no repeat purchase.
	PopulationMeanSpend float64 `json:"population_mean_spend"`
	HorizonMonths       int     `json:"horizon_months"`
	DiscountRate        float64 `json:"discount_rate"`
	// MeanProbAlive, MeanCLV and TotalCLV are over the customers the
	// model predicted; absent (null) for a degenerate model, which
	// predicts none.
	MeanProbAlive *float64 `json:"mean_p_alive"`
	MeanCLV       *float64 `json:"mean_clv"`
	TotalCLV      *float64 `json:"total_clv"`
	FitSeconds    float64  `json:"fit_seconds"`
	// FitCheck says whether the BG/NBD fit can be used (absent in models
	// stored before it was checked). A degenerate model gives no CLV.
	FitCheck *CLVFitCheck `json:"fit_check,omitempty"`
}

// CLVFitCheck is the stored form of analytics.FitCheck.
type CLVFitCheck struct {
	Degenerate      bool      `json:"degenerate"`
	Problems        []string  `json:"problems,omitempty"`
	HistoryWeeks    float64   `json:"history_weeks"`
	RepeatCustomers int       `json:"repeat_customers"`
	LogSE           []float64 `json:"log_standard_errors,omitempty"`
}

// SegmentsParams is the stored form of a clustering (kind "segments"):
// centroids in the features' original units.
type SegmentsParams struct {
	K          int         `json:"k"`
	Features   []string    `json:"features"`
	Centroids  [][]float64 `json:"centroids"`
	Seed       uint64      `json:"seed"`
	SampleSize int         `json:"sample_size"`
}

// SegmentsMetrics are the statistics stored with a clustering.
type SegmentsMetrics struct {
	AsOf      time.Time `json:"as_of"`
	Customers int       `json:"customers"`
	// Silhouette is the chosen clustering's mean silhouette (on up to
	// 2,000 sampled points), nil when k was fixed at 1.
	Silhouette *float64 `json:"silhouette"`
	// Candidates is the mean silhouette of every k tried.
	Candidates []KSilhouette    `json:"candidates"`
	Clusters   []ClusterProfile `json:"clusters"`
}

// KSilhouette is one candidate k and its mean silhouette.
type KSilhouette struct {
	K          int     `json:"k"`
	Silhouette float64 `json:"silhouette"`
}

// ClusterProfile describes one cluster over all customers assigned to it.
type ClusterProfile struct {
	Cluster         int      `json:"cluster"`
	Size            int      `json:"size"`
	Share           float64  `json:"share"`
	MeanRecencyDays float64  `json:"mean_recency_days"`
	MeanFrequency   float64  `json:"mean_frequency"`
	MeanMonetary    float64  `json:"mean_monetary"`
	MeanCLV         *float64 `json:"mean_clv"`
	// TopCategories are the cluster's three largest categories by share
	// of its spend.
	TopCategories []CategoryShare `json:"top_categories"`
}

// CategoryShare is a category's share of some spend.
type CategoryShare struct {
	Category string  `json:"category"`
	Share    float64 `json:"share"`
}
