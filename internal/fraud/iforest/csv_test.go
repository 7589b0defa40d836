package iforest

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestReadLabelledCSV(t *testing.T) {
	t.Parallel()
	X, y, err := ReadLabelledCSV(strings.NewReader("1,2.5,0\n-3e2, 4 ,1\n\n0,0,1.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]float64{{1, 2.5}, {-300, 4}, {0, 0}}; !reflect.DeepEqual(X, want) {
		t.Errorf("X = %v, want %v", X, want)
	}
	if want := []bool{false, true, true}; !reflect.DeepEqual(y, want) {
		t.Errorf("y = %v, want %v", y, want)
	}
}

func TestReadLabelledCSVErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "no rows"},
		{"blank lines only", "\n\n", "no rows"},
		{"label only", "1\n", "line 1: 1 column(s), need at least one feature and the label"},
		{"not a number", "1,2,0\n3,x,1\n", `line 2, column 2: feature "x": invalid syntax`},
		{"NaN", "1,2,0\n3,4,0\nNaN,4,0\n", `line 3, column 1: feature "NaN": not a finite number`},
		{"Inf", "1,-Inf,0\n", `line 1, column 2: feature "-Inf": not a finite number`},
		{"out of range", "1e999,2,0\n", `line 1, column 1: feature "1e999": value out of range`},
		{"label 2", "1,2,0\n3,4,2\n", `line 2, column 3: label "2" is not 0 or 1`},
		{"label text", "1,2,yes\n", `line 1, column 3: label "yes" is not 0 or 1`},
		{"ragged", "1,2,0\n3,1\n", "line 2: wrong number of fields"},
		{"bad quote", "1,\"2,0\n", `line 1, column 2: feature "\"2"`},
		{"header", "a,b,label\n1,2,0\n", `line 1, column 1: feature "a"`},
	} {
		_, _, err := ReadLabelledCSV(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// FuzzReadLabelledCSV: any input either fails cleanly or yields a
// rectangular set of finite features with one label per row.
func FuzzReadLabelledCSV(f *testing.F) {
	for _, s := range []string{
		"1,2,0\n3,4,1\n",
		"5,1,1,1,2,1,3,1,1,0\n",
		"0.5804691396063525,-0.9025340443520413,1\n",
		"\"1\",2,0\n",
		"1,2,0\r\n3,4,1\r\n",
		"1,,0\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		X, y, err := ReadLabelledCSV(strings.NewReader(in))
		if err != nil {
			if X != nil || y != nil {
				t.Fatal("data returned with an error")
			}
			return
		}
		if len(X) == 0 || len(X) != len(y) {
			t.Fatalf("%d rows and %d labels without an error", len(X), len(y))
		}
		for i, row := range X {
			if len(row) == 0 || len(row) != len(X[0]) {
				t.Fatalf("row %d has %d features, row 0 %d", i, len(row), len(X[0]))
			}
			for _, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("row %d holds %v", i, v)
				}
			}
		}
	})
}

func TestReadCSVHeaderAndUnlabelled(t *testing.T) {
	t.Parallel()
	d, err := ReadCSV(strings.NewReader("amount,items\n1,2.5\n-3e2, 4\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Header, []string{"amount", "items"}) || !reflect.DeepEqual(d.X, [][]float64{{1, 2.5}, {-300, 4}}) || d.Y != nil {
		t.Errorf("got %+v", d)
	}
	if _, err := ReadCSV(strings.NewReader("1,2\n3\n"), false); err == nil || !strings.Contains(err.Error(), "line 2: wrong number of fields") {
		t.Errorf("ragged rows: %v", err)
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n", "1,2,0\n3,4,1\n", "x\n", "1e999,0\n", "\"1\",2\n3,\"4\n"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, labelled bool) {
		d, err := ReadCSV(strings.NewReader(in), labelled)
		if err != nil {
			return
		}
		if len(d.X) == 0 || (labelled && len(d.Y) != len(d.X)) || (!labelled && d.Y != nil) {
			t.Fatalf("%d rows, %d labels", len(d.X), len(d.Y))
		}
		for _, x := range d.X {
			if len(x) != len(d.X[0]) || len(x) == 0 {
				t.Fatalf("rows of %d and %d features", len(d.X[0]), len(x))
			}
			for _, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("feature %v", v)
				}
			}
		}
	})
}

// TestReadCSVBlocksAlike reads each input in blocks of every size from 1
// byte (a line split across many blocks, a block ending anywhere in a
// line) on several workers, and checks the rows, labels, header and error
// are those of reading it (under 1 MiB) as one block on one goroutine, the line-by-line
// reading.
func TestReadCSVBlocksAlike(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"a,b,label\n1,2.5,0\n-3e2, 4 ,1\n\n0,0,1.0\r\n7,8,0",
		"1,2,0\n3,4,1\n\n\n5,6,0\n",
		"\n\nx,y\n1,2\n3,4\n",
		"1,2,0\n3,4,1\n5,x,0\n7,8,1\n9,y,0\n",
		"1,2,0\n3,4,1\n5,6\n7,8,1\n",
		"1,2,0\n3,4,2\n5,6,0\n",
		"1,2,0\n3,NaN,1\n",
		"1,2,0\n3,1e999,1\n",
		"h1,h2,h3\n",
		"1,2,0\n\"3\",\"4.5\",1\n",
	}
	var big strings.Builder
	for i := range 500 {
		fmt.Fprintf(&big, "%d.%d,%g,%d\n", i, i*7%13, float64(i)*1.25e-3, i%2)
	}
	inputs = append(inputs, big.String(), big.String()+"1,2,3\n"+big.String())
	for _, in := range inputs {
		for _, labelled := range []bool{true, false} {
			want, werr := readCSV(strings.NewReader(in), CSVOptions{Labelled: labelled}, csvBlock, 1)
			for _, block := range []int{1, 2, 3, 5, 7, 11, 64, 1000} {
				if len(in) > 1000 && block < 64 {
					continue // the long inputs are there for many blocks in flight
				}
				got, gerr := readCSV(strings.NewReader(in), CSVOptions{Labelled: labelled}, block, 3)
				if fmt.Sprint(gerr) != fmt.Sprint(werr) {
					t.Fatalf("%q labelled=%v block %d: error %v, one block %v", in, labelled, block, gerr, werr)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%q labelled=%v block %d: %+v, one block %+v", in, labelled, block, got, want)
				}
			}
		}
	}
}

// TestReadCSVLongLine: a line longer than 1 MiB is refused with its line
// number, whether it is the first line or a later one and however the
// blocks fall.
func TestReadCSVLongLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("1", csvMaxLine+1)
	for _, tc := range []struct{ in, want string }{
		{long + ",0\n", "line 1 is longer than 1 MiB"},
		{"1,0\n2,1\n" + long + ",0\n3,0\n", "line 3 is longer than 1 MiB"},
		{"1,0\n2,1\n" + long, "line 3 is longer than 1 MiB"},
	} {
		for _, block := range []int{4096, csvBlock} {
			_, err := readCSV(strings.NewReader(tc.in), CSVOptions{Labelled: true}, block, 2)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("block %d: error %v, want %q", block, err, tc.want)
			}
		}
	}
}

// FuzzReadCSVBlocks: any input reads the same in small blocks on several
// workers as in one block on one, its columns named or not.
func FuzzReadCSVBlocks(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n3,4\n", "1,2,0\n3,4,1\n\n5,x,0\n", "1\n2\n3,4\n", "a,b,c\nx,1,2\ny,0,3\n"} {
		f.Add(s, true, false, uint8(3))
		f.Add(s, false, true, uint8(2))
	}
	f.Fuzz(func(t *testing.T, in string, labelled, named bool, block uint8) {
		o := CSVOptions{Labelled: labelled}
		if named { // the first column an ID, the second the label
			o = CSVOptions{ID: "a", Label: "b"}
		}
		want, werr := readCSV(strings.NewReader(in), o, csvBlock, 1)
		got, gerr := readCSV(strings.NewReader(in), o, int(block)+1, 3)
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("block %d: %+v, %v; one block: %+v, %v", int(block)+1, got, gerr, want, werr)
		}
	})
}

// TestReadCSVNamedColumns: the label, an ID and ignored columns named
// from the header, anywhere in the row; the rest are the features, in
// order; read alike in any blocks.
func TestReadCSVNamedColumns(t *testing.T) {
	t.Parallel()
	in := "order,amount,note,Class,items\nA1,1.5,gift,0,2\n\nB2, 3 ,,1,4\nC3,-2e1,x,0,0.5\n"
	o := CSVOptions{Label: "Class", ID: "order", Ignore: []string{"note"}}
	want := &Data{
		Header:   []string{"order", "amount", "note", "Class", "items"},
		Features: []string{"amount", "items"},
		X:        [][]float64{{1.5, 2}, {3, 4}, {-20, 0.5}},
		Y:        []bool{false, true, false},
		IDs:      []string{"A1", "B2", "C3"},
	}
	for _, block := range []int{1, 4, 7, csvBlock} {
		got, err := readCSV(strings.NewReader(in), o, block, 3)
		if err != nil {
			t.Fatalf("block %d: %v", block, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("block %d: %+v, want %+v", block, got, want)
		}
	}
	// A header of numbers is a header when columns are named.
	d, err := ReadCSVWith(strings.NewReader("1,2,3\n4,5,6\n"), CSVOptions{ID: "1"})
	if err != nil || !reflect.DeepEqual(d.X, [][]float64{{5, 6}}) || !reflect.DeepEqual(d.IDs, []string{"4"}) {
		t.Errorf("numeric header: %+v, %v", d, err)
	}
	for _, tc := range []struct {
		in   string
		o    CSVOptions
		want string
	}{
		{in, CSVOptions{Label: "class"}, `line 1: no label column "class" in the header "order,amount,note,Class,items"`},
		{in, CSVOptions{Label: "Class", ID: "Class"}, `column "Class" is named twice`},
		{in, CSVOptions{Label: "Class", Labelled: true}, "either the last column or a named one"},
		{in, CSVOptions{Label: "Class", Ignore: []string{"nope"}}, `no ignored column "nope"`},
		{in, CSVOptions{Label: "Class", ID: "order"}, `line 2, column 3: feature "gift": invalid syntax`},
		{"a,lbl,b\n1,2,3\n", CSVOptions{Label: "lbl"}, `line 2, column 2: label "2" is not 0 or 1`},
		{"id,lbl\nx,1\n", CSVOptions{Label: "lbl", ID: "id"}, "line 1: 2 column(s), need at least one feature and the label"},
		{"a,b\n", CSVOptions{ID: "a"}, "no rows"},
	} {
		for _, block := range []int{3, csvBlock} {
			_, err := readCSV(strings.NewReader(tc.in), tc.o, block, 2)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q %+v block %d: error %v, want %q", tc.in, tc.o, block, err, tc.want)
			}
		}
	}
}

func TestSplitFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`1, 2 ,3`, []string{"1", "2", "3"}},
		{`"1.5",2`, []string{"1.5", "2"}},
		{`a,"b, c", "d ""x"" e" ,4`, []string{"a", "b, c", `d "x" e`, "4"}},
		{`"",x`, []string{"", "x"}},
		{`1,"2,0`, []string{"1", `"2`, "0"}}, // no closing quote: a character
		{`"a"b,c`, []string{`"a"b`, "c"}},    // text after the closing quote: a character
		{`x"y,"z"`, []string{`x"y`, "z"}},    // a quote inside a field
		{`,`, []string{"", ""}},
	} {
		var got []string
		for _, f := range splitFields(nil, []byte(tc.in)) {
			got = append(got, string(f))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitFields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
