package sftpsync

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParseSums: whatever a server's hash command prints, parseSums
// returns an error or at most maxLines well-formed lines, never panics.
func FuzzParseSums(f *testing.F) {
	f.Add([]byte("d41d8cd98f00b204e9800998ecf8427e  /dev/null\n"), 2, 1)
	f.Add([]byte("d41d8cd98f00b204e9800998ecf8427e /dev/null\n"), 1, 1)
	f.Add([]byte("0123456789abcdef0123456789abcdef *a b\n\\d41d8cd98f00b204e9800998ecf8427e  a\\nb\n"), 2, 3)
	f.Add([]byte("zz\n"), 2, 1)
	f.Fuzz(func(t *testing.T, out []byte, sep, maxLines int) {
		if sep != 1 && sep != 2 {
			sep = 2
		}
		if maxLines < 0 || maxLines > 1000 {
			maxLines = 10
		}
		sums, err := parseSums(out, sep, maxLines)
		if err != nil {
			return
		}
		if len(sums) > maxLines {
			t.Fatalf("%d lines, at most %d asked", len(sums), maxLines)
		}
		for _, s := range sums {
			if len(s.Name) == 0 || bytes.IndexByte([]byte(s.Name), '\n') >= 0 {
				t.Fatalf("bad name %q", s.Name)
			}
		}
	})
}

// FuzzReadPacket: a reply on the lsetstat session is read with its length
// checked before allocating, and a status decodes or fails cleanly.
func FuzzReadPacket(f *testing.F) {
	status := func(id, code uint32, msg string) []byte {
		b := []byte{fxpStatus}
		b = binary.BigEndian.AppendUint32(b, id)
		b = binary.BigEndian.AppendUint32(b, code)
		b = appendString(b, msg)
		b = appendString(b, "en")
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
	}
	f.Add(status(1, 0, "Success"))
	f.Add(status(7, 2, "No such file"))
	f.Add([]byte{0, 0, 0, 5, fxpVersion, 0, 0, 0, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		typ, payload, err := readPacket(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(payload)+1 > maxRawPacket {
			t.Fatalf("a packet of %d bytes was accepted", len(payload)+1)
		}
		if typ == fxpStatus {
			_, _, msg, err := parseStatus(payload)
			if err == nil && len(msg) > len(payload) {
				t.Fatalf("message longer than its packet")
			}
		}
	})
}
