package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServer is a private redis-server on a port of its own, with append-only persistence in
// its own directory, that can be killed and started again on the same port and data.
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(dir string) (*redisServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &redisServer{port: port, dir: dir}
	return r, r.start()
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("the self-contained load test needs redis-server on PATH: %w", err)
	}
	log, err := os.OpenFile(filepath.Join(r.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	r.cmd = exec.Command(bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction")
	r.cmd.Stdout, r.cmd.Stderr = log, log
	r.cmd.SysProcAttr = dieWithParent()
	if err := r.cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("starting redis-server: %w", err)
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); log.Close(); close(r.done) }()
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			r.kill()
			return fmt.Errorf("redis-server on port %d did not answer: %w (log in %s)", r.port, err, r.dir)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// kill ends redis-server with SIGKILL, as a crash would.
func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		<-r.done
	}
}

// redisInfo reads the counters the report needs from INFO: calls per command, used memory,
// connections received.
type redisInfo struct {
	Calls     map[string]int64
	UsedBytes int64
}

func readRedisInfo(ctx context.Context, c *redis.Client) (redisInfo, error) {
	s, err := c.Info(ctx, "commandstats", "memory").Result()
	if err != nil {
		return redisInfo{}, fmt.Errorf("redis INFO: %w", err)
	}
	return parseRedisInfo(s), nil
}

func parseRedisInfo(s string) redisInfo {
	info := redisInfo{Calls: map[string]int64{}}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, stats, _ := strings.Cut(rest, ":")
			for _, f := range strings.Split(stats, ",") {
				if v, ok := strings.CutPrefix(f, "calls="); ok {
					info.Calls[name], _ = strconv.ParseInt(v, 10, 64)
				}
			}
		} else if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			info.UsedBytes, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return info
}

// commandsBetween is the commands Redis ran between two readings: in all, of which scripts
// (EVAL, EVALSHA, FCALL: each is one command whatever it does), and by name.
func commandsBetween(a, b redisInfo) (total, scripts int64, byName map[string]int64) {
	byName = map[string]int64{}
	for name, n := range b.Calls {
		d := n - a.Calls[name]
		switch name {
		case "info", "ping", "client|setname", "client|setinfo", "hello", "memory|usage", "scan", "dbsize", "select":
			continue // the load test's own, and connection setup
		case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall":
			scripts += d
		}
		if d > 0 {
			byName[name] = d
		}
		total += d
	}
	return total, scripts, byName
}

// roundTripProxy forwards TCP connections to Redis and counts round trips: each time a client
// writes after having read an answer (or for the first time) is one round trip, however many
// commands a pipeline carries.
type roundTripProxy struct {
	ln     net.Listener
	target string
	trips  atomic.Int64
}

func newRoundTripProxy(target string) (*roundTripProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &roundTripProxy{ln: ln, target: target}
	go p.accept()
	return p, nil
}

func (p *roundTripProxy) url() string { return "redis://" + p.ln.Addr().String() + "/0" }

func (p *roundTripProxy) close() { p.ln.Close() }

func (p *roundTripProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *roundTripProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	var answered atomic.Bool
	answered.Store(true)
	go func() {
		copyCounting(c, up, func() { answered.Store(true) })
		c.Close()
	}()
	copyCounting(up, c, func() {
		if answered.Swap(false) {
			p.trips.Add(1)
		}
	})
}

// copyCounting copies src to dst, calling each for every read.
func copyCounting(dst io.Writer, src io.Reader, each func()) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			each()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
