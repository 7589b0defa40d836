package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU reads the CPU time a PostgreSQL server has used so far: its
// postmaster's own and that of the children it has reaped (backends that
// ended), from /proc, plus the children still running (their times are
// in the postmaster's only once reaped). The server must run on this
// machine; its data directory is asked for over url.
func serverCPU(ctx context.Context, url string) (func() (time.Duration, error), error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return nil, fmt.Errorf("postmaster.pid: %w", err)
	}
	return func() (time.Duration, error) {
		f, err := procStat(pid)
		if err != nil {
			return 0, err
		}
		total := f[0] + f[1] + f[2] + f[3] // utime stime cutime cstime
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, k := range strings.Fields(string(kids)) {
			c, err := strconv.Atoi(k)
			if err != nil {
				continue
			}
			if f, err := procStat(c); err == nil {
				total += f[0] + f[1] // a child gone meanwhile is in the postmaster's next reading
			}
		}
		return time.Duration(total) * time.Second / clockTicks, nil
	}, nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat returns utime, stime, cutime and cstime of pid in clock ticks.
func procStat(pid int) ([4]int64, error) {
	var out [4]int64
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return out, err
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return out, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14.
	if len(f) < 15 {
		return out, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	for k := range out {
		if out[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return out, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return out, nil
}
