package analytics

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestCLVPredict(t *testing.T) {
	t.Parallel()
	s := Summary{Frequency: 2, Recency: 30.43, Age: 38.86, MonetaryMean: 22.35}
	month := 365.25 / 12 / 7 // weeks
	tests := []struct {
		name string
		cfg  CLVConfig
		// want computes the value from the formula in NewCLV's doc.
		want func() float64
	}{
		{"undiscounted is purchases × spend", CLVConfig{}, func() float64 {
			return publishedBG.ExpectedPurchases(12*month, 2, 30.43, 38.86) * publishedGG.ExpectedSpend(2, 22.35)
		}},
		{"10% a year, discounted monthly", CLVConfig{AnnualDiscountRate: 0.10}, func() float64 {
			var v, prev float64
			for m := 1; m <= 12; m++ {
				cum := publishedBG.ExpectedPurchases(float64(m)*month, 2, 30.43, 38.86)
				v += (cum - prev) / math.Pow(1.10, float64(m)/12)
				prev = cum
			}
			return v * publishedGG.ExpectedSpend(2, 22.35)
		}},
		{"three months, in days", CLVConfig{Months: 3, Period: Day}, func() float64 {
			// The same customer summarised in days.
			return publishedBG.ExpectedPurchases(3*365.25/12, 2, 30.43, 38.86) * publishedGG.ExpectedSpend(2, 22.35)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCLV(publishedBG, publishedGG, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Predict(s)
			if want := tt.want(); math.Abs(got.Value-want) > 1e-9*want {
				t.Errorf("value %.10f, want %.10f", got.Value, want)
			}
			if got.ProbAlive != publishedBG.ProbAlive(2, 30.43, 38.86) || got.ExpectedSpend != publishedGG.ExpectedSpend(2, 22.35) {
				t.Errorf("prediction %+v does not carry the models' P(alive) and spend", got)
			}
		})
	}

	// Discounting lowers the value, and only by less than a year's rate.
	plain, _ := NewCLV(publishedBG, publishedGG, CLVConfig{})
	disc, _ := NewCLV(publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: 0.10})
	p, d := plain.Predict(s), disc.Predict(s)
	if !(d.Value < p.Value && d.Value > p.Value/1.10) || d.ExpectedPurchases != p.ExpectedPurchases {
		t.Errorf("discounted %+v against undiscounted %+v", d, p)
	}
	// PredictAll is Predict over a population.
	pop := simulate(5, 5000, publishedBG, publishedGG, 78)
	all := disc.PredictAll(pop, nil)
	for i, c := range pop {
		if all[i] != disc.Predict(c) {
			t.Fatalf("PredictAll differs from Predict for customer %d", i)
		}
	}
	// A one-time buyer is worth the population mean spend per purchase.
	one := plain.Predict(Summary{Age: 10})
	if one.ProbAlive != 1 || one.ExpectedSpend != publishedGG.PopulationMean() || !(one.Value > 0) {
		t.Errorf("one-time buyer: %+v", one)
	}
}

func TestNewCLVRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		bg      BGNBD
		gg      GammaGamma
		cfg     CLVConfig
		wantErr string
	}{
		{publishedBG, publishedGG, CLVConfig{Months: -1}, "Months -1"},
		{publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: -1}, "AnnualDiscountRate -1"},
		{publishedBG, publishedGG, CLVConfig{AnnualDiscountRate: math.NaN()}, "AnnualDiscountRate NaN"},
		{publishedBG, publishedGG, CLVConfig{Period: -time.Hour}, "Period -1h0m0s"},
		{BGNBD{}, publishedGG, CLVConfig{}, "BG/NBD parameters"},
		{publishedBG, GammaGamma{P: 1, Q: 1, Gamma: 1}, CLVConfig{}, "need p > 0, q > 1"},
	} {
		_, err := NewCLV(tt.bg, tt.gg, tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("NewCLV(%+v, %+v, %+v): error %v, want one containing %q", tt.bg, tt.gg, tt.cfg, err, tt.wantErr)
		}
	}
}

func ExampleNewCLV() {
	// The published CDNOW parameters (weeks) and the paper's customer 1.
	clv, err := NewCLV(
		BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426},
		GammaGamma{P: 6.25, Q: 3.74, Gamma: 15.44},
		CLVConfig{Months: 12, AnnualDiscountRate: 0.10},
	)
	if err != nil {
		panic(err)
	}
	p := clv.Predict(Summary{Frequency: 2, Recency: 30.43, Age: 38.86, MonetaryMean: 22.35})
	fmt.Printf("P(alive) %.3f, %.3f purchases of $%.2f, 12-month CLV $%.2f\n",
		p.ProbAlive, p.ExpectedPurchases, p.ExpectedSpend, p.Value)
	// Output: P(alive) 0.727, 1.563 purchases of $24.66, 12-month CLV $36.75
}
