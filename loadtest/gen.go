package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/flowgate/flowgate/providers/meta"
)

// GenConfig is one run of the generator.
type GenConfig struct {
	URL           string        // the webhook URL (…/webhook/{channel}/{tenant}/{team})
	AppSecret     string        // signs each body
	Channel       string        // whatsapp (default), messenger or instagram: the webhooks' shape
	Account       string        // the business account they are addressed to: phone number id, page id or Instagram account id
	Users         UserSpace     // who sends them
	Conversations int           // how many users, taken in turn
	Rate          float64       // open loop: webhooks per second on a fixed schedule
	Connections   int           // closed loop (when Rate is 0): concurrent senders
	Duration      time.Duration // how long to send
	Batch         int           // messages per webhook body (default 1)
	Retry         time.Duration // retry a webhook not answered 200 for this long, as Meta does (0: no retry)
	RunID         string        // makes the message ids unique across runs
	Client        *http.Client
}

// GenResult is what the sending side saw.
type GenResult struct {
	Requests  int64            `json:"requests"` // webhooks answered 200
	Attempts  int64            `json:"attempts"` // requests made, retries included
	Codes     map[string]int64 `json:"codes"`    // answers other than 200, by status ("error" for no answer)
	Elapsed   time.Duration    `json:"elapsed_ns"`
	Ack       []time.Duration  `json:"-"` // intended send (open loop) or send (closed loop) → 200, sorted
	Started   time.Time        `json:"-"`
	Stopped   time.Time        `json:"-"`
	mu        sync.Mutex
	ackLocked []time.Duration
}

// slot is one webhook: the messages it carries and what it waits for.
type slot struct {
	convs, seqs []int
	waits       []chan struct{}
	done        chan struct{}
	intended    time.Time
}

type generator struct {
	cfg  GenConfig
	t    *Tracker
	res  *GenResult
	mu   sync.Mutex
	next int   // next message number (conversation next % N)
	seq  []int // last seq per conversation
	prev []chan struct{}
}

// Generate sends webhooks as cfg says, records them in t, and returns when every webhook
// it started is answered (or given up).
func Generate(ctx context.Context, cfg GenConfig, t *Tracker) *GenResult {
	if cfg.Batch <= 0 {
		cfg.Batch = 1
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	}
	g := &generator{cfg: cfg, t: t, res: &GenResult{Codes: map[string]int64{}},
		seq: make([]int, cfg.Conversations), prev: make([]chan struct{}, cfg.Conversations)}
	g.res.Started = time.Now()
	end := g.res.Started.Add(cfg.Duration)
	var wg sync.WaitGroup
	if cfg.Rate > 0 {
		interval := time.Duration(float64(time.Second) / cfg.Rate)
		for i := 0; ; i++ {
			at := g.res.Started.Add(time.Duration(i) * interval)
			if !at.Before(end) || ctx.Err() != nil {
				break
			}
			if d := time.Until(at); d > 0 {
				sleep(ctx, d)
			}
			s := g.take(at)
			wg.Add(1)
			go func() { defer wg.Done(); g.send(ctx, s, end) }()
		}
		g.res.Stopped = time.Now()
	} else {
		for range max(cfg.Connections, 1) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && time.Now().Before(end) {
					g.send(ctx, g.take(time.Now()), end)
				}
			}()
		}
		wg.Wait()
		g.res.Stopped = time.Now()
	}
	wg.Wait()
	g.res.Elapsed = g.res.Stopped.Sub(g.res.Started)
	g.res.Ack = g.res.ackLocked
	slices.Sort(g.res.Ack)
	return g.res
}

// take assigns the next webhook's messages to conversations in turn.
func (g *generator) take(at time.Time) *slot {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := &slot{done: make(chan struct{}), intended: at}
	for range g.cfg.Batch {
		c := g.next % g.cfg.Conversations
		g.next++
		g.seq[c]++
		s.convs, s.seqs = append(s.convs, c), append(s.seqs, g.seq[c])
		if p := g.prev[c]; p != nil {
			s.waits = append(s.waits, p)
		}
		g.prev[c] = s.done
		g.t.Sent(c, g.seq[c], at)
	}
	return s
}

// send posts one webhook once the webhooks before it for the same conversations are answered,
// so that a conversation's messages arrive in order, retrying as configured.
func (g *generator) send(ctx context.Context, s *slot, end time.Time) {
	defer close(s.done)
	for _, w := range s.waits {
		select {
		case <-w:
		case <-ctx.Done():
			return
		}
	}
	body := g.body(s)
	sig := meta.SignatureHeaderValue(body, g.cfg.AppSecret)
	giveUp := end.Add(g.cfg.Retry)
	delay := 50 * time.Millisecond
	for {
		start := time.Now()
		code := g.post(ctx, body, sig)
		g.res.mu.Lock()
		if code == 200 {
			g.res.Requests++
			from := s.intended
			if g.cfg.Rate == 0 {
				from = start
			}
			g.res.ackLocked = append(g.res.ackLocked, time.Since(from))
		} else {
			g.res.Codes[codeName(code)]++
		}
		g.res.Attempts++
		g.res.mu.Unlock()
		if code == 200 {
			for i, c := range s.convs {
				g.t.Accepted(c, s.seqs[i])
			}
			return
		}
		if g.cfg.Retry <= 0 || time.Now().After(giveUp) || ctx.Err() != nil {
			return
		}
		sleep(ctx, delay)
		delay = min(2*delay, time.Second)
	}
}

func codeName(code int) string {
	if code == 0 {
		return "error"
	}
	return strconv.Itoa(code)
}

func (g *generator) post(ctx context.Context, body []byte, sig string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(meta.SignatureHeader, sig)
	resp, err := g.cfg.Client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// body renders the slot's messages as one webhook of the configured channel.
func (g *generator) body(s *slot) []byte {
	switch g.cfg.Channel {
	case "messenger":
		return g.messagingBody(s, "page")
	case "instagram":
		return g.messagingBody(s, "instagram")
	}
	return g.whatsAppBody(s)
}

// messagingBody renders the slot's messages as one Messenger ("page") or Instagram webhook, as
// Meta batches them under load: an entry per message, each with one messaging item.
func (g *generator) messagingBody(s *slot, object string) []byte {
	ms := time.Now().UnixMilli()
	b := make([]byte, 0, 64+260*len(s.convs))
	b = fmt.Appendf(b, `{"object":%q,"entry":[`, object)
	for i, c := range s.convs {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"id":%q,"time":%d,"messaging":[{"sender":{"id":%q},"recipient":{"id":%q},"timestamp":%d,"message":{"mid":"m_load.%s.%d.%d","text":"seq %d"}}]}`,
			g.cfg.Account, ms, g.cfg.Users.User(c), g.cfg.Account, ms, g.cfg.RunID, c, s.seqs[i], s.seqs[i])
	}
	return append(b, `]}`...)
}

// whatsAppBody renders the slot's messages as one WhatsApp webhook, as Meta batches them under
// load: one entry, one change, a contact and a text message per message.
func (g *generator) whatsAppBody(s *slot) []byte {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	b := make([]byte, 0, 256+200*len(s.convs))
	b = fmt.Appendf(b, `{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":%q,"phone_number_id":%q},"contacts":[`,
		g.cfg.Account, g.cfg.Account, g.cfg.Account)
	for i, c := range s.convs {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"profile":{"name":"Load %d"},"wa_id":%q}`, c, g.cfg.Users.User(c))
	}
	b = append(b, `],"messages":[`...)
	for i, c := range s.convs {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, `{"from":%q,"id":"wamid.load.%s.%d.%d","timestamp":%q,"type":"text","text":{"body":"seq %d"}}`,
			g.cfg.Users.User(c), g.cfg.RunID, c, s.seqs[i], ts, s.seqs[i])
	}
	return append(b, `]}}]}]}`...)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
