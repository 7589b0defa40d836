package fraud

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// ordinary returns n feature vectors of everyday orders: a known customer
// at home buying a few things for about 40.
func ordinary(n int, seed uint64) [][]float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float64, n)
	for i := range out {
		var f Features
		v := &f.Values
		v[Amount] = math.Exp(math.Log(40) + 0.8*r.NormFloat64())
		v[Items] = float64(1 + r.IntN(4))
		v[Lines] = float64(1 + r.IntN(int(v[Items])))
		v[CustTxns] = float64(r.IntN(30))
		v[AccountAgeDays] = 30 + 300*r.Float64()
		v[MinutesSinceLast] = 1000 + 40000*r.Float64()
		v[AmountRatio] = math.Exp(0.5 * r.NormFloat64())
		v[AmountZ] = r.NormFloat64()
		v[CustCount10m], v[CustCount1h], v[CustCount24h] = 1, 1, 1
		v[CustAmount10m], v[CustAmount1h], v[CustAmount24h] = v[Amount], v[Amount], v[Amount]
		v[CardsPerCustomer1h], v[CardsPerCustomer24h], v[DevicesPerCustomer24h] = 1, 1, 1
		v[CardCount1h], v[CardCount24h], v[CardAmount24h], v[CustomersPerCard24h] = 1, 1, v[Amount], 1
		v[DeviceCount10m], v[DeviceCount1h], v[DeviceCount24h] = 1, 1, 1
		v[CardsPerDevice1h], v[CardsPerDevice24h], v[CustomersPerDevice24h] = 1, 1, 1
		v[IPCount1h], v[CustomersPerIP24h], v[Countries], v[CardPayment] = 1, 1, 1, 1
		if r.IntN(200) == 0 { // now and then a second order or card
			v[CustCount10m], v[CustCount1h], v[DeviceCount10m], v[DeviceCount1h] = 2, 2, 2, 2
			v[CardsPerCustomer1h], v[CardsPerDevice1h], v[IPCount1h] = 2, 2, 2
			v[Countries] = 2
		}
		out[i] = f.Vector(nil)
	}
	return out
}

var (
	trainOnce  sync.Once
	trainModel *ForestModel
	trainErr   error
)

func trainedModel(t testing.TB) *ForestModel {
	t.Helper()
	trainOnce.Do(func() { trainModel, trainErr = TrainModel(ordinary(5000, 1), 7) })
	if trainErr != nil {
		t.Fatal(trainErr)
	}
	return trainModel
}

func TestForestModel(t *testing.T) {
	t.Parallel()
	m := trainedModel(t)
	normal := ordinary(2000, 2)
	var above int
	for _, x := range normal {
		s := m.Score(x)
		if s < 0 || s > 1 {
			t.Fatalf("Score = %v outside [0, 1]", s)
		}
		if s > 0 {
			above++
		}
	}
	// Calibrated at the training sample's 99th percentile: about 1% of
	// ordinary traffic has any evidence at all.
	if share := float64(above) / float64(len(normal)); share > 0.03 {
		t.Errorf("%.1f%% of ordinary orders get model evidence, want about 1%%", 100*share)
	}
	// A brand-new account spending a hundred times the usual, seconds
	// after its first order, is nothing like it.
	odd := append([]float64(nil), normal[0]...)
	odd[Amount], odd[AmountZ], odd[AmountRatio] = 4000, 6, 100
	odd[CustAmount10m], odd[CustAmount1h], odd[CustAmount24h], odd[CardAmount24h] = 4000, 4000, 4000, 4000
	odd[CustTxns], odd[AccountAgeDays], odd[MinutesSinceLast] = 0, 0, 0.1
	if s := m.Score(odd); s < 0.5 {
		t.Errorf("outlandish vector scores %v (raw %v), want well above 0.5", s, m.RawScore(odd))
	}
	out := m.Outliers(odd, 3, nil)
	if len(out) != 3 {
		t.Fatalf("Outliers = %v, want 3", out)
	}
	for i, o := range out {
		if math.Abs(o.Z) < minOutlierZ || i > 0 && math.Abs(o.Z) > math.Abs(out[i-1].Z) {
			t.Errorf("outliers not at least %v and sorted: %v", minOutlierZ, out)
		}
	}
	if got := m.Outliers(normal[1], 3, nil); len(got) > 1 {
		t.Errorf("an ordinary order has outliers %v", got)
	}
	if mean, std := m.Stats(Amount); math.Abs(mean-math.Log1p(40)) > 0.2 || std < 0.5 || std > 1 {
		t.Errorf("amount stats = %v ± %v", mean, std)
	}
	if lo, hi := m.Calibration(); !(hi > lo && lo > 0.3) {
		t.Errorf("calibration = [%v, %v]", lo, hi)
	}
	if m.Forest().Metadata().Trees != 100 {
		t.Errorf("forest has %d trees, want the published 100", m.Forest().Metadata().Trees)
	}
}

func TestTrainModelErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vectors [][]float64
		want    string
	}{
		{"empty", nil, "0 vectors"},
		{"short", [][]float64{make([]float64, NumFeatures), {1, 2}}, "vector 1 has 2 values"},
		{"NaN", [][]float64{make([]float64, NumFeatures), append(make([]float64, NumFeatures-1), math.NaN())}, "new_ship_address is NaN"},
	}
	for _, tt := range tests {
		if _, err := TrainModel(tt.vectors, 1); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestModelMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	m := trainedModel(t)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back ForestModel
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	for _, x := range ordinary(200, 3) {
		if a, b := m.RawScore(x), back.RawScore(x); a != b {
			t.Fatalf("decoded model scores %v, the original %v", b, a)
		}
	}
	if lo, hi := back.Calibration(); lo != m.lo || hi != m.hi {
		t.Error("calibration changed")
	}
	again, _ := back.MarshalBinary()
	if !bytes.Equal(b, again) {
		t.Error("re-encoding differs")
	}
	if _, err := new(ForestModel).MarshalBinary(); err == nil {
		t.Error("encoded a zero model")
	}
}

// reseal recomputes the checksum after a test edits an encoding.
func reseal(b []byte) []byte {
	b = b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func TestModelUnmarshalErrors(t *testing.T) {
	t.Parallel()
	good, err := trainedModel(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(fn func(b []byte) []byte) []byte { return fn(bytes.Clone(good)) }
	tests := []struct {
		name string
		data []byte
		is   error
		want string
	}{
		{"empty", nil, ErrBadModel, "no \"SSFM\" header"},
		{"other format", []byte("IFOR\x01abcdefgh"), ErrBadModel, "header"},
		{"newer version", edit(func(b []byte) []byte { b[4] = 2; return b }), nil, "unsupported version 2"},
		{"flipped bit", edit(func(b []byte) []byte { b[len(b)/2] ^= 1; return b }), ErrBadModel, "checksum"},
		{"truncated", reseal(good[:len(good)/2]), ErrBadModel, ""},
		{"other features", edit(func(b []byte) []byte {
			i := bytes.Index(b, []byte("amount"))
			copy(b[i:], "AMOUNT")
			return reseal(b)
		}), ErrFeatureMismatch, "retrain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m ForestModel
			err := m.UnmarshalBinary(tt.data)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func FuzzUnmarshalModel(f *testing.F) {
	good, err := trainedModel(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:200])
	f.Add([]byte("SSFM\x01"))
	x := ordinary(1, 9)[0]
	f.Fuzz(func(t *testing.T, data []byte) {
		var m ForestModel
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		// Whatever decodes must score without panicking.
		if s := m.Score(x); s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("decoded model scores %v", s)
		}
		m.Outliers(x, 3, nil)
	})
}
