package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/providers/meta"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

// FloorConfig is the floor's setup.
type FloorConfig struct {
	Addr      string // listen address
	RedisURL  string
	Prefix    string // of its two keys' families
	AppSecret string
	GraphURL  string // the Graph API base URL
	Token     string // its access token
	Phone     string // the phone number id replies are sent from
	Workers   int
}

// floorScript marks a message id seen and queues the message, unless it was seen before.
var floorScript = redis.NewScript(`if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return redis.call('RPUSH', KEYS[2], ARGV[2]) end return 0`)

// RunFloor runs the floor until ctx is done: the least a durable webhook bot can do. Its
// handler checks the signature, parses the body, deduplicates and queues every message in one
// pipelined round trip to Redis, and answers 200; its workers pop messages and echo each
// through the Graph API, each waiting for its send. It keeps no state, no flows, no order
// per conversation and no window: it is the reference Flowgate's figures are divided by.
func RunFloor(ctx context.Context, cfg FloorConfig) error {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("floor: --redis: %w", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := floorScript.Load(ctx, rdb).Err(); err != nil {
		return fmt.Errorf("floor: loading its script: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	queue := cfg.Prefix + "q"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		floorAccept(w, r, rdb, cfg, queue)
	})}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}, Timeout: 20 * time.Second}
	var wg sync.WaitGroup
	for range max(cfg.Workers, 1) {
		wg.Add(1)
		go func() { defer wg.Done(); floorWork(ctx, rdb, hc, cfg, queue) }()
	}
	go func() { <-ctx.Done(); srv.Close() }()
	err = srv.Serve(ln)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func floorAccept(w http.ResponseWriter, r *http.Request, rdb *redis.Client, cfg FloorConfig, queue string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	if meta.CheckSignature(r.Header.Get(meta.SignatureHeader), body, cfg.AppSecret) != nil {
		http.Error(w, "signature", http.StatusUnauthorized)
		return
	}
	events, err := whatsapp.Parse(body)
	if err != nil {
		http.Error(w, "not a webhook", http.StatusBadRequest)
		return
	}
	pipe := rdb.Pipeline()
	ttl := (7 * 24 * time.Hour).Milliseconds()
	for _, ev := range events {
		if ev.ID == "" {
			continue
		}
		floorScript.EvalSha(r.Context(), pipe, []string{cfg.Prefix + "d:" + ev.ID, queue}, ttl, ev.From+"\n"+ev.Text)
	}
	if _, err := pipe.Exec(r.Context()); err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func floorWork(ctx context.Context, rdb *redis.Client, hc *http.Client, cfg FloorConfig, queue string) {
	url := strings.TrimSuffix(cfg.GraphURL, "/") + "/v25.0/" + cfg.Phone + "/messages"
	for ctx.Err() == nil {
		kv, err := rdb.BLPop(ctx, time.Second, queue).Result()
		if err != nil || len(kv) != 2 {
			continue
		}
		to, text, _ := strings.Cut(kv[1], "\n")
		body := fmt.Appendf(nil, `{"messaging_product":"whatsapp","recipient_type":"individual","to":%q,"type":"text","text":{"body":%q}}`, to, text)
		for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+cfg.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			sleep(ctx, time.Duration(100<<attempt)*time.Millisecond)
		}
	}
}
