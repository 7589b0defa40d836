package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// outputTail bounds how much of a child's output goes to the test log when
// the test fails.
const outputTail = 32 << 10

// child is a shopstream process the test started, in a process group of its
// own.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer
	done chan struct{}
	err  error // how it ended; valid once done is closed
}

// startChildEnv starts binPath with args, and env (KEY=value: the
// SHOPSTREAM_* variables a test means to set) added to the environment.
// When t ends the child is killed, and if t failed its output (stdout and
// stderr) is written to the test log.
func startChildEnv(t *testing.T, name string, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(childEnv(), env...)
	// Own process group, so signals reach it and its children only; killed
	// with us if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &logBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	c := &child{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.signal(syscall.SIGKILL)
		<-c.done
		if t.Failed() {
			t.Logf("---- output of %s (%s), last %d KiB at most ----\n%s", c.name, c.state(), outputTail>>10, out.tail(outputTail))
		}
	})
	return c
}

// childEnv is the environment without SHOPSTREAM_* variables, which would
// set flags of the child behind the test's back.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHOPSTREAM_") {
			env = append(env, kv)
		}
	}
	return env
}

// signal sends sig to the child's process group, unless it has ended.
func (c *child) signal(sig syscall.Signal) {
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
}

// kill ends the child with SIGKILL and waits for it to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.signal(syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s still runs 30 s after SIGKILL", c.name)
	}
}

// stop ends the child with SIGTERM, waits for it to exit and fails t unless
// it exited with status 0 within the timeout.
func (c *child) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	c.signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s of SIGTERM", c.name, timeout)
	}
	if c.err != nil {
		t.Fatalf("%s exited after SIGTERM with %v, want status 0", c.name, c.err)
	}
}

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) state() string {
	if !c.exited() {
		return "running"
	}
	if c.err == nil {
		return "exited with status 0"
	}
	return c.err.Error()
}

// mustRun fails t if the child has ended.
func (c *child) mustRun(t *testing.T) {
	t.Helper()
	if c.exited() {
		t.Fatalf("%s ended unexpectedly: %s", c.name, c.state())
	}
}

// logged reports whether the child's output matches re.
func (c *child) logged(re *regexp.Regexp) bool {
	return re.MatchString(c.out.String())
}

var stoppedLine = regexp.MustCompile(`msg="processor stopped".* stored=(\d+) quarantined=(\d+)`)

// stoppedCounts returns the counts a processor logs when it stops cleanly:
// the records it committed as transactions and as quarantined.
func (c *child) stoppedCounts(t *testing.T) (stored, quarantined int64) {
	t.Helper()
	m := stoppedLine.FindStringSubmatch(c.out.String())
	if m == nil {
		t.Fatalf("%s logged no \"processor stopped\" line with its counts", c.name)
	}
	stored, _ = strconv.ParseInt(m[1], 10, 64)
	quarantined, _ = strconv.ParseInt(m[2], 10, 64)
	return stored, quarantined
}

// logBuffer collects a child's output; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last n bytes, from a line start.
func (l *logBuffer) tail(n int) string {
	s := l.String()
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return fmt.Sprintf("[... %d bytes before ...]\n%s", len(l.String())-len(s), s)
}
