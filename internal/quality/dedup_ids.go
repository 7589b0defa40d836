package quality

import "iter"

// IDs yields the remembered transaction ids, oldest first, so that
// calling Check with each of them on a new Dedup of the same size rebuilds
// this one (the processor checkpoints a partition's window this way). Each
// is valid until the next Check.
func (d *Dedup) IDs() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for i := range d.lens {
			if id := d.at((d.next + i) % len(d.lens)); len(id) > 0 && !yield(id) {
				return
			}
		}
	}
}

// Len is how many ids IDs yields.
func (d *Dedup) Len() int {
	n := 0
	for _, l := range d.lens {
		if l != 0 {
			n++
		}
	}
	return n
}

// AppendIDs appends what IDs yields to dst, as strings.
func (d *Dedup) AppendIDs(dst []string) []string {
	for id := range d.IDs() {
		dst = append(dst, string(id))
	}
	return dst
}
