package event

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestAddressKeyVariants: spellings of one address that people type
// differently (case, spaces, commas, full stops, apostrophes, hyphens)
// share a key; addresses that differ in a number, a word or the order of
// numbers do not.
func TestAddressKeyVariants(t *testing.T) {
	same := [][]string{
		{"12 High Street, London SW1A 1AA", "12 high street london sw1a 1aa", "12, HIGH STREET,  LONDON  SW1A 1AA.",
			"  12 High Street\tLondon\nSW1A 1AA ", "12 High Street; London (SW1A 1AA)"},
		{"Flat 3, 27 St. John's Road, Leeds LS6 1AB", "flat 3 27 st johns road leeds ls6 1ab", "FLAT 3 - 27 ST JOHN’S ROAD LEEDS LS6 1AB"},
		{"Rue de l'Église 5, 75002 Paris", "rue de léglise 5 75002 paris", "RUE DE L’ÉGLISE 5, 75002 PARIS"},
		{"Hauptstraße 7, 10115 Berlin", "HAUPTSTRAßE 7 10115 BERLIN", "Hauptstraße 7 · 10115 · Berlin"},
		{"Saint-Denis 4, 93200 France", "Saint Denis 4 93200 France"},
	}
	for _, group := range same {
		want := AddressKey(nil, group[0])
		if len(want) != 16 {
			t.Fatalf("AddressKey(nil, %q) = %q, want 16 hex digits", group[0], want)
		}
		for _, v := range group[1:] {
			if got := AddressKey(nil, v); got != want {
				t.Errorf("AddressKey(nil, %q) = %s (%q), want %s (%q) as for %q", v, got, NormaliseAddress(v), want, NormaliseAddress(group[0]), group[0])
			}
		}
	}
	apart := [][2]string{
		{"12 High Street, London SW1A 1AA", "14 High Street, London SW1A 1AA"},                 // the house next door
		{"Flat 1, 23 High St, Leeds", "Flat 12, 3 High St, Leeds"},                             // the same digits, other boundaries
		{"Flat 1, 23 High St, Leeds", "Flat 23, 1 High St, Leeds"},                             // the numbers swapped
		{"12 High Street, London SW1A 1AA", "12 High Street, London SW1A 2AA"},                 // another postcode
		{"12 High Street, London", "12 High Road, London"},                                     // another street
		{"12 High Street, London SW1A 1AA", "12 High St, London SW1A 1AA"},                     // abbreviations are not expanded
		{"Hauptstraße 7, 10115 Berlin", "Hauptstrasse 7, 10115 Berlin"},                        // nor ß spelt ss
		{"Flat 3, 27 St John's Road, Leeds LS6 1AB", "Flat 3, 27 St Johns Road, Leeds LS61AB"}, // a postcode without its space
	}
	for _, p := range apart {
		if AddressKey(nil, p[0]) == AddressKey(nil, p[1]) {
			t.Errorf("%q and %q share key %s (%q)", p[0], p[1], AddressKey(nil, p[0]), NormaliseAddress(p[0]))
		}
	}
	for _, empty := range []string{"", "   ", ",.;-", "\xff\xfe"} {
		if k := AddressKey(nil, empty); k != "" {
			t.Errorf("AddressKey(nil, %q) = %q, want none", empty, k)
		}
	}
	if got, want := NormaliseAddress("  Flat 3,27 St. John's\u00a0Road "), "flat 3 27 st johns road"; got != want {
		t.Errorf("NormaliseAddress = %q, want %q", got, want)
	}
}

// TestShippingAddressRoundTrip: the address is written when set, read
// back as written, and a record without it (every record before it was
// carried) decodes with none and re-encodes without the member.
func TestShippingAddressRoundTrip(t *testing.T) {
	in := sample()
	in.ShippingAddress = `Flat 3, 27 St John's Road, "Leeds"`
	b, err := Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Transaction
	if err := Decode(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.ShippingAddress != in.ShippingAddress {
		t.Fatalf("shipping_address %q, want %q (%s)", out.ShippingAddress, in.ShippingAddress, b)
	}
	old := sample()
	b, _ = Marshal(&old)
	if bytes.Contains(b, []byte("shipping_address")) {
		t.Fatalf("a record without an address is written with the member: %s", b)
	}
	out.ShippingAddress = "left over"
	if err := Decode(b, &out); err != nil || out.ShippingAddress != "" {
		t.Fatalf("an old record decoded to address %q (err %v)", out.ShippingAddress, err)
	}
}

func BenchmarkAddressKey(b *testing.B) {
	for b.Loop() {
		_ = AddressKey(nil, "Flat 3, 27 St. John's Road, Leeds LS6 1AB, GB")
	}
}

// FuzzAddressKey: the key is none or 16 hex digits (IsAddressKey), the
// same from the normal form as from the address, the first 8 bytes of
// crypto/hmac's HMAC-SHA256 of the normal form with the key (of SHA-256
// with none), the same from AddressKeyBytes, and the normal form has no
// leading, trailing or doubled space.
func FuzzAddressKey(f *testing.F) {
	for _, s := range []string{"Flat 2, 14 Mill Lane, Otley 40213", "FLAT 2 14 MILL LANE  OTLEY 40213.", "St John's", "", "  ,;", "\xff\xfeA", "Ünter den Linden 7"} {
		f.Add([]byte("a deployment's secret of 32 byte"), s)
		f.Add([]byte(nil), s)
	}
	f.Add(bytes.Repeat([]byte{7}, 100), "a key longer than the block")
	f.Add([]byte("k"), strings.Repeat("a very long address ", 30))
	f.Fuzz(func(t *testing.T, key []byte, s string) {
		k := AddressKey(key, s)
		n := NormaliseAddress(s)
		if k != "" && !IsAddressKey(k) || (k == "") != (n == "") {
			t.Fatalf("AddressKey(%q) = %q (normal form %q)", s, k, n)
		}
		if k2 := AddressKey(key, n); k2 != k {
			t.Fatalf("key of the normal form %q is %q, of %q %q", n, k2, s, k)
		}
		if n != "" {
			var want []byte
			if len(key) == 0 {
				sum := sha256.Sum256([]byte(n))
				want = sum[:8]
			} else {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(n))
				want = m.Sum(nil)[:8]
			}
			if k != hex.EncodeToString(want) {
				t.Fatalf("AddressKey(%x, %q) = %s, want %x", key, s, k, want)
			}
		}
		b, ok := AddressKeyBytes(key, s)
		if ok != (k != "") || ok && hex.EncodeToString(b[:]) != k {
			t.Fatalf("AddressKeyBytes(%q) = %x %v, AddressKey %q", s, b, ok, k)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("normal form %q of %q", n, s)
		}
	})
}

// TestAddressKeyKeyed: two deployments' keys of one address differ, and
// differ from the unkeyed hash anyone can compute; one key gives one
// address one key whatever its spelling; keying allocates nothing.
func TestAddressKeyKeyed(t *testing.T) {
	a, b := []byte("deployment a: 32 bytes of secret"), []byte("deployment b: 32 bytes of secret")
	const addr = "Flat 2, 14 Mill Lane, Otley 40213"
	ka, kb, plain := AddressKey(a, addr), AddressKey(b, addr), AddressKey(nil, addr)
	if ka == kb || ka == plain || kb == plain || !IsAddressKey(ka) {
		t.Fatalf("keys %s (a), %s (b), %s (none)", ka, kb, plain)
	}
	if k := AddressKey(a, "FLAT 2 14 MILL LANE  OTLEY 40213."); k != ka {
		t.Errorf("another spelling keyed %s, want %s", k, ka)
	}
	if n := testing.AllocsPerRun(100, func() { AddressKeyBytes(a, addr) }); n != 0 {
		t.Errorf("AddressKeyBytes allocates %v times", n)
	}
}
