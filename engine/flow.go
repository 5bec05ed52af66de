package engine

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Flow is one flow file as written: a graph of nodes and the triggers that enter it.
type Flow struct {
	Name           string          `yaml:"name"`
	Version        string          `yaml:"version"`
	Description    string          `yaml:"description"`
	Channels       []string        `yaml:"channels"`
	Start          string          `yaml:"start"`
	Vars           map[string]any  `yaml:"vars"`
	WindowFallback *TemplateConfig `yaml:"window_fallback"`
	Nodes          []*Node         `yaml:"nodes"`
	Triggers       []*Trigger      `yaml:"triggers"`

	// File is the path the flow was read from, as given to ParseFlow.
	File string `yaml:"-"`

	root     *yaml.Node       // the document, for positions
	src      []byte           // the file's text, for positions inside block scalars
	index    map[string]*Node // nodes by id
	fallback *fallback        // compiled WindowFallback
}

// Node is one step of a flow. Config is decoded by type into one of the *Config types.
type Node struct {
	ID     string    `yaml:"id"`
	Type   string    `yaml:"type"`
	Next   string    `yaml:"next"`
	Config yaml.Node `yaml:"config"`

	flow *Flow
	path string     // flow/node, as traces name it
	y    *yaml.Node // the node's mapping, for positions
	step step       // the decoded and compiled config
}

// Trigger says where an inbound event enters a flow when the conversation is not waiting.
type Trigger struct {
	Type       string   `yaml:"type"`
	Keywords   []string `yaml:"keywords"`
	Pattern    string   `yaml:"pattern"`
	Expression string   `yaml:"expression"`
	IDs        []string `yaml:"ids"`
	Target     string   `yaml:"target"`
	Priority   int      `yaml:"priority"`
	Interrupt  bool     `yaml:"interrupt"`

	y *yaml.Node
}

// TemplateConfig names an approved WhatsApp template and its parameters, in WhatsApp's shape.
type TemplateConfig struct {
	Name       string            `yaml:"name"`
	Language   string            `yaml:"language"`
	Components []ComponentConfig `yaml:"components"`
}

// ComponentConfig is a template component.
type ComponentConfig struct {
	Type       string            `yaml:"type"`
	SubType    string            `yaml:"sub_type"`
	Index      int               `yaml:"index"`
	Parameters []ParameterConfig `yaml:"parameters"`
}

// ParameterConfig is a template parameter.
type ParameterConfig struct {
	Type          string          `yaml:"type"`
	ParameterName string          `yaml:"parameter_name"`
	Text          string          `yaml:"text"`
	Payload       string          `yaml:"payload"`
	Image         *MediaRef       `yaml:"image"`
	Video         *MediaRef       `yaml:"video"`
	Document      *MediaRef       `yaml:"document"`
	Location      *LocationConfig `yaml:"location"`
	Currency      *CurrencyConfig `yaml:"currency"`
	DateTime      *DateTimeConfig `yaml:"date_time"`
}

// MediaRef points at media by link or uploaded id.
type MediaRef struct {
	Link     string `yaml:"link"`
	ID       string `yaml:"id"`
	Filename string `yaml:"filename"`
}

// CurrencyConfig is a currency template parameter.
type CurrencyConfig struct {
	FallbackValue string `yaml:"fallback_value"`
	Code          string `yaml:"code"`
	Amount1000    int64  `yaml:"amount_1000"`
}

// DateTimeConfig is a date_time template parameter.
type DateTimeConfig struct {
	FallbackValue string `yaml:"fallback_value"`
}

// InteractiveConfig is an interactive button or list message, in WhatsApp's shape.
type InteractiveConfig struct {
	Type   string        `yaml:"type"`
	Header *HeaderConfig `yaml:"header"`
	Body   TextConfig    `yaml:"body"`
	Footer *TextConfig   `yaml:"footer"`
	Action ActionConfig  `yaml:"action"`
}

// HeaderConfig is an interactive message's header.
type HeaderConfig struct {
	Type     string    `yaml:"type"`
	Text     string    `yaml:"text"`
	Image    *MediaRef `yaml:"image"`
	Video    *MediaRef `yaml:"video"`
	Document *MediaRef `yaml:"document"`
}

// TextConfig is a {text: ...} object.
type TextConfig struct {
	Text string `yaml:"text"`
}

// ActionConfig holds an interactive message's buttons or list sections.
type ActionConfig struct {
	Button   string          `yaml:"button"`
	Buttons  []ButtonConfig  `yaml:"buttons"`
	Sections []SectionConfig `yaml:"sections"`
}

// ButtonConfig is a reply button.
type ButtonConfig struct {
	Type  string `yaml:"type"`
	Reply struct {
		ID    string `yaml:"id"`
		Title string `yaml:"title"`
	} `yaml:"reply"`
}

// SectionConfig is a titled group of list rows.
type SectionConfig struct {
	Title string      `yaml:"title"`
	Rows  []RowConfig `yaml:"rows"`
}

// RowConfig is one list row.
type RowConfig struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
}

// MediaConfig is a media message.
type MediaConfig struct {
	Type     string `yaml:"type"`
	Link     string `yaml:"link"`
	ID       string `yaml:"id"`
	Caption  string `yaml:"caption"`
	Filename string `yaml:"filename"`
}

// LocationConfig is a location message.
type LocationConfig struct {
	Latitude  float64 `yaml:"latitude"`
	Longitude float64 `yaml:"longitude"`
	Name      string  `yaml:"name"`
	Address   string  `yaml:"address"`
}

// Template is one approved template as listed in templates.yaml.
type Template struct {
	Name           string   `yaml:"name"`
	Language       string   `yaml:"language"`
	Category       string   `yaml:"category"`
	Header         string   `yaml:"header"`
	BodyParameters int      `yaml:"body_parameters"`
	Buttons        []string `yaml:"buttons"`

	File string `yaml:"-"`
	Pos  Pos    `yaml:"-"`
}

// Settings are the bundle-wide settings of bundle.yaml that the engine applies.
type Settings struct {
	WindowMargin       time.Duration
	FallbackTemplate   *TemplateConfig
	OptOutKeywords     []string
	OptOutConfirmation string
	OptInKeywords      []string
	SessionTimeout     time.Duration
	MaxSteps           int
	DefaultFlow        string // flow started for messages no trigger matches; empty for none
	// Hold keeps the free-form messages that a closed window stopped after the event's
	// fallback (window.hold): at most HoldMessages, the latest, each for HoldFor, delivered
	// when the user's next message opens the window.
	Hold         bool
	HoldMessages int
	HoldFor      time.Duration
	// MaxVarDepth and MaxVarBytes bound one conversation variable (limits.var_depth and
	// limits.var_bytes): how deep its lists and maps nest, and how many bytes it takes in the
	// stored state. Zero means the default; the depth is never more than MaxVarDepthLimit.
	MaxVarDepth int
	MaxVarBytes int
	// MaxExprTime is how long one expression may run (limits.expr_time); MaxExprMemory how
	// many bytes of strings and lists the expressions of one event may build
	// (limits.expr_memory). An expression over either ends the event's run. Zero: the default.
	MaxExprTime   time.Duration
	MaxExprMemory int
	// MaxValueLength is the most characters one {{ }} value may bring into a message, URL,
	// header or body (limits.value_length): a longer one is cut, and an http node fails.
	MaxValueLength int
	// MaxTextParts is how many messages one text may become where the channel splits long
	// texts (limits.text_parts): a longer text is cut to fit. Zero: the default.
	MaxTextParts int
}

// Defaults and bounds of the variable limits.
const (
	DefaultMaxVarDepth = 32
	DefaultMaxVarBytes = 64 << 10
	// MaxVarDepthLimit is the deepest nesting the state format stores.
	MaxVarDepthLimit = maxDepth
)

// DefaultSettings returns the settings a bundle has when bundle.yaml says nothing.
func DefaultSettings() Settings {
	return Settings{
		OptOutKeywords:     []string{"STOP", "UNSUBSCRIBE", "BERHENTI"},
		OptOutConfirmation: "You have been unsubscribed and will get no more messages. Send START to subscribe again.",
		OptInKeywords:      []string{"START", "SUBSCRIBE"},
		SessionTimeout:     24 * time.Hour,
		MaxSteps:           100,
		Hold:               true,
		HoldMessages:       10,
		HoldFor:            7 * 24 * time.Hour,
		MaxVarDepth:        DefaultMaxVarDepth,
		MaxVarBytes:        DefaultMaxVarBytes,
		MaxExprTime:        DefaultExprTime,
		MaxExprMemory:      DefaultExprMemory,
		MaxValueLength:     DefaultValueLength,
		MaxTextParts:       DefaultTextParts,
	}
}

// FormatDuration writes d as flows, bundle.yaml and test cases write durations, without zero
// minutes and seconds: 24h rather than 24h0m0s, 6m, 1h30m, 10s.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
