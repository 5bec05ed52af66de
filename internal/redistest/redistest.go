// Package redistest gives tests a real Redis: the one REDIS_URL names, else the one on
// 127.0.0.1:6379, else a redis-server it starts on a free port for the test binary. Each test
// gets its own key prefix and its keys are deleted when it ends. Tests never skip for want of
// Redis: when none can be reached or started, they fail and say why. ClusterAddrs and
// ClusterClient give a Redis Cluster the same way (cluster.go).
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the Redis the test binary uses, found or started once.
type server struct {
	once sync.Once
	url  string
	err  error
}

// shared is the test binary's server. It is package state by necessity: one redis-server per
// test binary, started on first use and stopped when the process exits.
var shared server

// URL returns the address of a reachable Redis, starting one when needed.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.url, shared.err = find() })
	if shared.err != nil {
		t.Fatalf("redis: %v", shared.err)
	}
	return shared.url
}

// Client returns a client of the test Redis and a key prefix of the test's own. Keys under the
// prefix are deleted when the test ends.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(URL(t))
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	c := redis.NewClient(opts)
	prefix := fmt.Sprintf("fgtest:%d:%s:", time.Now().UnixNano(), strings.ReplaceAll(t.Name(), "/", "."))
	t.Cleanup(func() {
		Clean(context.Background(), c, prefix)
		c.Close()
	})
	return c, prefix
}

// Clean deletes every key under prefix (SCAN: for tests only), on every master of a cluster.
func Clean(ctx context.Context, c redis.UniversalClient, prefix string) {
	if cc, ok := c.(*redis.ClusterClient); ok {
		cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			clean(ctx, m, prefix)
			return nil
		})
		return
	}
	clean(ctx, c, prefix)
}

// clean deletes the keys under prefix of one server, one DEL per key so that the keys of
// different cluster slots never meet in one command.
func clean(ctx context.Context, c redis.Cmdable, prefix string) {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		return nil
	})
}

func find() (string, error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		if err := ping(u); err != nil {
			return "", fmt.Errorf("REDIS_URL=%s cannot be reached: %w", u, err)
		}
		return u, nil
	}
	const local = "redis://127.0.0.1:6379/0"
	if ping(local) == nil {
		return local, nil
	}
	return Start()
}

func ping(u string) error {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opts.DialTimeout = time.Second
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// Start runs a redis-server on a free port that lives as long as the test binary, and returns
// its URL. On Linux the server is killed when the test binary exits.
func Start() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("no Redis at REDIS_URL or 127.0.0.1:6379, and no redis-server to start (apt-get install redis-server)")
	}
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "flowgate-redis-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start redis-server: %w", err)
	}
	u := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	for i := 0; i < 100; i++ {
		if ping(u) == nil {
			return u, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Kill()
	return "", fmt.Errorf("redis-server on port %d did not answer (log in %s)", port, filepath.Join(dir))
}

// FreePort returns a TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
