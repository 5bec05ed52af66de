package engine

import "github.com/flowgate/flowgate/engine/msg"

func init() {
	registerNode(nodeSpec[ReplyConfig]{Name: "reply", SchemaDef: "replyConfig", Schema: replySchema, Compile: compileReply})
}

// ReplyConfig is the config of a reply node: exactly one of Message, Template, Interactive,
// Media and Location.
type ReplyConfig struct {
	Message          string             `yaml:"message"`
	PreviewURL       bool               `yaml:"preview_url"`
	Template         *TemplateConfig    `yaml:"template"`
	Interactive      *InteractiveConfig `yaml:"interactive"`
	Media            *MediaConfig       `yaml:"media"`
	Location         *LocationConfig    `yaml:"location"`
	FallbackTemplate *TemplateConfig    `yaml:"fallback_template"`
	OnWindowClosed   string             `yaml:"on_window_closed"`
	Tag              string             `yaml:"tag"`
	RetryOnRateLimit *bool              `yaml:"retry_on_rate_limit"`
}

// replyStep sends one message, subject to the window policy.
type replyStep struct {
	cfg            *ReplyConfig
	texts          []text
	fallback       *fallback
	onWindowClosed *Node
	next           *Node
}

var _ sender = (*replyStep)(nil)

func compileReply(nc *nodeCompiler, rc *ReplyConfig) step {
	s := &replyStep{cfg: rc, next: nc.next}
	s.texts = compileTexts(nc.cc, nc.cfg, nc.what, func(str strFunc) { buildReply(rc, str) })
	if rc.FallbackTemplate != nil {
		s.fallback = nc.c.fallback(nc.cc, nc.d, nc.f, nc.n, rc.FallbackTemplate, "fallback_template", nc.cfg)
	}
	s.onWindowClosed = nc.ref(rc.OnWindowClosed, "on_window_closed")
	if rc.Template != nil {
		nc.c.sendsTemplate(nc.d, nc.f, nc.what, rc.Template, valueAt(nc.cfg, "template"))
		nc.c.template(nc.d, nc.what, rc.Template, valueAt(nc.cfg, "template"))
	}
	m := buildReply(rc, func(s string, _ ...string) string { return s })
	nc.c.content(nc.d, nc.f, nc.n, &m, nc.cfg)
	nc.c.tag(nc.d, nc.f, nc.n, rc.Tag, nc.cfg)
	return s
}

func (s *replyStep) exec(r *run, n *Node) *Node {
	if !r.send(n, s.message(r), s.cfg.Tag, s.fallback) && s.onWindowClosed != nil {
		return s.onWindowClosed
	}
	return s.next
}

func (s *replyStep) message(r *run) msg.Message {
	m := buildReply(s.cfg, r.strs(s.texts))
	if s.cfg.RetryOnRateLimit != nil && !*s.cfg.RetryOnRateLimit {
		m.NoRetryOnRateLimit = true
	}
	return m
}

func (s *replyStep) window() (*fallback, string, *Node) {
	return s.fallback, s.cfg.Tag, s.onWindowClosed
}

func (s *replyStep) edges(add func(*Node, string)) {
	add(s.next, "")
	add(s.onWindowClosed, "window closed")
}

const replySchema = `{
  "type": "object",
  "description": "Config of a reply node: exactly one of message, template, interactive, media and location.",
  "additionalProperties": false,
  "properties": {
    "message": {
      "type": "string",
      "description": "A text message. Interpolated.",
      "minLength": 1
    },
    "preview_url": {
      "type": "boolean",
      "default": false,
      "description": "Show a preview of the first URL in message (text messages only)."
    },
    "template": {
      "$ref": "#/$defs/template",
      "description": "Send an approved WhatsApp template (allowed outside the 24-hour window)."
    },
    "interactive": {
      "$ref": "#/$defs/interactive",
      "description": "Send an interactive button or list message."
    },
    "media": {
      "$ref": "#/$defs/media",
      "description": "Send an image, document, audio, video or sticker."
    },
    "location": {
      "$ref": "#/$defs/location",
      "description": "Send a location pin."
    },
    "fallback_template": {
      "$ref": "#/$defs/template",
      "description": "Template sent instead when the WhatsApp 24-hour window is closed; takes precedence over the flow's window_fallback and the bundle's window.fallback_template."
    },
    "on_window_closed": {
      "$ref": "#/$defs/nodeRef",
      "description": "Node to continue at when the window is closed and nothing could be sent (no fallback template applies, or no message tag on Messenger/Instagram). Without it the run continues at next."
    },
    "tag": {
      "type": "string",
      "pattern": "^[A-Z][A-Z_]*$",
      "examples": ["HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "CUSTOMER_FEEDBACK"],
      "description": "Message tag that lets this message out after the 24-hour standard window on the channels that have tags (Messenger: HUMAN_AGENT for 7 days, ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE, POST_PURCHASE_UPDATE, CUSTOMER_FEEDBACK; Instagram: HUMAN_AGENT only). Validation checks it against each channel the flow runs on; WhatsApp ignores it."
    },
    "retry_on_rate_limit": {
      "type": "boolean",
      "default": true,
      "description": "Retry the send with backoff when the channel throttles it. Set false for messages that are useless when late."
    }
  },
  "oneOf": [
    {
      "required": [
        "message"
      ]
    },
    {
      "required": [
        "template"
      ]
    },
    {
      "required": [
        "interactive"
      ]
    },
    {
      "required": [
        "media"
      ]
    },
    {
      "required": [
        "location"
      ]
    }
  ],
  "dependentRequired": {
    "preview_url": [
      "message"
    ]
  },
  "allOf": [
    {
      "if": {
        "required": [
          "template"
        ]
      },
      "then": {
        "properties": {
          "fallback_template": false,
          "on_window_closed": false
        }
      }
    }
  ]
}`
