//go:build unix

package provider

// The outcomes docs/reliability.md reports. Each case's test asserts its
// pattern against what Terraform printed (words(): the words in order, "…"
// for any text between); TestReliabilityDoc checks that the table in
// docs/reliability.md has a row for every case and that the text quoted
// there matches the same pattern. With RELIABILITY_RECORD=FILE the tests
// also append what they observed to FILE (one JSON object a line), to
// write the table from. Unix only, like the tests of the cases (they need
// sshd).

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// outcomes maps a case id to the pattern its test asserts.
var outcomes = map[string]string{
	// Faults injected into an apply (fault_acc_test.go).
	"fault/cut-kex":  "SSH connection failed … Could not connect to … handshake",
	"fault/cut-auth": "SSH connection failed … Could not connect to … handshake",
	// (The client may have written all it had into the socket before the
	// cut reaches it; then a later read reports the loss: the phase is
	// checked on the server side, not by the wording.)
	"fault/cut-file-list":     "Push failed … connection to … lost … Nothing is left half-written",
	"fault/cut-mid-file":      "Push failed … connection to … lost … Nothing is left half-written",
	"fault/cut-deletions":     "Push failed … connection to … lost … Nothing is left half-written",
	"fault/kill-deletions":    "Push failed … remote rsync exited with code 137 (killed by signal 9, SIGKILL) … was stopped before it finished",
	"fault/stall-keepalive":   "Push failed … connection to … lost: nothing received … despite keepalives (keepalive_interval 1s, 3 unanswered) … Nothing is left half-written",
	"fault/stall-handshake":   "SSH connection failed … Could not connect to … timed out after 3s",
	"fault/term-mid-file":     "Push failed … received SIGINT, SIGTERM, or SIGHUP (code 20) … Nothing is left half-written",
	"fault/kill-mid-file":     "Push failed … remote rsync exited with code 137 (killed by signal 9, SIGKILL) … was stopped before it finished",
	"fault/kill-mid-file-tmp": "Push failed … remote rsync exited with code 137 (killed by signal 9, SIGKILL)",
	"fault/kill-tmp-warning":  "Warning: Temporary files of an interrupted rsync … .big.bin.",

	// Errors on the server (remote_errors_acc_test.go).
	"remote/permission-denied": "Push failed … remote rsync exited with code 23 (some files could not be transferred) … " +
		"mkstemp … locked/.index.html. … failed: Permission denied (13) … writable by the SSH user",
	"remote/read-only":      "Push failed … remote rsync exited with code 23 … Read-only file system (30) … writable by the SSH user",
	"remote/disk-full":      "Push failed … big.bin … No space left on device (28) … the disk is not full",
	"remote/missing-parent": "Destination's parent directory is missing … a/b does not exist on 127.0.0.1, so … a/b/www cannot be created in it",
	"remote/rsync-missing": "rsync does not run on the destination host … " +
		`/nonexistent/rsync: No such file or directory. The remote command "/nonexistent/rsync" could not be run. Install rsync`,

	// Secrets (secrets_acc_test.go).
	"secrets/not-leaked": "no secret in: TF_LOG_PATH log … plan, show tfplan, show -json tfplan, apply output, terraform.tfstate",

	// Configuration mistakes (bad_input_acc_test.go).
	"input/source-empty":                `Attribute source string length must be at least 1, got: 0 … Invalid source … source "" is empty`,
	"input/source-missing":              `Source not found … nosuch/" does not exist. Set source to an existing local directory`,
	"input/source-file-slash":           `Source not found … index.html/" is not a directory, but ends in "/"; remove the trailing slash to copy a single file`,
	"input/dest-empty-path-delete":      `Refusing to delete in the destination root … delete = true … destination "root@127.0.0.1:" is the login directory, and with delete = true the sync would delete everything there that is not in the source … allow_delete_root = true`,
	"input/dest-root-delete":            `Refusing to delete in the destination root … destination "root@127.0.0.1:/" is the root directory … allow_delete_root = true`,
	"input/dest-local-root-delete":      `Refusing to delete in the destination root … destination "/" is the root directory … allow_delete_root = true`,
	"input/exclude-invalid":             `Invalid rsync pattern … exclude[1]: "[abc" is not a usable rsync pattern: unterminated character class at byte 0`,
	"input/chmod-invalid":               `Invalid chmod … chmod: "D755,F64x" is not an rsync --chmod string: chmod clause "F64x": "64x" is not an octal mode of at most 4 digits`,
	"input/port-0":                      "Attribute port value must be between 1 and 65535, got: 0",
	"input/port-70000":                  "Attribute port value must be between 1 and 65535, got: 70000",
	"input/ssh-port-0":                  "Attribute ssh.port value must be between 1 and 65535, got: 0",
	"input/key-file-missing":            "SSH connection failed … Could not connect to … read private_key_file: open … no_such_key: no such file or directory",
	"input/key-file-directory":          "Unusable SSH settings … cannot be used: read private_key_file: read … is a directory",
	"input/key-garbage":                 "Unusable SSH settings … cannot be used: parse private_key_file … garbage_key: ssh: no key found: it must be a private key in OpenSSH or PEM format",
	"input/key-encrypted-no-passphrase": "Unusable SSH settings … private key is encrypted: set private_key_passphrase (the key in private_key_file … id_encrypted is protected by a passphrase)",
	"input/key-wrong-passphrase":        "Unusable SSH settings … private_key_passphrase does not decrypt the key in private_key_file … id_encrypted: check the passphrase",
	"input/dest-empty-path":             "Plan: 1 to add, 0 to change, 0 to destroy.",
	"input/dest-root-allowed":           "Plan: 1 to add, 0 to change, 0 to destroy.",
	"input/source-relative":             "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.",
	"input/source-vanished":             "Warning: Warning from rsync … cannot open … gone.txt: … no such file or directory … Apply complete! Resources: 1 added",
	"input/source-unreadable-file":      "Cannot read the source … hash … secret.txt: open … secret.txt: permission denied … Terraform may read it",
	"input/source-unreadable-dir":       "Source partly unreadable … opendir … private failed: open … private: permission denied. Nothing was copied",
	"input/source-relative-missing":     `Source not found … source "nosuch/" (… /nosuch) does not exist … relative paths are relative to the directory Terraform runs in`,
}

// outcome is the pattern of case id, as a regexp.
func outcome(id string) *regexp.Regexp {
	p, ok := outcomes[id]
	if !ok {
		panic("no outcome registered for " + id)
	}
	return words(p)
}

var recordMu sync.Mutex

// record appends what case id observed to $RELIABILITY_RECORD, if set.
func record(t *testing.T, id, observed string) {
	t.Helper()
	file := os.Getenv("RELIABILITY_RECORD")
	if file == "" {
		return
	}
	recordMu.Lock()
	defer recordMu.Unlock()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("RELIABILITY_RECORD: %v", err)
		return
	}
	defer f.Close()
	b, _ := json.Marshal(map[string]string{"id": id, "test": t.Name(), "observed": observed})
	fmt.Fprintf(f, "%s\n", b)
}

// recordErrors is a TestCase.ErrorCheck for record runs: with
// RELIABILITY_RECORD set, steps that expect an error leave ExpectError
// unset (see expectOutcome) and this checks and records the error instead.
func recordErrors(t *testing.T, id string) func(error) error {
	called := false
	if os.Getenv("RELIABILITY_RECORD") != "" {
		t.Cleanup(func() {
			if !called {
				t.Errorf("%s: no step failed, but one should have", id)
			}
		})
	}
	return func(err error) error {
		if os.Getenv("RELIABILITY_RECORD") == "" {
			return err
		}
		called = true
		record(t, id, err.Error())
		if !outcome(id).MatchString(err.Error()) {
			return fmt.Errorf("%s: the error does not match %q: %w", id, outcomes[id], err)
		}
		return nil
	}
}

// expectOutcome is ExpectError for case id; nil in a record run, where
// recordErrors (the TestCase's ErrorCheck) checks and records instead.
func expectOutcome(id string) *regexp.Regexp {
	if os.Getenv("RELIABILITY_RECORD") != "" {
		return nil
	}
	return outcome(id)
}

// docRow matches a row of the outcomes table: | `id` | what | outcome |.
var docRow = regexp.MustCompile("^\\|\\s*`([a-z0-9/-]+)`\\s*\\|([^|]*)\\|(.*)\\|\\s*$")

// TestReliabilityDoc: docs/reliability.md has a row for every case, for
// no other, and the text it quotes for each matches what the case's test
// asserts.
func TestReliabilityDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		id, text := m[1], strings.NewReplacer("`", "", `\|`, "|", "<br>", " ").Replace(m[3])
		seen[id] = true
		p, ok := outcomes[id]
		switch {
		case !ok:
			t.Errorf("docs/reliability.md has a row %q that no test asserts", id)
		case !words(p).MatchString(text):
			t.Errorf("docs/reliability.md row %q says %q, which does not match what its test asserts: %q", id, strings.TrimSpace(text), p)
		}
	}
	var missing []string
	for id := range outcomes {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("docs/reliability.md has no row for %v", missing)
	}
}
