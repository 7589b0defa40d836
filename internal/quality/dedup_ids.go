package quality

// AppendIDs appends the remembered transaction ids to dst, oldest first,
// so that calling Check with each of them on a new Dedup of the same size
// rebuilds this one (the processor checkpoints a partition's window this
// way).
func (d *Dedup) AppendIDs(dst []string) []string {
	for i := range d.ring {
		if id := d.ring[(d.next+i)%len(d.ring)]; id != "" {
			dst = append(dst, id)
		}
	}
	return dst
}
