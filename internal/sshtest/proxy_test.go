package sshtest

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// sink accepts connections and records what each sends.
func sink(t *testing.T) (addr string, got chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan []byte, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b, _ := io.ReadAll(c)
				c.Close()
				got <- b
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestProxyCutAt: exactly n bytes get through before the cut, only on a
// connection accepted after arming; later connections pass untouched.
func TestProxyCutAt(t *testing.T) {
	addr, got := sink(t)
	p := StartProxy(t, addr)
	data := bytes.Repeat([]byte("0123456789"), 10000) // 100,000 bytes, several reads

	fired := p.CutAt(ToTarget, 54321)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_, werr := c.Write(data)
	c.Close()
	b := <-got
	if len(b) != 54321 || !bytes.Equal(b, data[:54321]) {
		t.Fatalf("%d bytes got through before the cut, want 54321 (write error: %v)", len(b), werr)
	}
	if !fired() {
		t.Fatal("trigger did not report firing")
	}

	c, err = net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; len(b) != len(data) {
		t.Fatalf("a connection after the cut forwarded %d bytes, want all %d", len(b), len(data))
	}
	if p.Forwarded(ToTarget) != int64(54321+len(data)) {
		t.Errorf("Forwarded = %d", p.Forwarded(ToTarget))
	}
}

// TestProxyAtAndRate: an action runs at its byte count with forwarding
// held until it returns, and SetRate slows forwarding down.
func TestProxyAtAndRate(t *testing.T) {
	addr, got := sink(t)
	p := StartProxy(t, addr)
	var seen int64 = -1
	p.At(ToTarget, 1000, func(c *ProxyConn) { seen = c.Forwarded(ToTarget) })
	p.SetRate(200 << 10) // 200 KiB/s: 100 KB take about half a second
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Write(make([]byte, 100000)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if b := <-got; len(b) != 100000 {
		t.Fatalf("got %d bytes", len(b))
	}
	if seen != 1000 {
		t.Errorf("action saw %d bytes forwarded, want 1000", seen)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("100 KB at 200 KiB/s took %v", d)
	}
}
