package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the load test runs (gtc serve, or the floor), on an address of its own,
// that can be killed and started again on the same address.
type child struct {
	name string
	bin  string
	args []string
	env  []string
	addr string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
}

func (c *child) start(ctx context.Context) error {
	c.out = &tail{}
	c.cmd = exec.Command(c.bin, c.args...)
	c.cmd.Env = append(os.Environ(), c.env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.SysProcAttr = dieWithParent()
	if err := c.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", c.name, err)
	}
	c.done = make(chan struct{})
	go func() { c.cmd.Wait(); close(c.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if probe(c.addr) {
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited at start:\n%s", c.name, c.out)
		case <-ctx.Done():
			c.kill()
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			c.kill()
			return fmt.Errorf("%s not ready after 30 s:\n%s", c.name, c.out)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// probe reports whether a server answers on addr (gtc serve's /readyz; the floor answers any path).
func probe(addr string) bool {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200 || resp.StatusCode == 404 || resp.StatusCode == 401
}

// kill ends the process with SIGKILL, as a crash or the OOM killer would.
func (c *child) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
	}
}

// rss is the process's resident set in bytes, from /proc/PID/status.
func rss(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metric sums the samples of a metric from a server's /metrics whose labels contain each of
// labels (name="value" pairs); 0 when absent or unreachable.
func metric(addr, name string, labels ...string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		match := true
		for _, l := range labels {
			match = match && strings.Contains(rest[:i], l)
		}
		if v, err := strconv.ParseFloat(rest[i+1:], 64); err == nil && match {
			sum += v
		}
	}
	return sum
}

// tail keeps the last 16 KB a process wrote, for the error that says why it failed.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 16<<10 {
		t.b = bytes.Clone(t.b[len(t.b)-16<<10:])
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
