package bridge

import (
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"phonebridge/engine/internal/wire"
)

// callbacks routes the SDK's room events to the call: the agent's tracks, attributes and
// departure, our own track's subscription (the agent listens), and the connection's fate.
func (c *Call) callbacks() *lksdk.RoomCallback {
	cb := &lksdk.RoomCallback{
		OnParticipantConnected:    c.considerParticipant,
		OnParticipantDisconnected: c.onParticipantDisconnected,
		OnReconnecting:            c.onReconnecting,
		OnReconnected:             c.onReconnected,
		OnDisconnectedWithReason: func(lksdk.DisconnectionReason) {
			c.mu.Lock()
			room := c.room
			c.mu.Unlock()
			reason := livekit.DisconnectReason_UNKNOWN_REASON
			if room != nil {
				reason = room.DisconnectReason()
			}
			if c.ctx.Err() == nil {
				c.emit(wire.Event{Type: "disconnected", Reason: reasonName(reason)})
			}
			c.recovery.close()
			c.cancel()
		},
		OnLocalTrackSubscribed: func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) {
			c.emit(wire.Event{Type: "caller_subscribed", Track: pub.SID()})
		},
	}
	cb.OnTrackPublished = func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if c.isAgent(rp.Identity()) && pub.Kind() == lksdk.TrackKindAudio {
			c.emit(wire.Event{Type: "agent_track", Action: "published", Track: pub.SID()})
			c.subscribe(pub)
		}
	}
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if !c.isAgent(rp.Identity()) || track.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		c.stats.agentTracks.Add(1)
		c.emit(wire.Event{Type: "agent_track", Action: "subscribed", Track: pub.SID()})
		gen := c.agentGen.Add(1)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.readAgent(track, gen)
		}()
	}
	cb.OnTrackUnpublished = func(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if c.isAgent(rp.Identity()) && pub.Kind() == lksdk.TrackKindAudio {
			c.emit(wire.Event{Type: "agent_track", Action: "unpublished", Track: pub.SID()})
		}
	}
	cb.OnTrackMuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		if c.isAgent(p.Identity()) && pub.Kind() == lksdk.TrackKindAudio {
			c.emit(wire.Event{Type: "agent_track", Action: "muted", Track: pub.SID()})
		}
	}
	cb.OnTrackUnmuted = func(pub lksdk.TrackPublication, p lksdk.Participant) {
		if c.isAgent(p.Identity()) && pub.Kind() == lksdk.TrackKindAudio {
			c.emit(wire.Event{Type: "agent_track", Action: "unmuted", Track: pub.SID()})
		}
	}
	cb.OnAttributesChanged = func(changed map[string]string, p lksdk.Participant) {
		if !c.isAgent(p.Identity()) {
			return
		}
		if state, ok := changed[agentStateAttr]; ok {
			c.emit(wire.Event{Type: "agent_state", State: state})
		}
		if mine := ours(changed); len(mine) > 0 {
			c.emit(wire.Event{Type: "agent_attributes", Attributes: mine})
		}
	}
	cb.OnDataPacket = c.onData
	return cb
}
