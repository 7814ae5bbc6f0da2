// Command demo is `make demo`: it builds the provider, starts a throwaway
// OpenSSH sshd on 127.0.0.1, applies examples/demo with the real terraform
// binary, prints what landed on the "server", checks that a second plan is
// empty, then edits a file on the server, shows the plan naming it, applies
// the repair and shows the empty plan, and cleans up. Run it from the
// repository root.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/sshtest"
)

const providerAddress = "registry.terraform.io/rsyncprovider/rsync"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) (err error) {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	example := filepath.Join(root, "examples", "demo")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return fmt.Errorf("run the demo from the repository root (make demo): %w", err)
	}
	if _, err := os.Stat(filepath.Join(example, "main.tf")); err != nil {
		return fmt.Errorf("examples/demo is missing: %w", err)
	}
	terraform, err := exec.LookPath("terraform")
	if err != nil {
		return errors.New("terraform not found on PATH: install it (.ci/run shows how: go install github.com/hashicorp/terraform@v1.5.7)")
	}

	work, err := os.MkdirTemp("", "rsync-demo-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(work); rerr != nil && err == nil {
			err = rerr
		}
	}()
	step := stepper(out)

	step("Building the provider")
	pluginDir := buildDir(work)
	// Without debug information (-s -w) the link takes half the time, and
	// in the user's cache directory an unchanged provider is not linked
	// again on the next run: the demo stays well under 15 seconds.
	if err := runCmd(ctx, out, root, nil, "go", "build", "-ldflags=-s -w", "-o", filepath.Join(pluginDir, "terraform-provider-rsync"), "."); err != nil {
		return fmt.Errorf("building the provider: %w", err)
	}
	cliConfig := filepath.Join(work, "terraformrc")
	if err := os.WriteFile(cliConfig, []byte(devOverrides(pluginDir)), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "built %s\nTerraform uses it through dev_overrides in %s\n", filepath.Join(pluginDir, "terraform-provider-rsync"), cliConfig)

	step("Starting a throwaway sshd on 127.0.0.1")
	sshdDir := filepath.Join(work, "sshd")
	if err := os.Mkdir(sshdDir, 0o700); err != nil {
		return err
	}
	srv, err := sshtest.StartServer(sshdDir)
	if err != nil {
		return fmt.Errorf("starting sshd (is openssh-server installed? .ci/run installs it): %w", err)
	}
	defer func() {
		if err != nil {
			fmt.Fprintf(out, "\n--- sshd log ---\n%s\n", srv.Log())
		}
		if serr := srv.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	fmt.Fprintf(out, "sshd listening on %s:%d, user %s, host key %s\n", srv.Host, srv.Port, srv.User, srv.HostKeyAuthorized)

	serverRoot := filepath.Join(work, "server", "var", "www", "site")
	if err := os.MkdirAll(filepath.Dir(serverRoot), 0o755); err != nil {
		return err
	}
	config := filepath.Join(work, "config")
	if err := copyTree(example, config); err != nil {
		return fmt.Errorf("copying examples/demo: %w", err)
	}

	env := append(withoutEnv(os.Environ(), "TF_CLI_CONFIG_FILE", "TF_CLI_ARGS", "TF_CLI_ARGS_apply", "TF_CLI_ARGS_plan"),
		"TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_INPUT=0")
	destination := fmt.Sprintf("%s@%s:%s/", srv.User, srv.Host, serverRoot)
	var color []string
	if !isTerminal(os.Stdout) {
		color = []string{"-no-color"}
	}
	vars := append([]string{"-input=false"}, color...)
	vars = append(vars,
		"-var", fmt.Sprintf("destination=%s", destination),
		"-var", fmt.Sprintf("port=%d", srv.Port),
		"-var", "private_key_file="+srv.ClientKeyFile,
		"-var", "known_hosts_file="+srv.KnownHostsFile,
	)

	// With dev_overrides for every provider the configuration uses,
	// terraform init is not needed (Terraform says so in its warning).
	step("terraform apply  (examples/demo → " + destination + ")")
	if err := runCmd(ctx, out, config, env, terraform, append([]string{"apply", "-auto-approve"}, vars...)...); err != nil {
		return fmt.Errorf("terraform apply: %w", err)
	}

	step("What landed on the server (" + serverRoot + ")")
	if err := printTree(out, serverRoot); err != nil {
		return err
	}

	plan := func(args ...string) (int, string, error) {
		var buf strings.Builder
		args = append(append([]string{"plan", "-detailed-exitcode"}, args...), vars...)
		err := runCmd(ctx, io.MultiWriter(out, &buf), config, env, terraform, args...)
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			return 0, buf.String(), nil
		case errors.As(err, &exitErr) && exitErr.ExitCode() == 2:
			return 2, buf.String(), nil
		}
		return 0, "", fmt.Errorf("terraform plan: %w", err)
	}
	emptyPlan := func(after string) error {
		code, _, err := plan()
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("the plan after %s is NOT empty (exit code 2): the provider planned changes after a successful apply", after)
		}
		fmt.Fprintf(out, "\nOK: the plan after %s is empty (exit code 0): the server matches the configuration.\n", after)
		return nil
	}

	step("terraform plan -detailed-exitcode  (must be empty)")
	if err := emptyPlan("the apply"); err != nil {
		return err
	}

	// The reason to use this provider rather than a provisioner: an edit
	// made on the server behind Terraform's back shows up in the plan,
	// and the next apply puts the file back.
	const edited = "index.html"
	step("Someone edits " + edited + " on the server")
	if err := editOnServer(filepath.Join(serverRoot, edited)); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %q into %s\n", defaced, filepath.Join(serverRoot, edited))

	step("terraform plan -detailed-exitcode -out=repair.tfplan  (refresh reads the server: the edit is drift)")
	code, text, err := plan("-out=repair.tfplan")
	if err != nil {
		return err
	}
	if code != 2 || !strings.Contains(text, `"`+edited+`"`) {
		return fmt.Errorf("the plan after the server edit does not name %s as a change (exit code %d)", edited, code)
	}
	if !strings.Contains(text, "Destination changed outside Terraform") {
		return fmt.Errorf("the plan after the server edit lists %s but does not name it as drift", edited)
	}
	fmt.Fprintf(out, "\nOK: the plan names %s as drift (in drift.paths and a warning): refresh read the server's checksums and found the edit.\n", edited)

	step("terraform apply repair.tfplan  (puts " + edited + " back, as planned)")
	if err := runCmd(ctx, out, config, env, terraform, append(append([]string{"apply", "-input=false"}, color...), "repair.tfplan")...); err != nil {
		return fmt.Errorf("terraform apply: %w", err)
	}
	if err := sameFile(filepath.Join(example, "site", edited), filepath.Join(serverRoot, edited)); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nOK: %s on the server is the source's again.\n", edited)

	step("terraform plan -detailed-exitcode  (empty again)")
	if err := emptyPlan("the repair"); err != nil {
		return err
	}

	step("Cleaning up: stopping sshd, removing " + work)
	return nil
}

// buildDir is where the demo builds the provider: a directory of the
// user's cache, so that an unchanged provider is not linked again, else
// one in work.
func buildDir(work string) string {
	if cache, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(cache, "terraform-provider-rsync", "demo")
		if os.MkdirAll(dir, 0o700) == nil {
			return dir
		}
	}
	return filepath.Join(work, "plugins")
}

// defaced is what the demo writes over a file on the server.
const defaced = "<h1>edited on the server</h1>\n"

// editOnServer overwrites p as someone on the server would, with a new
// modification time.
func editOnServer(p string) error {
	if err := os.WriteFile(p, []byte(defaced), 0o644); err != nil {
		return fmt.Errorf("editing the server's copy: %w", err)
	}
	later := time.Now().Add(time.Minute)
	return os.Chtimes(p, later, later)
}

// sameFile checks that the server's copy b has a's content.
func sameFile(a, b string) error {
	x, err := os.ReadFile(a)
	if err != nil {
		return err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return err
	}
	if string(x) != string(y) {
		return fmt.Errorf("%s was not restored: it holds %q", b, y)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&fs.ModeCharDevice != 0
}

func stepper(out io.Writer) func(string) {
	n := 0
	return func(title string) {
		n++
		fmt.Fprintf(out, "\n==> %d. %s\n", n, title)
	}
}

func devOverrides(pluginDir string) string {
	return fmt.Sprintf(`provider_installation {
  dev_overrides {
    %q = %q
  }
  direct {}
}
`, providerAddress, pluginDir)
}

// runCmd runs a command with its output streamed to out.
func runCmd(ctx context.Context, out io.Writer, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	return cmd.Run()
}

func withoutEnv(env []string, names ...string) []string {
	var kept []string
outer:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue outer
			}
		}
		kept = append(kept, kv)
	}
	return kept
}

// copyTree copies the regular files and directories of src to dst, leaving
// out Terraform's working files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := d.Name()
		if name == ".terraform" || name == ".terraform.lock.hcl" || strings.HasPrefix(name, "terraform.tfstate") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm())
		}
		return nil
	})
}

// printTree lists root like `ls -l`, one entry per line, paths relative.
func printTree(out io.Writer, root string) error {
	var files, dirs int
	var bytes int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
			dirs++
		}
		size := "-"
		if info.Mode().IsRegular() {
			size = fmt.Sprint(info.Size())
			files++
			bytes += info.Size()
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			rel += " -> " + target
		}
		fmt.Fprintf(out, "%s %8s  %s  %s\n", info.Mode(), size, info.ModTime().Format("2006-01-02 15:04:05"), rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	fmt.Fprintf(out, "%d files in %d directories, %d bytes\n", files, dirs, bytes)
	if files == 0 {
		return errors.New("nothing landed on the server")
	}
	return nil
}
