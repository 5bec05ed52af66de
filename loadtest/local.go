package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/internal/bundle"
)

// The self-contained setup's fixed names. The secrets are generated per run.
const (
	localTenant    = "load"
	localTeam      = "test"
	localPhone     = "100000000000001"   // the WhatsApp phone number id
	localPage      = "100000000000002"   // the Messenger Page id
	localInstagram = "17841400000000003" // the Instagram account id
)

// localAccount is the business account of a channel in the self-contained setup.
func localAccount(channel string) string {
	switch channel {
	case "messenger":
		return localPage
	case "instagram":
		return localInstagram
	}
	return localPhone
}

// EchoFlow answers every "seq N" message with the same text, so that each reply names the
// message it answers.
const EchoFlow = `name: loadtest_echo
nodes:
  - {id: echo, type: reply, config: {message: "{{ input }}"}}
triggers:
  - {type: message, pattern: "^seq ", target: echo}
`

// local is everything the self-contained mode runs: a private redis-server, the fake Graph
// API, a bundle with the echo flow, and the gtc binary to run gtc serve and the floor with.
type local struct {
	gtc       string
	dir       string
	redis     *redisServer
	rdb       *redis.Client
	graph     *Graph
	graphURL  string
	graphSrv  *http.Server
	bundle    string
	secret    string
	token     string
	serveArgs []string
}

// startLocal starts Redis and the fake Graph API and writes the bundle, all under a new
// temporary directory.
func startLocal(ctx context.Context, gtc string, graph GraphConfig, serveArgs []string) (*local, error) {
	dir, err := os.MkdirTemp("", "gtc-loadtest-")
	if err != nil {
		return nil, err
	}
	l := &local{gtc: gtc, dir: dir, secret: randomHex(16), token: "EAAload" + randomHex(12), serveArgs: serveArgs}
	graph.Token = l.token
	l.graph = NewGraph(graph)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.close()
		return nil, err
	}
	l.graphURL = "http://" + ln.Addr().String()
	l.graphSrv = &http.Server{Handler: l.graph}
	go l.graphSrv.Serve(ln)
	redisDir := filepath.Join(dir, "redis")
	if err := os.Mkdir(redisDir, 0o700); err != nil {
		l.close()
		return nil, err
	}
	if l.redis, err = startRedis(redisDir); err != nil {
		l.close()
		return nil, err
	}
	l.rdb = redis.NewClient(&redis.Options{Addr: l.redis.addr(), MaxRetries: -1})
	l.bundle = filepath.Join(dir, "bundle")
	answers := fmt.Sprintf(`{"tenant": %[1]q, "team": %[2]q,
  "messaging-whatsapp": {"enabled": true, "public_base_url": "http://localhost:8080",
    "phone_number_id": %[3]q, "access_token": "${WHATSAPP_TOKEN}", "verify_token": "load-verify",
    "app_secret": "${META_APP_SECRET}", "api_base_url": %[6]q},
  "messaging-messenger": {"enabled": true, "public_base_url": "http://localhost:8080",
    "page_id": %[4]q, "page_access_token": "${MESSENGER_PAGE_TOKEN}", "verify_token": "load-verify",
    "app_secret": "${META_APP_SECRET}", "api_base_url": %[6]q},
  "messaging-instagram": {"enabled": true, "public_base_url": "http://localhost:8080",
    "ig_account_id": %[5]q, "access_token": "${INSTAGRAM_TOKEN}", "verify_token": "load-verify",
    "app_secret": "${META_APP_SECRET}", "api_base_url": %[6]q}}`,
		localTenant, localTeam, localPhone, localPage, localInstagram, l.graphURL)
	if _, err := bundle.Setup(ctx, []byte(answers), l.bundle, bundle.SetupOptions{}); err != nil {
		l.close()
		return nil, fmt.Errorf("writing the load test's bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.bundle, bundle.FlowsDir, "loadtest_echo.yaml"), []byte(EchoFlow), 0o644); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func (l *local) close() {
	if l.graphSrv != nil {
		l.graphSrv.Close()
	}
	if l.rdb != nil {
		l.rdb.Close()
	}
	if l.redis != nil {
		l.redis.kill()
	}
	os.RemoveAll(l.dir)
}

// serve starts gtc serve on the bundle with its keys under prefix.
func (l *local) serve(ctx context.Context, redisURL, prefix string, extra ...string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &child{name: "gtc serve", bin: l.gtc, addr: "127.0.0.1:" + strconv.Itoa(port),
		env: []string{"WHATSAPP_TOKEN=" + l.token, "MESSENGER_PAGE_TOKEN=" + l.token, "INSTAGRAM_TOKEN=" + l.token, "META_APP_SECRET=" + l.secret}}
	c.args = append([]string{"serve", "--addr", c.addr, "--redis", redisURL, "--redis-prefix", prefix, "--log-level", "warn"}, l.serveArgs...)
	c.args = append(append(c.args, extra...), l.bundle)
	return c, c.start(ctx)
}

// floor starts the floor (gtc loadtest floor) with its keys under prefix.
func (l *local) floor(ctx context.Context, redisURL, prefix string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &child{name: "the floor", bin: l.gtc, addr: "127.0.0.1:" + strconv.Itoa(port),
		env: []string{"META_APP_SECRET=" + l.secret, "WHATSAPP_TOKEN=" + l.token}}
	c.args = []string{"loadtest", "floor", "--addr", c.addr, "--redis", redisURL, "--redis-prefix", prefix,
		"--graph", l.graphURL, "--phone-number-id", localPhone}
	return c, c.start(ctx)
}

// webhookURL is the URL a target's webhooks of channel (empty: WhatsApp) go to.
func webhookURL(addr, channel string) string {
	if channel == "" {
		channel = "whatsapp"
	}
	return "http://" + addr + "/webhook/" + channel + "/" + localTenant + "/" + localTeam
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("crypto/rand failed"))
	}
	return hex.EncodeToString(b)
}
