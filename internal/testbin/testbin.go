// Package testbin builds a command of this module once per test binary, for the tests that
// run the real program (gtc serve, the load test's children).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

type build struct {
	once sync.Once
	path string
	err  error
}

var (
	mu     sync.Mutex
	builds = map[string]*build{}
)

// Build builds the main package in dir (relative to the test's package) once for the test
// binary and returns the executable's path; the test fails when it does not build.
func Build(t testing.TB, dir string) string {
	t.Helper()
	mu.Lock()
	b := builds[dir]
	if b == nil {
		b = &build{}
		builds[dir] = b
	}
	mu.Unlock()
	b.once.Do(func() {
		out, err := os.MkdirTemp("", "flowgate-bin-")
		if err != nil {
			b.err = err
			return
		}
		// The go command that runs these tests, else the one on PATH.
		goBin := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
		if _, err := os.Stat(goBin); os.Getenv("GOROOT") == "" || err != nil {
			goBin = "go"
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(out, filepath.Base(abs))
		if msg, err := exec.Command(goBin, "build", "-o", b.path, dir).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", dir, err, msg)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}
