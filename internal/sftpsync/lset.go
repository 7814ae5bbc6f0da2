package sftpsync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync"
)

// github.com/pkg/sftp has no call for OpenSSH's lsetstat@openssh.com
// (setstat that does not follow a symlink), which is how a symlink gets
// its own mtime over SFTP, as rsync -a gives it. This is the least of the
// SFTP protocol (draft-ietf-secsh-filexfer-02) that sends it, on a
// session of its own: init, then one extended request at a time.

const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpStatus   = 101
	fxpExtended = 200

	attrACModTime = 0x00000008
	// maxRawPacket bounds a reply: a status or a version with its
	// extension list is far smaller.
	maxRawPacket = 256 << 10
)

// rawSFTP is a second SFTP session that only sends lsetstat.
type rawSFTP struct {
	mu   sync.Mutex
	p    rsync.Process
	next uint32
}

// newRawSFTP starts the session: init and version.
func newRawSFTP(p rsync.Process) (*rawSFTP, error) {
	r := &rawSFTP{p: p, next: 1}
	go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
	if err := writePacket(p.Stdin(), fxpInit, binary.BigEndian.AppendUint32(nil, 3)); err != nil {
		return nil, err
	}
	typ, payload, err := readPacket(p.Stdout())
	if err != nil {
		return nil, err
	}
	if typ != fxpVersion || len(payload) < 4 {
		return nil, fmt.Errorf("sftp: expected a version packet, got type %d", typ)
	}
	return r, nil
}

// lsetstat sets the mtime (and atime) of p itself, not of what it points to.
func (r *rawSFTP) lsetstat(p string, mtime time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.next
	r.next++
	b := binary.BigEndian.AppendUint32(nil, id)
	b = appendString(b, "lsetstat@openssh.com")
	b = appendString(b, p)
	b = binary.BigEndian.AppendUint32(b, attrACModTime)
	t := uint32(mtime.Unix()) //nolint:gosec // SFTP v3 times are 32-bit
	b = binary.BigEndian.AppendUint32(b, t)
	b = binary.BigEndian.AppendUint32(b, t)
	if err := writePacket(r.p.Stdin(), fxpExtended, b); err != nil {
		return err
	}
	typ, payload, err := readPacket(r.p.Stdout())
	if err != nil {
		return err
	}
	if typ != fxpStatus {
		return fmt.Errorf("sftp: lsetstat: expected a status packet, got type %d", typ)
	}
	gotID, code, msg, err := parseStatus(payload)
	if err != nil {
		return err
	}
	if gotID != id {
		return fmt.Errorf("sftp: lsetstat: reply to request %d, expected %d", gotID, id)
	}
	if code != 0 {
		return fmt.Errorf("sftp: lsetstat %s: status %d: %s", p, code, msg)
	}
	return nil
}

func (r *rawSFTP) close() {
	_ = r.p.Kill()
	_, _ = r.p.Wait()
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s))) //nolint:gosec // paths are bounded by maxPathLen
	return append(b, s...)
}

func writePacket(w io.Writer, typ byte, payload []byte) error {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 5+len(payload)), uint32(1+len(payload))) //nolint:gosec // small
	b = append(b, typ)
	b = append(b, payload...)
	_, err := w.Write(b)
	return err
}

var errMalformed = errors.New("sftp: malformed packet")

// readPacket reads one packet, checking its length before allocating.
func readPacket(r io.Reader) (byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("sftp: read packet: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 1 || n > maxRawPacket {
		return 0, nil, fmt.Errorf("%w: length %d", errMalformed, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, fmt.Errorf("sftp: read packet: %w", err)
	}
	return buf[0], buf[1:], nil
}

// parseStatus decodes a status packet's payload: id, code, message
// (and a language tag, ignored).
func parseStatus(b []byte) (id, code uint32, msg string, err error) {
	if len(b) < 8 {
		return 0, 0, "", fmt.Errorf("%w: status of %d bytes", errMalformed, len(b))
	}
	id, code = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	b = b[8:]
	if len(b) == 0 {
		return id, code, "", nil // SFTP v3 servers before 3 may omit the text
	}
	if len(b) < 4 {
		return 0, 0, "", fmt.Errorf("%w: truncated status message", errMalformed)
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return 0, 0, "", fmt.Errorf("%w: status message of %d bytes in %d", errMalformed, n, len(b)-4)
	}
	return id, code, string(b[4 : 4+n]), nil
}
