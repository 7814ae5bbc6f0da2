package bench

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Handshake is what one SSH connection negotiated, read off the plaintext
// start of the stream (RFC 4253 §4.2 version exchange, §7.1 KEXINIT): each
// algorithm is the first on the client's list that the server also lists.
type Handshake struct {
	Client, Server string // identification strings, "SSH-2.0-..."
	Kex            string
	CipherC2S      string
	CipherS2C      string
	MACC2S         string // "<implicit>" for AEAD ciphers
	MACS2C         string
}

// Summary is the cipher (and MAC, when separate) in one line.
func (h Handshake) Summary() string {
	if h.CipherC2S == "" {
		return "unknown"
	}
	s := h.CipherC2S
	if h.CipherS2C != h.CipherC2S {
		s += " / " + h.CipherS2C
	}
	if h.MACC2S != "<implicit>" {
		s += " + " + h.MACC2S
	}
	return s + " (kex " + h.Kex + ")"
}

// maxSniff bounds what a sniffer keeps: a KEXINIT is at most a few kB.
const maxSniff = 64 << 10

// sniffer collects the first bytes of one direction until it has the
// identification string and the KEXINIT packet (or gives up).
type sniffer struct {
	buf     []byte
	done    bool
	version string
	lists   [][]string // the KEXINIT name-lists, in order
}

// feed adds bytes seen on the wire; done is true once the sniffer needs no
// more.
func (s *sniffer) feed(p []byte) {
	if s.done {
		return
	}
	s.buf = append(s.buf, p...)
	if s.parse() || len(s.buf) >= maxSniff {
		s.done = true
		s.buf = nil
	}
}

// parse tries to read the version line and KEXINIT from buf.
func (s *sniffer) parse() bool {
	rest := s.buf
	// A server may send other lines before its identification (§4.2).
	for range 32 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return false
		}
		line := strings.TrimRight(string(rest[:i]), "\r")
		rest = rest[i+1:]
		if strings.HasPrefix(line, "SSH-") {
			s.version = line
			break
		}
	}
	if s.version == "" || len(rest) < 6 {
		return false
	}
	plen := binary.BigEndian.Uint32(rest)
	if plen > maxSniff {
		return true // not a KEXINIT we can read: give up
	}
	if uint32(len(rest)-4) < plen {
		return false
	}
	pad := uint32(rest[4])
	if pad+1 > plen {
		return true
	}
	payload := rest[5 : 4+plen-pad]
	const msgKexinit = 20
	if len(payload) < 17 || payload[0] != msgKexinit {
		return true
	}
	p := payload[17:]
	for range 10 {
		if len(p) < 4 {
			return true
		}
		n := binary.BigEndian.Uint32(p)
		if uint32(len(p)-4) < n {
			return true
		}
		s.lists = append(s.lists, strings.Split(string(p[4:4+n]), ","))
		p = p[4+n:]
	}
	return true
}

// negotiate combines both directions' KEXINITs into what was agreed.
func negotiate(client, server *sniffer) Handshake {
	h := Handshake{Client: client.version, Server: server.version}
	if len(client.lists) < 6 || len(server.lists) < 6 {
		return h
	}
	first := func(i int) string {
		for _, a := range client.lists[i] {
			for _, b := range server.lists[i] {
				if a == b {
					return a
				}
			}
		}
		return ""
	}
	h.Kex, h.CipherC2S, h.CipherS2C = first(0), first(2), first(3)
	h.MACC2S, h.MACS2C = first(4), first(5)
	aead := func(c string) bool {
		return strings.Contains(c, "gcm") || strings.HasPrefix(c, "chacha20-poly1305")
	}
	if aead(h.CipherC2S) {
		h.MACC2S = "<implicit>"
	}
	if aead(h.CipherS2C) {
		h.MACS2C = "<implicit>"
	}
	return h
}
