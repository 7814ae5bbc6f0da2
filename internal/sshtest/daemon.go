package sshtest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"
)

// daemon is what differs between the SSH servers the rig runs (OpenSSH's
// sshd, Dropbear); picking a port, running, waiting for readiness, logging
// and stopping are shared.
type daemon struct {
	name string // "sshd", "dropbear": in log headers and errors
	hint string // added when the binary cannot be run at all
	// command prepares one attempt for s.Port (writes a config if the
	// daemon needs one) and returns the daemon's command line. The daemon
	// must stay in the foreground, log to stderr, and write its pid to
	// pidPath only once it has bound the port: waitReady relies on that.
	command func(s *Server, pidPath string) (*exec.Cmd, error)
}

// bindAttempts is how many ports StartServer tries. The free port is found
// by listening on :0 and closing, so another process can take it before
// the daemon binds; that race is rare, and a fresh port fixes it.
const bindAttempts = 5

// errBindRace marks a start that failed only because the port was taken.
var errBindRace = errors.New("port taken before the server could bind it")

// run starts the daemon, on a fresh port again when another process took
// the one picked (not with WithPort, which names the only port to use).
func (s *Server) run(o *options, d daemon) error {
	s.daemon = d.name
	s.logPath = filepath.Join(s.Dir, d.name+".log")
	for attempt := 1; ; attempt++ {
		err := s.start(o, d)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errBindRace) || attempt == bindAttempts || o.port != 0 {
			return err
		}
	}
}

// start makes one attempt: pick a port, write known_hosts, run, wait.
func (s *Server) start(o *options, d daemon) error {
	port, err := o.pickPort()
	if o.port != 0 {
		port, err = o.port, nil
	}
	if err != nil {
		return err
	}
	s.Port = port

	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostPublicKey)
	if err := writeFile(s.KnownHostsFile, line+"\n", 0o600); err != nil {
		return err
	}
	pidPath := filepath.Join(s.Dir, d.name+".pid")
	_ = os.Remove(pidPath) // a stale pid from a failed attempt would fool waitReady
	cmd, err := d.command(s, pidPath)
	if err != nil {
		return err
	}

	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sshtest: open %s log: %w", d.name, err)
	}
	// The log keeps every attempt; judge this attempt by its own part.
	logStart := 0
	if fi, err := logFile.Stat(); err == nil {
		logStart = int(fi.Size())
	}
	fmt.Fprintf(logFile, "--- sshtest: starting %s on %s ---\n", strings.Join(cmd.Args, " "), s.Addr())

	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("sshtest: run %s: %w (%s)", cmd.Path, err, d.hint)
	}
	logFile.Close() // the child holds its own copy
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()

	err = s.waitReady(pidPath, o.startTimeout)
	if err == nil {
		return nil
	}
	s.kill()
	log := s.Log()
	if logStart <= len(log) && strings.Contains(log[logStart:], "Address already in use") {
		return fmt.Errorf("sshtest: %w (port %d)", errBindRace, port)
	}
	return fmt.Errorf("sshtest: %s on %s did not start: %w\n--- %s log (%s) ---\n%s", d.name, s.Addr(), err, d.name, s.logPath, log)
}

// freePort asks the kernel for a free port on 127.0.0.1. The listener is
// closed before the daemon binds, hence the retry in run.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("sshtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil //nolint:forcetypeassert // a "tcp" listener's address is a *net.TCPAddr
}

// waitReady returns when our daemon has bound the port and answers with an
// SSH banner. sshd and dropbear write their pid file only after binding, so
// a pid file holding our child's pid proves the banner comes from our
// daemon and not from some other process that won the port.
func (s *Server) waitReady(pidPath string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := strconv.Itoa(s.cmd.Process.Pid)
	lastErr := errors.New("no pid file yet")
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited: %w", s.daemon, s.waitErr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, lastErr)
		}
		if pid, err := os.ReadFile(pidPath); err != nil || strings.TrimSpace(string(pid)) != want {
			lastErr = fmt.Errorf("%s has not written its pid file (not bound yet)", s.daemon)
		} else if lastErr = readBanner(s.Addr()); lastErr == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readBanner connects and reads the server's identification line.
func readBanner(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read SSH banner: %w", err)
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", strings.TrimSpace(line))
	}
	return nil
}

// Log returns everything the server has logged so far (sshd at LogLevel
// VERBOSE; dropbear logs logins and exits).
func (s *Server) Log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s log: %v)", s.daemon, err)
	}
	return string(b)
}

// Stop terminates the server and waits for it to exit, which releases the
// port. Sessions already open live on in their own processes until their
// client disconnects, as with any sshd restart. Stop is idempotent. It
// reports an error if the server had died on its own before Stop, so tests
// notice crashes.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = fmt.Errorf("sshtest: %s on %s exited before Stop: %w\n--- %s log ---\n%s", s.daemon, s.Addr(), s.waitErr, s.daemon, s.Log())
			return
		default:
		}
		s.kill()
	})
	return s.stopErr
}

// kill asks the server to exit (SIGTERM lets it remove its pid file), then
// forces it after a grace period, and reaps it.
func (s *Server) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}
