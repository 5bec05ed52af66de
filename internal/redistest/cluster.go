package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Redis Cluster for tests: the one REDIS_CLUSTER names (host:port,host:port,...), else three
// masters this package starts once per test binary from redis-server --cluster-enabled yes on
// free ports, joined by redis-cli --cluster create. Tests skip only when redis-server or
// redis-cli is missing and REDIS_CLUSTER_REQUIRED is not set (CI sets it, so that it never
// skips).

// clusterOnce is the test binary's cluster, found or started once, like shared.
type clusterOnce struct {
	once  sync.Once
	addrs []string
	skip  string
	err   error
}

// sharedCluster is package state by necessity, as shared is: one cluster per test binary.
var sharedCluster clusterOnce

// ClusterAddrs returns the seed addresses of a reachable cluster, starting one when needed.
func ClusterAddrs(t testing.TB) []string {
	t.Helper()
	sharedCluster.once.Do(func() { sharedCluster.addrs, sharedCluster.skip, sharedCluster.err = findCluster() })
	if sharedCluster.skip != "" {
		if os.Getenv("REDIS_CLUSTER_REQUIRED") != "" {
			t.Fatalf("redis cluster: %s (REDIS_CLUSTER_REQUIRED is set)", sharedCluster.skip)
		}
		t.Skipf("redis cluster: %s", sharedCluster.skip)
	}
	if sharedCluster.err != nil {
		t.Fatalf("redis cluster: %v", sharedCluster.err)
	}
	return sharedCluster.addrs
}

// ClusterClient returns a cluster client of the test cluster and a key prefix of the test's
// own. Keys under the prefix are deleted, on every master, when the test ends.
func ClusterClient(t testing.TB) (*redis.ClusterClient, string) {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: ClusterAddrs(t)})
	prefix := fmt.Sprintf("fgtest:%d:%s:", time.Now().UnixNano(), strings.ReplaceAll(t.Name(), "/", "."))
	t.Cleanup(func() {
		Clean(context.Background(), c, prefix)
		c.Close()
	})
	return c, prefix
}

func findCluster() (addrs []string, skip string, err error) {
	if s := os.Getenv("REDIS_CLUSTER"); s != "" {
		addrs = strings.Split(s, ",")
		if err := pingCluster(addrs); err != nil {
			return nil, "", fmt.Errorf("REDIS_CLUSTER=%s cannot be used: %w", s, err)
		}
		return addrs, "", nil
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, "no REDIS_CLUSTER and no " + bin + " to start one (apt-get install redis-server)", nil
		}
	}
	cl, err := StartCluster(3)
	if err != nil {
		return nil, "", err
	}
	return cl.Addrs, "", nil
}

// pingCluster checks that the cluster at addrs serves every slot.
func pingCluster(addrs []string) error {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, DialTimeout: time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("cluster_state is not ok")
	}
	return nil
}

// Cluster is a Redis Cluster started by StartCluster.
type Cluster struct {
	Addrs []string // the masters, host:port
	dir   string
	procs []*exec.Cmd
}

// StartCluster starts masters redis-servers with cluster mode on free ports (each with its
// cluster bus port, +10000, free too), in a temporary directory, and joins them with
// redis-cli --cluster create, the slots spread evenly and no replicas. On Linux the servers
// are killed when the test binary exits; Close stops them and removes the directory at once.
// The directories of clusters whose test binary is gone are removed first.
func StartCluster(masters int) (*Cluster, error) {
	sweepClusterDirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("flowgate-cluster-%d-", os.Getpid()))
	if err != nil {
		return nil, err
	}
	cl := &Cluster{dir: dir}
	for range masters {
		port, err := clusterPort()
		if err != nil {
			cl.Close()
			return nil, err
		}
		nodeDir := filepath.Join(dir, strconv.Itoa(port))
		if err := os.Mkdir(nodeDir, 0o700); err != nil {
			cl.Close()
			return nil, err
		}
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no", "--dir", nodeDir, "--logfile", filepath.Join(nodeDir, "log"))
		cmd.SysProcAttr = dieWithParent()
		if err := cmd.Start(); err != nil {
			cl.Close()
			return nil, fmt.Errorf("start redis-server: %w", err)
		}
		cl.procs = append(cl.procs, cmd)
		cl.Addrs = append(cl.Addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}
	for _, a := range cl.Addrs {
		if err := waitPing("redis://" + a); err != nil {
			cl.Close()
			return nil, fmt.Errorf("cluster node %s: %w (log in %s)", a, err, dir)
		}
	}
	args := append([]string{"--cluster", "create"}, cl.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		cl.Close()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// The nodes learn of each other through the cluster bus after create returns.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := clusterReady(cl.Addrs)
		if err == nil {
			return cl, nil
		}
		if time.Now().After(deadline) {
			cl.Close()
			return nil, fmt.Errorf("cluster of %s not ready: %w", strings.Join(cl.Addrs, ","), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clusterReady checks that every node says the cluster is ok and knows every other node.
func clusterReady(addrs []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.ClusterInfo(ctx).Result()
		c.Close()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", len(addrs))) {
			return fmt.Errorf("node %s: not ready yet", a)
		}
	}
	return nil
}

// Kill stops master i with SIGKILL, as a crash would.
func (cl *Cluster) Kill(i int) {
	cl.procs[i].Process.Signal(syscall.SIGKILL)
	cl.procs[i].Wait()
}

// Close stops the cluster's servers and removes their directory.
func (cl *Cluster) Close() error {
	for i := range cl.procs {
		cl.Kill(i)
	}
	return os.RemoveAll(cl.dir)
}

// waitPing waits up to 5 s for a server to answer.
func waitPing(u string) error {
	var err error
	for range 100 {
		if err = ping(u); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// clusterPort returns a free port whose cluster bus port (+10000) is free and valid too.
func clusterPort() (int, error) {
	for range 50 {
		port, err := FreePort()
		if err != nil {
			return 0, err
		}
		if port+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// sweepClusterDirs removes the directories of clusters whose test binary has exited (the
// servers died with it).
func sweepClusterDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "flowgate-cluster-*"))
	for _, d := range dirs {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), "flowgate-cluster-"), "-", 2)
		pid, err := strconv.Atoi(f[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) != nil {
			os.RemoveAll(d)
		}
	}
}
