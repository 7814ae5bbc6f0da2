package rsync

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestQuickPush(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello, rsync\n"), 0o644)
	os.MkdirAll(filepath.Join(src, "sub/deep"), 0o755)
	os.WriteFile(filepath.Join(src, "sub/c.txt"), []byte("c\n"), 0o600)
	os.Symlink("a.txt", filepath.Join(src, "link"))
	big := make([]byte, 300000)
	for i := range big { big[i] = byte(i*7 + i/13) }
	os.WriteFile(filepath.Join(src, "big.bin"), big, 0o755)
	dst := t.TempDir()
	for _, proto := range []int{32, 31, 30} {
		res, err := Push(context.Background(), ExecTransport{}, src+"/", dst, Options{MaxProtocol: proto, Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Debug})})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
		out, _ := exec.Command("rsync", "-rlptnic", src+"/", dst+"/").CombinedOutput()
		if len(out) != 0 {
			t.Fatalf("diff: %s", out)
		}
		big[1000]++
		os.WriteFile(filepath.Join(src, "big.bin"), big, 0o755)
		mt := time.Unix(1600000000+int64(proto), 0)
		os.Chtimes(filepath.Join(src, "big.bin"), mt, mt)
	}
}
