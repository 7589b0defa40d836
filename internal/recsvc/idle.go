package recsvc

import (
	"time"

	"github.com/prometheus/procfs"
)

// hostIdle measures the host's idle cores, averaged between calls, from
// /proc/stat (through procfs, which client_golang already brings in). A
// host with no /proc/stat (not Linux, or a sandbox without it) reports
// nothing, and the pacer then rests whatever the host does.
type hostIdle struct {
	fs         procfs.FS
	ok         bool
	lastIdle   float64 // idle and I/O wait seconds, all cores
	lastSample time.Time
}

func newHostIdle() *hostIdle {
	fs, err := procfs.NewDefaultFS()
	h := &hostIdle{fs: fs, ok: err == nil}
	if h.ok {
		h.sample()
	}
	return h
}

// sample returns the idle cores since the previous sample.
func (h *hostIdle) sample() (cores float64, ok bool) {
	if h == nil || !h.ok {
		return 0, false
	}
	st, err := h.fs.Stat()
	if err != nil {
		h.ok = false
		return 0, false
	}
	now := time.Now()
	idle := st.CPUTotal.Idle + st.CPUTotal.Iowait
	wall := now.Sub(h.lastSample).Seconds()
	first := h.lastSample.IsZero()
	h.lastIdle, h.lastSample, cores = idle, now, (idle-h.lastIdle)/wall
	if first || wall <= 0 {
		return 0, false
	}
	return cores, true
}
