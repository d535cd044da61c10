package git

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/workspace"
)

var (
	id1  = strings.Repeat("1", 40)
	id2  = strings.Repeat("2", 40)
	zero = strings.Repeat("0", 40)
)

func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

func TestReadPush(t *testing.T) {
	head := pkt("shallow "+id2+"\n") +
		pkt(zero+" "+id1+" refs/heads/agent/x\x00report-status side-band-64k push-options agent=git/2.39\n") +
		pkt(id1+" "+id2+" refs/heads/agent/y\n") +
		pkt(id1+" "+zero+" refs/tags/v1\n") + "0000" +
		pkt("ci.skip\n") + "0000"
	body := head + "PACK...rest"
	r := strings.NewReader(body)
	p, err := ReadPush(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Head) != head {
		t.Errorf("Head = %q, want %q", p.Head, head)
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "PACK...rest" {
		t.Errorf("left for the pack: %q", rest)
	}
	want := []Command{{zero, id1, "refs/heads/agent/x"}, {id1, id2, "refs/heads/agent/y"}, {id1, zero, "refs/tags/v1"}}
	if fmt.Sprint(p.Commands) != fmt.Sprint(want) {
		t.Errorf("commands = %v", p.Commands)
	}
	if !p.Commands[0].IsCreate() || !p.Commands[2].IsDelete() || p.Commands[1].IsCreate() || p.Commands[1].IsDelete() {
		t.Error("create/delete misread")
	}
	if len(p.Options) != 1 || p.Options[0] != "ci.skip" {
		t.Errorf("options = %q", p.Options)
	}
	if v, ok := p.Cap("agent"); !ok || v != "git/2.39" {
		t.Errorf("agent cap = %q %v", v, ok)
	}

	// The refusal is side-band framed report-status the client can read.
	out := p.Refusal(map[string]string{"refs/heads/agent/y": "no"}, []string{"cordon: push to refs/heads/agent/y refused (default)"})
	pr := &pktReader{r: bytes.NewReader(out)}
	var band1 []byte
	var band2 []string
	for {
		b, special, err := pr.next()
		if err != nil {
			t.Fatalf("refusal: %v", err)
		}
		if special == pktFlush {
			break
		}
		switch b[0] {
		case 1:
			band1 = append(band1, b[1:]...)
		case 2:
			band2 = append(band2, string(b[1:]))
		}
	}
	if len(band2) != 1 || !strings.Contains(band2[0], "refused (default)") {
		t.Errorf("band 2 = %q", band2)
	}
	inner := &pktReader{r: bytes.NewReader(band1)}
	var lines []string
	for {
		b, special, err := inner.next()
		if err != nil || special == pktFlush {
			break
		}
		lines = append(lines, string(b))
	}
	wantLines := []string{"unpack ok\n", "ng refs/heads/agent/x cordon: not pushed, another ref of this push was refused\n", "ng refs/heads/agent/y no\n", "ng refs/tags/v1 cordon: not pushed, another ref of this push was refused\n"}
	if fmt.Sprint(lines) != fmt.Sprint(wantLines) {
		t.Errorf("report-status = %q", lines)
	}
}

func TestReadPushRefuses(t *testing.T) {
	cmd := zero + " " + id1 + " refs/heads/x\x00report-status\n"
	for name, body := range map[string]string{
		"empty":         "",
		"no flush":      pkt(cmd),
		"truncated":     pkt(cmd)[:20],
		"over 65520":    "fff5" + strings.Repeat("a", 65520),
		"bad length":    "00-1" + pkt(cmd) + "0000",
		"short length":  "0002" + pkt(cmd) + "0000",
		"two fields":    pkt(zero+" refs/heads/x\n") + "0000",
		"upper hex":     pkt(strings.ToUpper(strings.Repeat("a", 40))+" "+id1+" refs/heads/x\n") + "0000",
		"both zero":     pkt(zero+" "+zero+" refs/heads/x\n") + "0000",
		"not refs/":     pkt(zero+" "+id1+" HEAD\n") + "0000",
		"dot dot":       pkt(zero+" "+id1+" refs/heads/a..b\n") + "0000",
		"lock":          pkt(zero+" "+id1+" refs/heads/a.lock\n") + "0000",
		"space":         pkt(zero+" "+id1+" refs/heads/a b\n") + "0000",
		"twice":         pkt(cmd) + pkt(zero+" "+id2+" refs/heads/x\n") + "0000",
		"signed":        pkt("push-cert\x00report-status\n") + "0000",
		"sha256 mix":    pkt(zero+" "+id1+" refs/heads/x\x00object-format=sha256\n") + "0000",
		"options unend": pkt(zero+" "+id1+" refs/heads/x\x00push-options\n") + "0000" + pkt("o"),
		"late shallow":  pkt(cmd) + pkt("shallow "+id1+"\n") + "0000",
	} {
		if p, err := ReadPush(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted: %+v", name, p)
		}
	}
	// Too many commands in total size.
	var b strings.Builder
	for i := 0; b.Len() <= maxCommandBytes; i++ {
		b.WriteString(pkt(fmt.Sprintf("%s %s refs/heads/%s\n", zero, id1, strings.Repeat("n", 60000)[:60000-i%10]+fmt.Sprint(i))))
	}
	if _, err := ReadPush(strings.NewReader(b.String() + "0000")); err == nil {
		t.Error("an oversized command list was accepted")
	}
}

// packOf builds a real pack of the given revisions with the host's git.
func packOf(t *testing.T, dir string, revs string, extra ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", append([]string{"pack-objects", "--stdout", "--revs", "-q"}, extra...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(revs)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pack-objects: %v", err)
	}
	return out
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=/nonexistent", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestReadCommitsFastForward(t *testing.T) {
	dir := t.TempDir()
	gitIn(t, dir, "init", "-q", "-b", "main")
	var ids []string
	// Long, nearly equal messages, so pack-objects stores commits as
	// deltas of one another: the reader must resolve them.
	msg := strings.Repeat("a long commit message line that repeats\n", 60)
	for i := 0; i < 6; i++ {
		os.WriteFile(filepath.Join(dir, "f"), []byte(fmt.Sprint(i)), 0o644)
		gitIn(t, dir, "add", "f")
		gitIn(t, dir, "commit", "-q", "-m", fmt.Sprintf("c%d\n\n%s", i, msg))
		ids = append(ids, gitIn(t, dir, "rev-parse", "HEAD"))
	}
	gitIn(t, dir, "checkout", "-q", "-b", "side", ids[2])
	os.WriteFile(filepath.Join(dir, "g"), []byte("side"), 0o644)
	gitIn(t, dir, "add", "g")
	gitIn(t, dir, "commit", "-q", "-m", "side\n\n"+msg)
	side := gitIn(t, dir, "rev-parse", "HEAD")

	// What a push of main from ids[1] sends: ids[2..5].
	pack := packOf(t, dir, ids[5]+"\n^"+ids[1]+"\n", "--window=50", "--depth=50")
	if deltifiedCommits(t, dir, pack) == 0 {
		t.Fatal("no commit is stored as a delta: the test would not cover resolving them")
	}
	g, err := readCommits(bytes.NewReader(pack), 40)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.parents) != 4 {
		t.Errorf("%d commits read, want 4", len(g.parents))
	}
	if !g.descends(ids[5], ids[1]) || !g.descends(ids[5], ids[3]) {
		t.Error("a fast-forward was not shown")
	}
	if g.descends(ids[5], side) || g.descends(ids[3], ids[4]) {
		t.Error("a non-fast-forward was taken for one")
	}
	// Truncated or corrupted packs are refused.
	for _, bad := range [][]byte{pack[:len(pack)-1], pack[:len(pack)/2], append(append([]byte{}, pack...), 'x')} {
		if _, err := readCommits(bytes.NewReader(bad), 40); err == nil {
			t.Error("a damaged pack was read")
		}
	}
	flipped := append([]byte{}, pack...)
	flipped[len(flipped)/2] ^= 0x40
	if _, err := readCommits(bytes.NewReader(flipped), 40); err == nil {
		t.Error("a pack with a flipped bit was read")
	}
}

// deltifiedCommits counts the commits pack stores as deltas.
func deltifiedCommits(t *testing.T, dir string, pack []byte) int {
	t.Helper()
	p := filepath.Join(t.TempDir(), "p.pack")
	os.WriteFile(p, pack, 0o644)
	gitIn(t, dir, "index-pack", p)
	n := 0
	for _, l := range strings.Split(gitIn(t, dir, "verify-pack", "-v", p), "\n") {
		if f := strings.Fields(l); len(f) == 7 && f[1] == "commit" {
			n++
		}
	}
	return n
}

func TestEnv(t *testing.T) {
	r, _ := workspace.ParseGitRemote("https://github.com/acme/app.git")
	s, _ := workspace.ParseGitRemote("git@github.com:acme/app.git")
	env := Env([]string{"PATH=/bin", "GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=core.x", "GIT_CONFIG_VALUE_0=y"}, []workspace.GitRemote{r, s})
	want := []string{"PATH=/bin", "GIT_CONFIG_KEY_0=core.x", "GIT_CONFIG_VALUE_0=y",
		"GIT_CONFIG_KEY_1=url." + Endpoint(r.URL) + ".insteadOf", "GIT_CONFIG_VALUE_1=https://github.com/acme/app.git",
		"GIT_CONFIG_KEY_2=url." + Endpoint(r.URL) + ".insteadOf", "GIT_CONFIG_VALUE_2=https://github.com/acme/app",
		"GIT_CONFIG_KEY_3=url." + SSHEndpoint(s.URL) + ".insteadOf", "GIT_CONFIG_VALUE_3=git@github.com:acme/app.git",
		"GIT_CONFIG_KEY_4=url." + SSHEndpoint(s.URL) + ".insteadOf", "GIT_CONFIG_VALUE_4=git@github.com:acme/app",
		"GIT_CONFIG_COUNT=5"}
	if fmt.Sprint(env) != fmt.Sprint(want) {
		t.Errorf("Env =\n%q\nwant\n%q", env, want)
	}
}

func FuzzReadPush(f *testing.F) {
	f.Add([]byte(pkt(zero+" "+id1+" refs/heads/x\x00report-status push-options\n") + "0000" + pkt("o\n") + "0000PACK"))
	f.Add([]byte("0000"))
	f.Add([]byte(pkt("shallow "+id1+"\n") + pkt(id1+" "+id2+" refs/heads/a/b\n") + "0000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		p, err := ReadPush(r)
		if err != nil {
			return
		}
		// What was accepted is a prefix of the input, the rest untouched.
		if !bytes.HasPrefix(b, p.Head) || int(r.Size())-r.Len() != len(p.Head) {
			t.Fatalf("Head is not the consumed prefix")
		}
		for _, c := range p.Commands {
			if checkRefName(c.Ref) != nil || !validID(c.Old, p.HashLen) || !validID(c.New, p.HashLen) {
				t.Fatalf("accepted a bad command %+v", c)
			}
		}
		_ = p.Refusal(map[string]string{}, []string{"m"})
	})
}

func FuzzReadCommits(f *testing.F) {
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x00"))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x95\x0ax\x9c"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if g, err := readCommits(bytes.NewReader(b), 40); err == nil {
			for id := range g.parents {
				g.descends(id, zero)
			}
		}
		_, _ = applyDelta(b[:len(b)/2], b[len(b)/2:])
	})
}
