package bridge

import (
	"errors"
	"sync"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"phonebridge/engine/internal/wire"
)

// rpcTable holds RPC invocations waiting for phonebridge's answer.
type rpcTable struct {
	mu      sync.Mutex
	pending map[string]chan wire.RPCReply
	closed  bool
}

func (t *rpcTable) add(id string) (chan wire.RPCReply, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false
	}
	ch := make(chan wire.RPCReply, 1)
	t.pending[id] = ch
	return ch, true
}

func (t *rpcTable) remove(id string) {
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}

func (t *rpcTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	for id, ch := range t.pending {
		close(ch)
		delete(t.pending, id)
	}
	t.mu.Unlock()
}

func (c *Call) rpcReply(r wire.RPCReply) {
	c.rpc.mu.Lock()
	ch := c.rpc.pending[r.ID]
	delete(c.rpc.pending, r.ID)
	c.rpc.mu.Unlock()
	if ch == nil {
		return // answered too late, or not ours
	}
	ch <- r
}

// registerRPC forwards invocations of method to phonebridge, which answers with an
// RPCReply; the agent gets that answer, or an error if none comes in time.
func (c *Call) registerRPC(room *lksdk.Room, method string) {
	err := room.RegisterRpcMethod(method, func(data lksdk.RpcInvocationData) (string, error) {
		id := data.RequestID
		ch, ok := c.rpc.add(id)
		if !ok {
			return "", lksdk.NewRpcError(lksdk.RpcRecipientDisconnected, "call is ending", nil)
		}
		defer c.rpc.remove(id)
		payload := data.Payload
		c.emit(wire.Event{Type: "rpc", ID: id, Method: method, Identity: data.CallerIdentity, Payload: &payload})
		wait := data.ResponseTimeout - 500*time.Millisecond
		if wait < time.Second {
			wait = 10 * time.Second
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case r, open := <-ch:
			if !open {
				return "", lksdk.NewRpcError(lksdk.RpcRecipientDisconnected, "call ended", nil)
			}
			if r.Error != "" {
				return "", lksdk.NewRpcError(lksdk.RpcApplicationError, r.Error, nil)
			}
			return r.Payload, nil
		case <-timer.C:
			return "", lksdk.NewRpcError(lksdk.RpcResponseTimeout, "phonebridge did not answer in time", nil)
		case <-c.ctx.Done():
			return "", errors.New("call ended")
		}
	})
	if err != nil {
		c.log.Warn("Could not register RPC method", "method", method, "err", err.Error())
	}
}
