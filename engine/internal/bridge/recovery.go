package bridge

import (
	"sync"
	"time"

	"phonebridge/engine/internal/wire"
)

// recoveryDrain bounds how long a call that ends mid-reconnect waits for the SDK's
// reconnect worker. The worker's attempt in flight cannot be cancelled (server-sdk-go
// v2.19.0 runs it on context.Background: a 5 s signal connect, then a 3 s validate) and
// it only looks at Close between attempts, so 10 s covers one attempt against one URL
// (self-hosted). Not covered, and left to the bound: an attempt that walks several
// regions (LiveKit Cloud), and the worker's back-off sleep between attempts, which ends
// in no attempt at all. A rejoin that succeeds after Close reports nothing either (the
// SDK skips OnRestarted once closed), so it too waits out the bound.
const recoveryDrain = 10 * time.Second

// recoveryLatch is open while the SDK is reconnecting: from OnReconnecting to
// OnReconnected or the final disconnect. A call must not report `left` while it is open:
// the bridge deletes the room on `left`, and a resume or rejoin still in flight would
// re-create that room on the server (seen here: an empty `call-<sid>` room left behind
// after a reconnect timeout, when the network came back a moment after the hang-up).
type recoveryLatch struct {
	mu   sync.Mutex
	done chan struct{}
}

// open marks a reconnect as started; it reports whether none was running.
func (l *recoveryLatch) open() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return false
	}
	l.done = make(chan struct{})
	return true
}

// close marks the reconnect as over, however it ended.
func (l *recoveryLatch) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		close(l.done)
		l.done = nil
	}
}

func (l *recoveryLatch) running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done != nil
}

// wait returns at once when no reconnect runs, else when it ends or after max; it
// reports whether the reconnect ended and how long that took.
func (l *recoveryLatch) wait(max time.Duration) (bool, time.Duration) {
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	if done == nil {
		return true, 0
	}
	start := time.Now()
	t := time.NewTimer(max)
	defer t.Stop()
	select {
	case <-done:
		return true, time.Since(start)
	case <-t.C:
		return false, time.Since(start)
	}
}

func (c *Call) onReconnecting() {
	if c.recovery.open() {
		c.stats.reconnections.Add(1)
		c.emit(wire.Event{Type: "reconnecting"})
	}
}

func (c *Call) onReconnected() {
	c.recovery.close()
	c.mu.Lock()
	// After a full reconnect the server has forgotten our subscriptions; asking again
	// after a resume is harmless.
	c.requested = map[string]bool{}
	agent, room := c.agent, c.room
	c.mu.Unlock()
	c.emit(wire.Event{Type: "reconnected"})
	if agent == "" || room == nil {
		return
	}
	if rp := room.GetParticipantByIdentity(agent); rp != nil {
		c.considerParticipant(rp)
		return
	}
	c.mu.Lock()
	c.agent = ""
	c.mu.Unlock()
	c.agentGen.Add(1)
	c.emit(wire.Event{Type: "agent_left", Identity: agent, Reason: "gone_after_reconnect"})
}

// awaitRecovery holds the call's end until the SDK's reconnect worker is done with the
// room (see recoveryLatch).
func (c *Call) awaitRecovery() {
	if !c.recovery.running() {
		return
	}
	c.log.Info("Waiting for LiveKit's reconnect attempt in flight before leaving")
	if ended, took := c.recovery.wait(recoveryDrain); ended {
		c.log.Info("LiveKit's reconnect attempt finished; leaving", "waitedMs", took.Milliseconds())
	} else {
		c.log.Warn("LiveKit's reconnect worker did not report its end in time; leaving anyway", "waitedMs", took.Milliseconds())
	}
}
