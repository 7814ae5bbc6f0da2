//go:build windows

package sshconn

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/sys/windows"
)

// serveAgent serves keyring where Windows' OpenSSH agent does: on a named
// pipe (of its own name, so as not to meet a real agent), and returns the
// pipe's name. The pipe is made with plain CreateNamedPipe and a blocking
// ConnectNamedPipe rather than go-winio's listener, whose overlapped
// accept never completes under Wine 8 (the client side, which the
// provider uses, works there).
func serveAgent(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := `\\.\pipe\rsync-provider-test-agent-` + hex.EncodeToString(b[:])
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		t.Fatal(err)
	}
	newInstance := func() (windows.Handle, error) {
		return windows.CreateNamedPipe(p, windows.PIPE_ACCESS_DUPLEX,
			windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT, windows.PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nil)
	}
	h, err := newInstance() // the first instance exists before a client can dial
	if err != nil {
		t.Fatalf("create pipe %s: %v", name, err)
	}
	var done atomic.Bool
	go func() {
		for {
			err := windows.ConnectNamedPipe(h, nil)
			if done.Load() {
				_ = windows.CloseHandle(h)
				return
			}
			if err != nil && !errors.Is(err, windows.ERROR_PIPE_CONNECTED) {
				_ = windows.CloseHandle(h)
				return
			}
			f := os.NewFile(uintptr(h), name)
			go func() {
				defer f.Close()
				_ = agent.ServeAgent(keyring, f)
			}()
			if h, err = newInstance(); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		done.Store(true)
		// Wake the ConnectNamedPipe waiting for the next client.
		if f, err := os.OpenFile(name, os.O_RDWR, 0); err == nil {
			f.Close()
		}
	})
	return name
}
