package bridge

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"phonebridge/engine/internal/g711"
	"phonebridge/engine/internal/logx"
	"phonebridge/engine/internal/onset"
	"phonebridge/engine/internal/wire"
)

const (
	agentStateAttr = "lk.agent.state"
	joinTimeout    = 15 * time.Second
	maxDataPayload = 4096
)

// Call is one phone call's LiveKit leg: a room joined as the caller, the caller's G.711
// published unchanged, the agent's Opus decoded to the same G.711. Everything it starts
// hangs off ctx and is waited for before `left` is reported.
type Call struct {
	id     uint32
	join   wire.Join
	srv    *Server
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	law    g711.Law
	caller *callerPacer
	wg     sync.WaitGroup

	mu     sync.Mutex
	room   *lksdk.Room
	agent  string // identity of the adopted agent, "" until one joins
	closed bool
	seen   map[string]bool
	// agent tracks asked for, so each is requested once per connection
	requested map[string]bool

	agentGen atomic.Uint64
	recovery recoveryLatch
	rpc      rpcTable
	stats    callStats
}

type callStats struct {
	callerBadFrames  atomic.Uint64
	agentPackets     atomic.Uint64
	agentLost        atomic.Uint64
	agentLate        atomic.Uint64
	agentConcealed   atomic.Uint64
	agentDecodeError atomic.Uint64
	agentFrames      atomic.Uint64
	agentDropped     atomic.Uint64
	agentTracks      atomic.Uint64
	reconnections    atomic.Uint64
}

func newCall(parent context.Context, s *Server, id uint32, j wire.Join) *Call {
	ctx, cancel := context.WithCancel(parent)
	law := g711.MuLaw
	if j.Codec == "pcma" {
		law = g711.ALaw
	}
	c := &Call{
		id: id, join: j, srv: s, ctx: ctx, cancel: cancel, law: law,
		log:  s.log.With("callSid", j.CallSid, "callId", id),
		seen: map[string]bool{}, requested: map[string]bool{},
	}
	c.caller = newCallerPacer(time.Duration(j.CallerLeadMs) * time.Millisecond)
	c.rpc.pending = map[string]chan wire.RPCReply{}
	return c
}

// Leave ends the call: the room is left and `left` follows once everything stopped.
func (c *Call) Leave() { c.cancel() }

func (c *Call) emit(ev wire.Event) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		c.srv.emit(c.id, ev)
	}
}

// problem logs a bad message once per kind for this call; later ones are only counted.
func (c *Call) problem(kind, msg string, kv ...any) {
	c.mu.Lock()
	seen := c.seen[kind]
	c.seen[kind] = true
	c.mu.Unlock()
	if !seen {
		c.log.Warn(msg+"; further ones are not logged", kv...)
	}
}

func (c *Call) run() {
	defer c.finish()
	// Deferred calls run last first: leave the room, let a reconnect in flight end, finish.
	defer c.awaitRecovery()
	room := lksdk.NewRoom(c.callbacks())
	c.mu.Lock()
	c.room = room
	c.mu.Unlock()
	defer room.Disconnect()

	joinCtx, cancel := context.WithTimeout(c.ctx, joinTimeout)
	err := room.JoinWithContextAndToken(joinCtx, c.join.URL, c.join.Token,
		lksdk.WithAutoSubscribe(false),
		lksdk.WithLogger(logx.ForSDK(c.log, c.srv.opts.SDKLogLevel)),
	)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.emit(wire.Event{Type: "join_failed", Error: err.Error()})
		}
		return
	}
	c.emit(wire.Event{Type: "joined", Room: room.Name(), Identity: room.LocalParticipant.Identity(), SID: room.LocalParticipant.SID()})

	mime := webrtc.MimeTypePCMU
	if c.law == g711.ALaw {
		mime = webrtc.MimeTypePCMA
	}
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 8000, Channels: 1})
	if err == nil {
		var pub *lksdk.LocalTrackPublication
		pub, err = room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: c.join.TrackName, Source: livekit.TrackSource_MICROPHONE})
		if err == nil {
			c.emit(wire.Event{Type: "published", Track: pub.SID()})
		}
	}
	if err != nil {
		if c.ctx.Err() == nil {
			c.emit(wire.Event{Type: "join_failed", Error: "publishing the caller's track: " + err.Error()})
		}
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.caller.run(c.ctx, track, c.traceCaller())
	}()
	for _, m := range c.join.RPCMethods {
		c.registerRPC(room, m)
	}
	for _, rp := range room.GetRemoteParticipants() {
		c.considerParticipant(rp)
	}
	<-c.ctx.Done()
}

func (c *Call) finish() {
	c.cancel()
	c.wg.Wait()
	c.rpc.closeAll()
	stats := map[string]any{
		"callerFramesIn":      c.caller.received.Load(),
		"callerFramesWritten": c.caller.written.Load(),
		"callerFramesDropped": c.caller.dropped.Load(),
		"callerMaxQueued":     c.caller.maxQueued.Load(),
		"callerBadFrames":     c.stats.callerBadFrames.Load(),
		"agentPackets":        c.stats.agentPackets.Load(),
		"agentLostPackets":    c.stats.agentLost.Load(),
		"agentLatePackets":    c.stats.agentLate.Load(),
		"agentConcealed":      c.stats.agentConcealed.Load(),
		"agentDecodeErrors":   c.stats.agentDecodeError.Load(),
		"agentFrames":         c.stats.agentFrames.Load(),
		"agentFramesDropped":  c.stats.agentDropped.Load(),
		"agentTracks":         c.stats.agentTracks.Load(),
		"reconnections":       c.stats.reconnections.Load(),
	}
	c.srv.emit(c.id, wire.Event{Type: "left", Stats: stats})
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

func (c *Call) isAgent(identity string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agent != "" && c.agent == identity
}

// considerParticipant adopts the first agent-kind participant and subscribes to its
// audio; the same agent seen again (after a reconnect) is re-subscribed, not re-announced.
func (c *Call) considerParticipant(rp *lksdk.RemoteParticipant) {
	if rp.Kind() != lksdk.ParticipantAgent {
		return
	}
	c.mu.Lock()
	if c.agent != "" && c.agent != rp.Identity() {
		c.mu.Unlock()
		return
	}
	fresh := c.agent == ""
	c.agent = rp.Identity()
	c.mu.Unlock()
	if fresh {
		c.emit(wire.Event{Type: "agent_joined", Identity: rp.Identity(), SID: rp.SID(), Attributes: ours(rp.Attributes())})
	}
	for _, pub := range rp.TrackPublications() {
		if rpub, ok := pub.(*lksdk.RemoteTrackPublication); ok && pub.Kind() == lksdk.TrackKindAudio {
			c.subscribe(rpub)
		}
	}
}

func (c *Call) subscribe(pub *lksdk.RemoteTrackPublication) {
	c.mu.Lock()
	already := c.requested[pub.SID()]
	c.requested[pub.SID()] = true
	c.mu.Unlock()
	if already {
		return
	}
	if err := pub.SetSubscribed(true); err != nil {
		c.log.Warn("Could not subscribe to the agent's audio", "track", pub.SID(), "err", err.Error())
	}
}

func (c *Call) onParticipantDisconnected(rp *lksdk.RemoteParticipant) {
	reason := rp.DisconnectReason()
	c.mu.Lock()
	if c.agent == "" || c.agent != rp.Identity() {
		c.mu.Unlock()
		return
	}
	// A full reconnect drops every remote participant locally (with no reason) before
	// rejoining; the agent is still in the room, and onReconnected checks.
	if c.recovery.running() && reason == livekit.DisconnectReason_UNKNOWN_REASON {
		c.mu.Unlock()
		return
	}
	c.agent = ""
	c.mu.Unlock()
	c.agentGen.Add(1)
	c.emit(wire.Event{Type: "agent_left", Identity: rp.Identity(), Reason: reasonName(reason)})
}

func (c *Call) onData(data lksdk.DataPacket, params lksdk.DataReceiveParams) {
	// From the agent, or from the server API (no sender: the agent's worker speaking for a
	// job process that died); other participants' data is not the bridge's business.
	if params.SenderIdentity != "" && !c.isAgent(params.SenderIdentity) {
		return
	}
	switch p := data.(type) {
	case *lksdk.UserDataPacket:
		payload := p.Payload
		if len(payload) > maxDataPayload {
			payload = payload[:maxDataPayload]
		}
		s := string(payload)
		c.emit(wire.Event{Type: "data", Topic: p.Topic, Payload: &s, Identity: params.SenderIdentity})
	case *livekit.SipDTMF:
		code := p.Code
		c.emit(wire.Event{Type: "dtmf", Digit: p.Digit, Code: &code, Identity: params.SenderIdentity})
	}
}

// ours keeps the attributes addressed to phonebridge (`phonebridge.*`), at most 16.
func ours(attrs map[string]string) map[string]string {
	var out map[string]string
	for k, v := range attrs {
		if !strings.HasPrefix(k, "phonebridge.") || len(out) >= 16 {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		if len(v) > 256 {
			v = v[:256]
		}
		out[k] = v
	}
	return out
}

// reasonName turns a protocol disconnect reason into the lower-case name phonebridge
// matches on ("room_deleted", "server_shutdown", ...).
func reasonName(r livekit.DisconnectReason) string {
	return strings.ToLower(r.String())
}

// traceCaller logs when a probe burst of the caller's audio goes out as RTP (see onset).
func (c *Call) traceCaller() func(*frame) {
	if !onset.Enabled {
		return nil
	}
	var d onset.Detector
	return func(f *frame) {
		if d.Feed(int(c.law.Peak(f[:]))) {
			onset.Log(c.log, "engine.rtp_out")
		}
	}
}
