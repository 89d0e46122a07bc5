package bridge

import (
	"testing"
	"time"
)

func TestRecoveryLatchWithoutReconnectDoesNotWait(t *testing.T) {
	var l recoveryLatch
	if ended, took := l.wait(time.Hour); !ended || took != 0 {
		t.Fatalf("wait with no reconnect = %v, %v; want true, 0", ended, took)
	}
}

func TestRecoveryLatchHoldsUntilTheReconnectEnds(t *testing.T) {
	var l recoveryLatch
	if !l.open() {
		t.Fatal("first open should start a reconnect")
	}
	if l.open() {
		t.Fatal("a second open during the same reconnect must not count as a new one")
	}
	released := make(chan bool)
	go func() {
		ended, _ := l.wait(time.Hour)
		released <- ended
	}()
	select {
	case <-released:
		t.Fatal("wait returned while the reconnect was still running")
	case <-time.After(50 * time.Millisecond):
	}
	l.close()
	if !<-released {
		t.Fatal("wait should report that the reconnect ended")
	}
	if l.running() {
		t.Fatal("latch still running after close")
	}
	l.close() // a second end (reconnected, then disconnected) is harmless
	if !l.open() {
		t.Fatal("a later reconnect should open the latch again")
	}
}

func TestRecoveryLatchGivesUpAfterItsBound(t *testing.T) {
	var l recoveryLatch
	l.open()
	if ended, _ := l.wait(10 * time.Millisecond); ended {
		t.Fatal("wait should time out while the reconnect never ends")
	}
	if !l.running() {
		t.Fatal("timing out must not close the latch for others")
	}
}
