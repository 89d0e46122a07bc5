package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Join asks the engine to carry one call: join `URL` with `Token` (minted by TypeScript:
// identity, grants and metadata are its decisions), publish the caller as `Codec`.
type Join struct {
	CallSid string `json:"callSid"`
	URL     string `json:"url"`
	Token   string `json:"token"`
	// Codec is "pcmu" or "pcma": what Twilio sends, published unchanged.
	Codec string `json:"codec"`
	// TrackName of the caller's track ("phone-audio").
	TrackName string `json:"trackName"`
	// CallerLeadMs: how far ahead of real time caller frames may be written before they
	// are paced (absorbs WebSocket jitter without delaying steady audio).
	CallerLeadMs int `json:"callerLeadMs"`
	// JitterMs: how long a gap in the agent's packet sequence is waited for before the
	// decoder conceals it.
	JitterMs int `json:"jitterMs"`
	// RPCMethods the engine registers and forwards as rpc events.
	RPCMethods []string `json:"rpcMethods"`
}

// Validate checks a Join at the edge; the error text goes back to TypeScript.
func (j *Join) Validate() error {
	var problems []string
	if j.CallSid == "" || len(j.CallSid) > 64 {
		problems = append(problems, "callSid must be 1-64 characters")
	}
	if u, err := url.Parse(j.URL); err != nil || !(u.Scheme == "ws" || u.Scheme == "wss" || u.Scheme == "http" || u.Scheme == "https") || u.Host == "" {
		problems = append(problems, "url must be a ws(s):// or http(s):// URL")
	}
	if j.Token == "" || len(j.Token) > 8192 {
		problems = append(problems, "token must be 1-8192 characters")
	}
	if j.Codec != "pcmu" && j.Codec != "pcma" {
		problems = append(problems, `codec must be "pcmu" or "pcma"`)
	}
	if j.TrackName == "" || len(j.TrackName) > 64 {
		problems = append(problems, "trackName must be 1-64 characters")
	}
	if j.CallerLeadMs < 0 || j.CallerLeadMs > 1000 {
		problems = append(problems, "callerLeadMs must be 0-1000")
	}
	if j.JitterMs < 0 || j.JitterMs > 1000 {
		problems = append(problems, "jitterMs must be 0-1000")
	}
	if len(j.RPCMethods) > 8 {
		problems = append(problems, "at most 8 rpcMethods")
	}
	for _, m := range j.RPCMethods {
		if m == "" || len(m) > 64 {
			problems = append(problems, "rpcMethods entries must be 1-64 characters")
			break
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// RPCReply answers an rpc event.
type RPCReply struct {
	ID      string `json:"id"`
	Payload string `json:"payload"`
	Error   string `json:"error,omitempty"`
}

// SetAttrs sets attributes on the caller's participant.
type SetAttrs struct {
	Attributes map[string]string `json:"attributes"`
}

// Event is one engine → TypeScript notification about a call. Type says which fields
// are set; see docs/engine-protocol.md.
type Event struct {
	Type     string         `json:"type"`
	Identity string         `json:"identity,omitempty"`
	SID      string         `json:"sid,omitempty"`
	Room     string         `json:"room,omitempty"`
	Track    string         `json:"track,omitempty"`
	Action   string         `json:"action,omitempty"`
	State    string         `json:"state,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Error    string         `json:"error,omitempty"`
	ID       string         `json:"id,omitempty"`
	Method   string         `json:"method,omitempty"`
	Topic    string         `json:"topic,omitempty"`
	Payload  *string        `json:"payload,omitempty"`
	Digit    string         `json:"digit,omitempty"`
	Code     *uint32        `json:"code,omitempty"`
	Stats    map[string]any `json:"stats,omitempty"`
	// Attributes: the agent's phonebridge.* attributes (agent_joined, agent_attributes).
	Attributes map[string]string `json:"attributes,omitempty"`
}

// DecodeJSON unmarshals a control body strictly: unknown fields are refused so a peer
// speaking another dialect is noticed, not half-understood.
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if dec.More() {
		return errors.New("malformed JSON: trailing data")
	}
	return nil
}
