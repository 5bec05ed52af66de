package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GraphConfig is how the fake Graph API behaves; it may be changed while it runs (SetConfig).
type GraphConfig struct {
	Latency      time.Duration // before each answer (default 150 ms; negative for none)
	PerSecond    float64       // messages per second per phone number before 130429 (0: no limit)
	FailRate     float64       // fraction of requests answered 500 with code 131000
	TimeoutRate  float64       // fraction of requests never answered (held until the client gives up)
	Token        string        // the access token expected as Bearer (empty: any)
	TimeoutAfter time.Duration // how long a timed-out request is held at most (default 30 s)
}

// GraphCounts is what the fake Graph API received and answered.
type GraphCounts struct {
	Received  int64 `json:"received"`
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"` // answered 130429
	Failed    int64 `json:"failed"`    // answered 500
	TimedOut  int64 `json:"timed_out"` // never answered
	Other     int64 `json:"other"`     // 401 or 400: not a message this fake understands
}

// Graph is a fake Graph API messages endpoint (POST /{version}/{account}/messages) answering
// WhatsApp's Cloud API and the Send API of Messenger and Instagram with their shapes. Every
// message it accepts (200) is reported to the current tracker when its recipient and text name
// a tracked conversation and sequence number.
type Graph struct {
	cfg     atomic.Pointer[GraphConfig]
	track   atomic.Pointer[trackTarget]
	ids     atomic.Int64
	counts  [6]atomic.Int64
	mu      sync.Mutex
	buckets map[string]*bucket
}

type trackTarget struct {
	t     *Tracker
	users UserSpace
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewGraph returns a fake Graph API.
func NewGraph(cfg GraphConfig) *Graph {
	g := &Graph{buckets: map[string]*bucket{}}
	g.SetConfig(cfg)
	return g
}

// SetConfig changes the behaviour from the next request on.
func (g *Graph) SetConfig(cfg GraphConfig) {
	if cfg.Latency == 0 {
		cfg.Latency = 150 * time.Millisecond
	}
	if cfg.TimeoutAfter <= 0 {
		cfg.TimeoutAfter = 30 * time.Second
	}
	g.cfg.Store(&cfg)
}

// Config returns the behaviour now.
func (g *Graph) Config() GraphConfig { return *g.cfg.Load() }

// Track sends the accepted replies to users' conversations to t from now on.
func (g *Graph) Track(t *Tracker, users UserSpace) {
	g.track.Store(&trackTarget{t: t, users: users})
}

// Counts returns the counters so far.
func (g *Graph) Counts() GraphCounts {
	return GraphCounts{Received: g.counts[0].Load(), OK: g.counts[1].Load(), Throttled: g.counts[2].Load(),
		Failed: g.counts[3].Load(), TimedOut: g.counts[4].Load(), Other: g.counts[5].Load()}
}

// sendRequest is the union of a Cloud API message (messaging_product, to, text) and a Send API
// message of Messenger and Instagram (recipient, message).
type sendRequest struct {
	MessagingProduct string `json:"messaging_product"`
	To               string `json:"to"`
	Type             string `json:"type"`
	Text             struct {
		Body string `json:"body"`
	} `json:"text"`
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	Message struct {
		Text string `json:"text"`
	} `json:"message"`
}

// sendAPI reports whether the request is a Send API text message (Messenger, Instagram), the
// only kind the echo flow sends.
func (r *sendRequest) sendAPI() bool {
	return r.MessagingProduct == "" && r.Recipient.ID != "" && r.Message.Text != ""
}

// ServeHTTP answers one request.
func (g *Graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := g.cfg.Load()
	g.counts[0].Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var req sendRequest
	switch {
	case cfg.Token != "" && r.Header.Get("Authorization") != "Bearer "+cfg.Token:
		g.counts[5].Add(1)
		writeGraphError(w, 401, 190, "Invalid OAuth access token.", "")
		return
	case err != nil || r.Method != http.MethodPost || len(parts) != 3 || parts[2] != "messages" || json.Unmarshal(body, &req) != nil ||
		(req.MessagingProduct != "whatsapp" && !req.sendAPI()):
		g.counts[5].Add(1)
		writeGraphError(w, 400, 100, "Invalid parameter", "not a WhatsApp, Messenger or Instagram message request")
		return
	}
	if !g.take(parts[1], cfg.PerSecond, time.Now()) {
		g.counts[2].Add(1)
		writeGraphError(w, 400, 130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached.")
		return
	}
	switch x := rand.Float64(); {
	case x < cfg.FailRate:
		g.counts[3].Add(1)
		writeGraphError(w, 500, 131000, "(#131000) Something went wrong", "Something went wrong")
		return
	case x < cfg.FailRate+cfg.TimeoutRate:
		g.counts[4].Add(1)
		select { // never answered: the client's timeout ends it
		case <-r.Context().Done():
		case <-time.After(cfg.TimeoutAfter):
		}
		return
	}
	if cfg.Latency > 0 {
		select {
		case <-time.After(cfg.Latency):
		case <-r.Context().Done():
			g.counts[4].Add(1)
			return
		}
	}
	id := g.ids.Add(1)
	to, text := req.To, req.Text.Body
	if req.sendAPI() {
		to, text = req.Recipient.ID, req.Message.Text
		fmt.Fprintf(w, `{"recipient_id":%q,"message_id":"m_fake.%d"}`, to, id)
	} else {
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":"wamid.fake.%d"}]}`,
			to, strings.TrimPrefix(to, "+"), id)
	}
	g.counts[1].Add(1)
	if tt := g.track.Load(); tt != nil {
		conv, ok := tt.users.Conv(to)
		seq, err := strconv.Atoi(strings.TrimPrefix(text, "seq "))
		if ok && err == nil {
			tt.t.Reply(conv, seq, time.Now())
		} else if ok {
			tt.t.Reply(conv, 0, time.Now()) // a reply to a tracked user without a sequence number
		}
	}
}

// take spends one message of phone's token bucket (a second's worth of burst), or reports
// that the number's throughput is used up.
func (g *Graph) take(phone string, perSecond float64, now time.Time) bool {
	if perSecond <= 0 {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.buckets[phone]
	if b == nil {
		b = &bucket{tokens: perSecond, at: now}
		g.buckets[phone] = b
	}
	b.tokens = min(perSecond, b.tokens+now.Sub(b.at).Seconds()*perSecond)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// writeGraphError writes the Graph API's error envelope.
func writeGraphError(w http.ResponseWriter, status, code int, message, details string) {
	e := map[string]any{"message": message, "type": "OAuthException", "code": code,
		"fbtrace_id": fmt.Sprintf("Afake%08x", rand.Uint32())}
	if details != "" {
		e["error_data"] = map[string]any{"messaging_product": "whatsapp", "details": details}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

// UserSpace names the users of one run: conversation i is the user Prefix followed by i on
// eight digits, so that replies to another run's users are told apart.
type UserSpace struct{ Prefix string }

// User is conversation i's phone number.
func (u UserSpace) User(i int) string { return fmt.Sprintf("%s%08d", u.Prefix, i) }

// Conv is the conversation of a phone number, if it is one of this space's.
func (u UserSpace) Conv(phone string) (int, bool) {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(phone, "+"), u.Prefix)
	if !ok || len(rest) != 8 {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil
}
