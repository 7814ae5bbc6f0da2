package bench

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGenerateWebRootIsDeterministic(t *testing.T) {
	spec := WebRootSpec{Seed: 7, Files: 60, Size: 3e6}
	a, err := GenerateWebRoot(t.Context(), filepath.Join(t.TempDir(), "a"), spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateWebRoot(t.Context(), filepath.Join(t.TempDir(), "b"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.Bytes != spec.Size || len(a.Files) != spec.Files {
		t.Errorf("got %d files, %d bytes; want %d, %d", len(a.Files), a.Bytes, spec.Files, spec.Size)
	}
	var all []string
	for _, f := range a.Files {
		all = append(all, f.Path)
	}
	if err := CompareTrees(a.Root, b.Root, all); err != nil {
		t.Fatal(err)
	}
	a.Root, b.Root = "", ""
	if !reflect.DeepEqual(a, b) {
		t.Error("two generations of one spec describe different trees")
	}
}

func TestMutateEditsACopyOnly(t *testing.T) {
	dir := t.TempDir()
	base, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "base"), WebRootSpec{Seed: 3, Files: 200, Size: 4e6})
	if err != nil {
		t.Fatal(err)
	}
	pristine, err := GenerateWebRoot(t.Context(), filepath.Join(dir, "pristine"), WebRootSpec{Seed: 3, Files: 200, Size: 4e6})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Mutate(t.Context(), base, filepath.Join(dir, "edited"), MutationSpec{Seed: 4, Fraction: 0.01, BigEdit: 31})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Edited) != 2 { // 1% of 195 small files, rounded
		t.Errorf("edited %d files, want 2", len(m.Edited))
	}
	var all []string
	for _, f := range base.Files {
		all = append(all, f.Path)
	}
	if err := CompareTrees(pristine.Root, base.Root, all); err != nil {
		t.Fatalf("the base tree changed: %v", err)
	}
	old, err := os.ReadFile(filepath.Join(base.Root, base.Big))
	if err != nil {
		t.Fatal(err)
	}
	edited, err := os.ReadFile(filepath.Join(m.Root, base.Big))
	if err != nil {
		t.Fatal(err)
	}
	var diff []int
	for i := range old {
		if old[i] != edited[i] {
			diff = append(diff, i)
		}
	}
	if len(diff) != 31 || int64(diff[0]) != m.BigOffset || diff[30] != diff[0]+30 || len(old) != len(edited) {
		t.Errorf("big file: %d bytes differ from %v (offset %d), want 31 contiguous at the middle", len(diff), diff[:min(len(diff), 3)], m.BigOffset)
	}
	err = CompareTrees(base.Root, m.Root, nil)
	if err == nil || !strings.Contains(err.Error(), "mtime") {
		t.Errorf("edited files should show as changed (mtime bumped), got %v", err)
	}
}

func TestProxyCountsBytes(t *testing.T) {
	echo := startEcho(t)
	p, err := StartProxy(t.Context(), echo, Link{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	roundTrip(t, p.Port(), payload)
	if err := p.WaitIdle(t.Context()); err != nil {
		t.Fatal(err)
	}
	up, down := p.Counters()
	if up != int64(len(payload)) || down != int64(len(payload)) {
		t.Errorf("counted %d up, %d down; want %d each", up, down, len(payload))
	}
}

func TestProxyShapesRateAndDelay(t *testing.T) {
	echo := startEcho(t)
	const rate = 40e6 // bits/s
	delay := 15 * time.Millisecond
	p, err := StartProxy(t.Context(), echo, Link{BitsPerSec: rate, Delay: delay})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Every measurement must reach what the shaping imposes; the upper
	// bounds apply to the fastest of several, since a loaded machine's
	// scheduling only ever adds time (one slow run is no fault of the
	// proxy's).
	const runs = 5

	// Latency: one small round trip crosses the delay twice.
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(p.Port())))
	if err != nil {
		t.Fatal(err)
	}
	fastest := time.Duration(math.MaxInt64)
	for range runs {
		start := time.Now()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		if rtt < 2*delay {
			t.Errorf("round trip %v, less than the delay of %v", rtt, 2*delay)
		}
		fastest = min(fastest, rtt)
	}
	if fastest > 2*delay+40*time.Millisecond {
		t.Errorf("fastest round trip of %d took %v, want about %v", runs, fastest, 2*delay)
	}
	c.Close()

	// Throughput: 1 MB each way at 40 Mbit/s takes 0.2 s (the directions
	// run in parallel), plus the delay.
	payload := bytes.Repeat([]byte{0xa5}, 1e6)
	want := time.Duration(float64(len(payload)*8)/rate*float64(time.Second)) + 2*delay
	fastest = time.Duration(math.MaxInt64)
	for range runs {
		start := time.Now()
		roundTrip(t, p.Port(), payload)
		took := time.Since(start)
		if took < want*9/10 {
			t.Errorf("1 MB round trip took %v, less than the %v the rate allows", took, want)
		}
		fastest = min(fastest, took)
	}
	if fastest > want*2 {
		t.Errorf("fastest 1 MB round trip of %d took %v, want about %v", runs, fastest, want)
	}
}

func TestSnifferNegotiates(t *testing.T) {
	client := kexinitStream("SSH-2.0-Go", []string{"curve25519-sha256", "ext-info-c"}, []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com"}, []string{"hmac-sha2-256"})
	server := kexinitStream("SSH-2.0-OpenSSH_9.2", []string{"sntrup761x25519-sha512", "curve25519-sha256"}, []string{"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"}, []string{"hmac-sha2-256"})
	var cs, ss sniffer
	// Fed in small pieces, as TCP may deliver them.
	for i := 0; i < len(client); i += 7 {
		cs.feed(client[i:min(i+7, len(client))])
	}
	ss.feed(append([]byte("a banner line\r\n"), server...))
	h := negotiate(&cs, &ss)
	want := Handshake{Client: "SSH-2.0-Go", Server: "SSH-2.0-OpenSSH_9.2", Kex: "curve25519-sha256",
		CipherC2S: "aes128-gcm@openssh.com", CipherS2C: "aes128-gcm@openssh.com", MACC2S: "<implicit>", MACS2C: "<implicit>"}
	if h != want {
		t.Errorf("negotiated %+v, want %+v", h, want)
	}
}

func TestParseStats(t *testing.T) {
	out := "\nNumber of files: 10,062 (reg: 10,000, dir: 62)\nNumber of regular files transferred: 101\nLiteral data: 1,234,567 bytes\n" +
		"Matched data: 99,000 bytes\nTotal bytes sent: 1,240,001\nTotal bytes received: 9,876\n\nsent 1,240,001 bytes  received 9,876 bytes\n"
	st, err := parseStats(out)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]int64{"Total bytes sent": 1240001, "Literal data": 1234567, "Matched data": 99000, "Number of regular files transferred": 101} {
		if st[k] != v {
			t.Errorf("%s = %d, want %d", k, st[k], v)
		}
	}
}

func TestParseUnits(t *testing.T) {
	for in, want := range map[string]int64{"400MB": 400e6, "100MiB": 100 << 20, "20k": 20e3, "1048576": 1 << 20, "1.5GB": 15e8} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if got, err := ParseRate("100Mbit"); err != nil || got != 100e6 {
		t.Errorf("ParseRate(100Mbit) = %d, %v", got, err)
	}
	if _, err := ParseSize("ten"); err == nil {
		t.Error("ParseSize(ten) succeeded")
	}
}

// startEcho runs a TCP echo server on 127.0.0.1 for the test.
func startEcho(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return l.Addr().String()
}

// roundTrip sends payload through the proxy to the echo server, half-closes,
// and reads it all back.
func roundTrip(t *testing.T, port int, payload []byte) {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo returned %d bytes, want the %d sent", len(got), len(payload))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// kexinitStream is a version line and an unencrypted KEXINIT packet.
func kexinitStream(version string, kex, ciphers, macs []string) []byte {
	var p bytes.Buffer
	p.WriteByte(20)
	p.Write(make([]byte, 16))
	lists := [][]string{kex, {"ssh-ed25519"}, ciphers, ciphers, macs, macs, {"none"}, {"none"}, {}, {}}
	for _, l := range lists {
		s := strings.Join(l, ",")
		_ = binary.Write(&p, binary.BigEndian, uint32(len(s)))
		p.WriteString(s)
	}
	p.Write([]byte{0, 0, 0, 0, 0})
	pad := 8 - (p.Len()+5)%8 + 4
	var pkt bytes.Buffer
	_ = binary.Write(&pkt, binary.BigEndian, uint32(p.Len()+pad+1))
	pkt.WriteByte(byte(pad))
	pkt.Write(p.Bytes())
	pkt.Write(make([]byte, pad))
	return append([]byte(version+"\r\n"), pkt.Bytes()...)
}
