//go:build unix

package provider

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"golang.org/x/crypto/ssh"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

// badInput is one configuration mistake: the configuration and the case
// id whose outcome the plan must fail with.
type badInput struct {
	id     string
	config func(t *testing.T, srv *sshtest.Server) string
}

// encryptedKeyPEM is srv's client key encrypted with passphrase, as PEM.
func encryptedKeyPEM(t *testing.T, srv *sshtest.Server, passphrase string) string {
	t.Helper()
	raw, err := ssh.ParseRawPrivateKey([]byte(srv.ClientKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// encryptedKey writes srv's client key encrypted with passphrase.
func encryptedKey(t *testing.T, srv *sshtest.Server, passphrase string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "id_encrypted")
	if err := os.WriteFile(p, []byte(encryptedKeyPEM(t, srv, passphrase)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccBadInput: each configuration mistake fails at plan (or at
// validate) with a message that names the attribute and what to write
// instead; nothing is copied.
func TestAccBadInput(t *testing.T) {
	srv := accSetup(t)
	dir := func(srv *sshtest.Server, provider map[string]string, attrs map[string]string) string {
		return providerConfig(srv, provider) + rsyncDir("test", attrs)
	}
	push := func(t *testing.T, srv *sshtest.Server, extra map[string]string) map[string]string {
		a := map[string]string{"source": hclString(smallTree(t) + "/"), "destination": hclString(remoteDest(srv, t.TempDir()+"/"))}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	cases := []badInput{
		{"input/source-empty", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"source": `""`}))
		}},
		{"input/source-missing", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"source": hclString(filepath.Join(t.TempDir(), "nosuch") + "/")}))
		}},
		{"input/source-file-slash", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"source": hclString(filepath.Join(smallTree(t), "index.html") + "/")}))
		}},
		{"input/dest-empty-path-delete", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"destination": hclString(srv.User + "@" + srv.Host + ":"), "delete": "true"}))
		}},
		{"input/dest-root-delete", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"destination": hclString(srv.User + "@" + srv.Host + ":/"), "delete": "true"}))
		}},
		{"input/dest-local-root-delete", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, map[string]string{"source": hclString(remoteDest(srv, t.TempDir()+"/")), "destination": `"/"`, "delete": "true"})
		}},
		{"input/exclude-invalid", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"exclude": `["*.tmp", "[abc"]`}))
		}},
		{"input/chmod-invalid", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"chmod": `"D755,F64x"`}))
		}},
		{"input/port-0", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, map[string]string{"port": "0"}, push(t, srv, nil))
		}},
		{"input/port-70000", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, map[string]string{"port": "70000"}, push(t, srv, nil))
		}},
		{"input/ssh-port-0", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, nil, push(t, srv, map[string]string{"ssh": "{ port = 0 }"}))
		}},
		{"input/key-file-missing", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, map[string]string{"private_key_file": hclString(filepath.Join(t.TempDir(), "no_such_key"))}, push(t, srv, nil))
		}},
		{"input/key-file-directory", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, map[string]string{"private_key_file": hclString(t.TempDir())}, push(t, srv, nil))
		}},
		{"input/key-garbage", func(t *testing.T, srv *sshtest.Server) string {
			p := filepath.Join(t.TempDir(), "garbage_key")
			if err := os.WriteFile(p, []byte("this is not a key\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return dir(srv, map[string]string{"private_key_file": hclString(p)}, push(t, srv, nil))
		}},
		{"input/key-encrypted-no-passphrase", func(t *testing.T, srv *sshtest.Server) string {
			return dir(srv, map[string]string{"private_key_file": hclString(encryptedKey(t, srv, "correct horse"))}, push(t, srv, nil))
		}},
		{"input/key-wrong-passphrase", func(t *testing.T, srv *sshtest.Server) string {
			key := encryptedKey(t, srv, "correct horse")
			return strings.Replace(dir(srv, map[string]string{"private_key_file": hclString(key)}, push(t, srv, nil)),
				"provider \"rsync\" {\n", "provider \"rsync\" {\n  private_key_passphrase = \"battery staple\"\n", 1)
		}},
	}
	for _, c := range cases {
		t.Run(strings.TrimPrefix(c.id, "input/"), func(t *testing.T) {
			accTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6ProviderFactories(),
				ErrorCheck:               recordErrors(t, c.id),
				Steps:                    []resource.TestStep{{Config: c.config(t, srv), ExpectError: expectOutcome(c.id)}},
			})
		})
	}
}

// TestAccGoodInput: configurations that look risky but are accepted —
// the login directory ("host:") without delete, the root with delete when
// allow_delete_root says so — plan without error. (They are only planned:
// applying them would write into the test machine's root and home.)
func TestAccGoodInput(t *testing.T) {
	srv := accSetup(t)
	for _, c := range []struct{ id, attrs string }{
		{"input/dest-empty-path", `destination = "` + srv.User + `@` + srv.Host + `:"`},
		{"input/dest-root-allowed", `destination = "` + srv.User + `@` + srv.Host + `:/"` + "\n  delete = true\n  allow_delete_root = true"},
	} {
		t.Run(strings.TrimPrefix(c.id, "input/"), func(t *testing.T) {
			config := providerConfig(srv, nil) + fmt.Sprintf("\nresource \"rsync_directory\" \"test\" {\n  source = %s\n  %s\n}\n",
				hclString(smallTree(t)+"/"), c.attrs)
			tf := newTFRunner(t, config)
			res := tf.exec(2*time.Minute, "plan", "-input=false")
			record(t, c.id, textFrom(res.stdout, "Plan:"))
			if res.code != 0 || !outcome(c.id).MatchString(res.stdout) {
				t.Fatalf("plan exited %d, want a plan matching %q:\n%s", res.code, outcomes[c.id], res.output())
			}
		})
	}
}

// TestAccRelativeSource: a relative source is relative to the directory
// Terraform runs in (the provider's working directory, as Terraform
// starts it): it is copied, the plan after apply is empty; a relative
// source that does not exist is reported with the absolute path it was
// looked for at.
func TestAccRelativeSource(t *testing.T) {
	srv := accSetup(t)
	dst := t.TempDir()
	config := providerConfig(srv, nil) + rsyncDir("test", map[string]string{
		"source": `"site/"`, "destination": hclString(remoteDest(srv, dst+"/")),
	})
	tf := newBinRunner(t, map[string]string{"main.tf": config, "site/index.html": "<h1>relative</h1>\n", "site/css/a.css": "a{}\n"})
	settleDirs(t, filepath.Join(tf.dir, "site"))
	res := tf.run(0, "apply", "-input=false", "-auto-approve")
	record(t, "input/source-relative", textFrom(res.stdout, "Apply complete!"))
	if !outcome("input/source-relative").MatchString(res.stdout) {
		t.Errorf("apply output does not match %q:\n%s", outcomes["input/source-relative"], res.stdout)
	}
	if err := checkTreesEqual(filepath.Join(tf.dir, "site"), dst)(nil); err != nil {
		t.Fatal(err)
	}
	tf.run(0, "plan", "-input=false", "-detailed-exitcode")

	missing := newBinRunner(t, map[string]string{"main.tf": strings.Replace(config, `"site/"`, `"nosuch/"`, 1)})
	res = missing.run(1, "plan", "-input=false")
	record(t, "input/source-relative-missing", errorText(res.output()))
	if want := filepath.Join(missing.dir, "nosuch"); !strings.Contains(strings.Join(strings.Fields(res.output()), ""), want) ||
		!outcome("input/source-relative-missing").MatchString(res.output()) {
		t.Errorf("the error does not name %s and match %q:\n%s", want, outcomes["input/source-relative-missing"], res.output())
	}
}
