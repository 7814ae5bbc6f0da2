package rsync

import (
	"fmt"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/delta"
)

// Protocols 27–29 (rsync 2.6.x, openrsync on macOS and OpenBSD) differ
// from 30+ in what this file and the protocol branches it names decide:
//
//   - no compat flags and no checksum or compression name lists: the
//     strong checksum is md4 (checksum.c:parse_csum_name, CSUM_MD4_OLD),
//     -z means zlib, and the seed follows the versions directly
//     (compat.c:setup_protocol);
//   - only the server multiplexes: what we write stays raw
//     (main.c:start_server, do_server_recv: io_start_buffering_in), so we
//     cannot send MSG_NO_SEND or MSG_IO_ERROR;
//   - file indexes are plain int32s (io.c:write_ndx), file-list fields
//     fixed-width (flist.c:send_file_entry), and the io_error bits follow
//     the id lists as an int32 (flist.c:send_file_list);
//   - below 29 no item flags travel with an index (rsync.c:
//     read_ndx_and_attrs) and there is no delay-updates phase
//     (sender.c:send_files max_phase);
//   - --delete means --delete-before (compat.c:setup_protocol): the
//     receiver deletes before the first transfer, not during it.

// UnsupportedError says that the server cannot do something the options
// ask for. It comes from the handshake, before any file is touched, so a
// dry run (plan) meets it first.
type UnsupportedError struct {
	Protocol int    // the protocol the server speaks
	Option   string // what was asked for, in rsync's terms (e.g. "--compress-choice=zstd")
	Reason   string // why the server cannot do it
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the server speaks rsync protocol %d (%s), which cannot do %s: %s",
		e.Protocol, ProtocolPeers(e.Protocol), e.Option, e.Reason)
}

// ProtocolPeers names the rsync releases that speak protocol p, for
// messages.
func ProtocolPeers(p int) string {
	switch {
	case p <= 27:
		return "OpenBSD's openrsync, rsync 2.6.0–2.6.2, or a newer rsync started with --protocol=" + fmt.Sprint(p)
	case p == 28:
		return "rsync 2.6.3–2.6.5, or a newer rsync started with --protocol=28"
	case p == 29:
		return "macOS openrsync or rsync 2.6.9, or a newer rsync started with --protocol=29"
	case p == 30:
		return "rsync 3.0.x, or a newer rsync started with --protocol=30"
	case p == 31:
		return "rsync 3.1.x–3.2.x"
	}
	return "rsync 3.2+"
}

// handshakeOld finishes the handshake below protocol 30: nothing is
// negotiated, the server sends its checksum seed (compat.c:setup_protocol).
func (s *session) handshakeOld(opts Options) error {
	if opts.HardLinks {
		// Below 30 a hard-linked file travels with its device and inode
		// (XMIT_SAME_DEV_pre30, flist.c:send_file_entry) and the receiver
		// matches them up after the list; the file-list codec speaks only
		// the index form of 30+.
		return &UnsupportedError{Protocol: s.protocol, Option: "-H (hard_links)",
			Reason: "before protocol 30 hard links are sent as device and inode numbers, which this provider does not implement; set hard_links = false"}
	}
	if opts.ChecksumChoice != "" {
		if a, ok := csum.ByName(opts.ChecksumChoice); !ok || a != csum.MD4 {
			return &UnsupportedError{Protocol: s.protocol, Option: "--checksum-choice=" + opts.ChecksumChoice,
				Reason: "before protocol 30 the only checksum is md4; leave the checksum choice unset"}
		}
	}
	s.algo = csum.MD4
	if opts.Compress {
		if opts.CompressChoice != "" {
			if c, ok := delta.CompressionByName(opts.CompressChoice); !ok || c != delta.CompressZlib {
				return &UnsupportedError{Protocol: s.protocol, Option: "--compress-choice=" + opts.CompressChoice,
					Reason: "before protocol 30 the only compression is zlib; leave the compression choice unset"}
			}
		}
		s.compress = delta.CompressZlib
	}
	s.seed = s.r.Int32()
	if err := s.r.Err(); err != nil {
		return fmt.Errorf("read checksum seed: %w", err)
	}
	// The server multiplexes what it writes from here on (protocol ≥ 23);
	// what we write stays a plain stream.
	s.in.Enable()
	s.log.Debug("rsync handshake done", "protocol", s.protocol, "checksum", s.algo.Name(), "compression", s.compress.Name())
	return nil
}

// itemFlags reports whether item flags travel with file indexes
// (protocol ≥ 29, rsync.c:read_ndx_and_attrs).
func (s *session) itemFlags() bool { return s.protocol >= 29 }

// maxPhase is the last phase a generator ends: the redo phase, and from
// 29 the delay-updates phase (generator.c, sender.c:send_files).
func (s *session) maxPhase() int {
	if s.protocol >= 29 {
		return 2
	}
	return 1
}

// muxOut reports whether what we write is multiplexed, i.e. whether we
// may send messages (MSG_NO_SEND, MSG_IO_ERROR, MSG_ERROR_EXIT).
func (s *session) muxOut() bool { return s.protocol >= 30 }

// readNdx reads a file index in the session's encoding.
func (s *session) readNdx() int32 { return s.r.ReadNdxProto(&s.ndxIn, s.protocol) }

// maxBlock is the largest block the peer accepts in a sum head
// (io.c:read_sum_head, generator.c:sum_sizes_sqroot).
func (s *session) maxBlock() int64 {
	if s.protocol < 30 {
		return delta.OldMaxBlockSize
	}
	return delta.MaxBlockSize
}
