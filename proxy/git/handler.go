package git

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cordon-dev/cordon/workspace"
)

// Event is one git operation the proxy decided: kept for the run's report
// and the audit log.
type Event struct {
	Remote  workspace.GitRemote
	Op      string // "refs", "fetch", "push"
	Ref     string // the ref a refused push named; "" otherwise
	Allowed bool
	Reason  string // "git-remote", "git-push", "git-unlisted", "git-force", "git-delete", "git-malformed"
	Rule    workspace.Source
	Message string // what the client was told
}

// Target is the event as a violation names it: the remote, and the ref.
func (e Event) Target() string {
	if e.Ref == "" {
		return e.Remote.URL
	}
	return e.Remote.URL + " " + e.Ref
}

// Handler serves the git endpoint: smart-HTTP requests from the sandbox's
// git, checked and forwarded to the remote they stand for.
type Handler struct {
	// Policy returns the current snapshot (a reload applies at once).
	Policy      func() *workspace.Policy
	Credentials Credentials
	// Transport carries requests upstream; the proxy's dials only what
	// the policy allows, at the address it checked.
	Transport http.RoundTripper
	Report    func(Event)
	TempDir   string // where a push waits while it is checked (default os.TempDir())
	MaxPush   int64  // bytes of one push request (default 2 GiB)
	MaxFetch  int64  // bytes of one upload-pack request (default 64 MiB)
	Logger    *slog.Logger
	// SSH is the host's ssh client (default "ssh" on cordon's PATH), run
	// with SSHEnv (default SSHEnv(os.Environ())) for ssh remotes.
	SSH    string
	SSHEnv []string

	mu    sync.Mutex
	creds map[string]*credState // by remote URL
}

type credState struct {
	mu    sync.Mutex
	tried bool
	ok    bool
	c     Credential
}

const (
	defaultMaxPush  = 2 << 30
	defaultMaxFetch = 64 << 20
	// upstreamTimeout bounds one request to the remote, body included.
	upstreamTimeout = 2 * time.Hour
)

func (h *Handler) report(e Event) {
	if h.Report != nil {
		h.Report(e)
	}
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

// refuse answers a request cordon will not forward with a text body the
// git client prints after "fatal:" or "error:".
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Cordon-Decision", "denied")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// service is one of the three smart-HTTP requests.
type service struct {
	name string // "git-upload-pack" or "git-receive-pack"
	refs bool   // GET info/refs?service=NAME; otherwise POST NAME
}

func parseService(r *http.Request, rest string) (service, bool) {
	switch {
	case rest == "info/refs" && r.Method == http.MethodGet:
		s := r.URL.Query().Get("service")
		if (s == "git-upload-pack" || s == "git-receive-pack") && len(r.URL.Query()) == 1 {
			return service{name: s, refs: true}, true
		}
	case (rest == "git-upload-pack" || rest == "git-receive-pack") && r.Method == http.MethodPost && r.URL.RawQuery == "":
		return service{name: rest}, true
	}
	return service{}, false
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	if !strings.EqualFold(host, Host) {
		w.Header().Set("Connection", "close")
		refuse(w, http.StatusForbidden, "cordon: this connection serves "+Host+" only")
		return
	}
	pol := h.Policy()
	if p, ok := strings.CutPrefix(r.URL.Path, "/ssh/"); ok {
		h.serveSSH(w, r, pol, p)
		return
	}
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var remote *workspace.GitRemote
	if pol != nil {
		for i, rm := range pol.Git.Remotes {
			if (rm.Scheme == "https" || rm.Scheme == "http") && EndpointID(rm.URL) == id {
				remote = &pol.Git.Remotes[i]
				break
			}
		}
	}
	if remote == nil {
		msg := "cordon: no remote of [git].remotes is served at " + clip(r.URL.Path)
		h.report(Event{Remote: workspace.GitRemote{URL: Endpoint(id)}, Op: "refs", Reason: "git-unlisted", Message: msg})
		refuse(w, http.StatusForbidden, msg)
		return
	}
	svc, ok := parseService(r, rest)
	if !ok {
		refuse(w, http.StatusNotFound, "cordon: only git's smart HTTP protocol goes through cordon's git proxy")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), upstreamTimeout)
	defer cancel()

	var body bodySource
	switch {
	case svc.refs:
	case svc.name == "git-upload-pack":
		b, err := readBounded(r.Body, h.maxFetch())
		if err != nil {
			refuse(w, http.StatusRequestEntityTooLarge, "cordon: "+err.Error())
			return
		}
		body = bytesBody(b)
		h.report(Event{Remote: *remote, Op: "fetch", Allowed: true, Reason: "git-remote", Rule: remote.Source})
	default:
		b, ok := h.checkPush(ctx, w, r, pol, *remote)
		if !ok {
			return
		}
		defer b.Close()
		body = b
	}
	h.forward(ctx, w, r, *remote, svc, body)
}

func (h *Handler) maxFetch() int64 {
	if h.MaxFetch > 0 {
		return h.MaxFetch
	}
	return defaultMaxFetch
}

func (h *Handler) maxPush() int64 {
	if h.MaxPush > 0 {
		return h.MaxPush
	}
	return defaultMaxPush
}

func readBounded(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the request is over %d bytes", limit)
	}
	return b, nil
}

// bodySource is a request body that can be sent more than once (a retry
// with the credential after a 401).
type bodySource interface {
	open() (io.Reader, int64)
	Close() error
}

type bytesBody []byte

func (b bytesBody) open() (io.Reader, int64) { return bytes.NewReader(b), int64(len(b)) }
func (b bytesBody) Close() error             { return nil }

// spooledPush is a checked push waiting in an unlinked temporary file.
type spooledPush struct {
	head []byte
	f    *os.File
	size int64
}

func (s *spooledPush) open() (io.Reader, int64) {
	return io.MultiReader(bytes.NewReader(s.head), io.NewSectionReader(s.f, 0, s.size)), int64(len(s.head)) + s.size
}

func (s *spooledPush) Close() error { return s.f.Close() }

// checkPush reads a receive-pack request, decides it, and either answers
// the client (ok false) or returns the request to forward.
func (h *Handler) checkPush(ctx context.Context, w http.ResponseWriter, r *http.Request, pol *workspace.Policy, remote workspace.GitRemote) (*spooledPush, bool) {
	in := io.Reader(r.Body)
	switch enc := strings.ToLower(r.Header.Get("Content-Encoding")); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, h.maxPush()))
		if err != nil {
			h.malformed(w, remote, err)
			return nil, false
		}
		in = zr
	default:
		refuse(w, http.StatusUnsupportedMediaType, "cordon: a push with Content-Encoding "+clip(enc)+" cannot be checked")
		return nil, false
	}
	limited := &io.LimitedReader{R: in, N: h.maxPush() + 1}
	push, err := ReadPush(limited)
	if err != nil {
		h.malformed(w, remote, err)
		return nil, false
	}
	if len(push.Commands) == 0 {
		// git's probe before a large push: "0000" and nothing else.
		return &spooledPush{head: push.Head, f: emptyFile()}, true
	}

	reasons, messages, ev := decidePush(pol, remote, push)
	needPack := needsPack(pol, push)
	f, err := os.CreateTemp(h.TempDir, "cordon-push-")
	if err != nil {
		refuse(w, http.StatusInternalServerError, "cordon: "+err.Error())
		return nil, false
	}
	os.Remove(f.Name())
	size, err := io.Copy(f, limited)
	switch {
	case err != nil:
		f.Close()
		h.malformed(w, remote, fmt.Errorf("reading the pack: %w", err))
		return nil, false
	case size > h.maxPush()-int64(len(push.Head)):
		f.Close()
		h.malformed(w, remote, fmt.Errorf("the push is over %d bytes", h.maxPush()))
		return nil, false
	}
	sp := &spooledPush{head: push.Head, f: f, size: size}

	if len(reasons) == 0 && needPack {
		graph, err := readCommits(io.NewSectionReader(f, 0, size), push.HashLen)
		if err != nil {
			sp.Close()
			h.malformed(w, remote, err)
			return nil, false
		}
		messages, ev = forceRefusals(pol, remote, push, graph, reasons, messages, ev)
	}
	if len(reasons) > 0 {
		sp.Close()
		for _, e := range ev {
			h.report(e)
		}
		w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		w.Write(push.Refusal(reasons, messages))
		return nil, false
	}
	for _, c := range push.Commands {
		h.report(Event{Remote: remote, Op: "push", Ref: c.Ref, Allowed: true, Reason: "git-push", Rule: matchingRule(pol, c.Ref)})
	}
	return sp, true
}

// needsPack reports whether some update must be shown to fast-forward.
func needsPack(pol *workspace.Policy, push *Push) bool {
	for _, c := range push.Commands {
		if !c.IsCreate() && !c.IsDelete() && !pol.Git.AllowForce {
			return true
		}
	}
	return false
}

// forceRefusals adds a refusal for each update the pushed commits do not
// show to be a fast-forward, unless allow_force. The remote itself checks
// that the old id is what the ref holds, under its lock, so what is left
// to know is whether old is an ancestor of new.
func forceRefusals(pol *workspace.Policy, remote workspace.GitRemote, push *Push, graph *commitGraph, reasons map[string]string, messages []string, ev []Event) ([]string, []Event) {
	if pol.Git.AllowForce {
		return messages, ev
	}
	for _, c := range push.Commands {
		if c.IsCreate() || c.IsDelete() || graph.descends(c.New, c.Old) {
			continue
		}
		rule := RuleText(pol, pol.Git.ForceSource)
		msg := fmt.Sprintf("cordon: non-fast-forward push to %s refused (%s)", c.Ref, rule)
		reasons[c.Ref] = "refused by cordon: not a fast-forward (" + rule + ")"
		messages = append(messages, msg)
		ev = append(ev, Event{Remote: remote, Op: "push", Ref: c.Ref, Reason: "git-force", Rule: pol.Git.ForceSource, Message: msg})
	}
	return messages, ev
}

func emptyFile() *os.File {
	f, _ := os.Open(os.DevNull)
	return f
}

func (h *Handler) malformed(w http.ResponseWriter, remote workspace.GitRemote, err error) {
	msg := "cordon: push refused: " + clip(err.Error())
	h.report(Event{Remote: remote, Op: "push", Reason: "git-malformed", Message: msg})
	w.Header().Set("Connection", "close")
	refuse(w, http.StatusBadRequest, msg)
}

func matchingRule(pol *workspace.Policy, ref string) workspace.Source {
	for _, r := range pol.Git.Push {
		if r.Matches(ref) {
			return r.Source
		}
	}
	return workspace.Source{}
}

// decidePush checks each ref update by name: a ref no push pattern
// matches, and a delete that is not allowed, are refused.
func decidePush(pol *workspace.Policy, remote workspace.GitRemote, push *Push) (map[string]string, []string, []Event) {
	reasons := map[string]string{}
	var messages []string
	var events []Event
	for _, c := range push.Commands {
		var rule workspace.Source
		var what, reason string
		switch {
		case !anyMatch(pol, c.Ref):
			rule, what, reason = pol.Git.PushSource, "push to "+c.Ref, "git-push"
		case c.IsDelete() && !pol.Git.AllowDelete:
			rule, what, reason = pol.Git.DeleteSource, "delete of "+c.Ref, "git-delete"
		default:
			continue
		}
		rt := RuleText(pol, rule)
		msg := fmt.Sprintf("cordon: %s refused (%s)", what, rt)
		reasons[c.Ref] = "refused by cordon (" + rt + ")"
		messages = append(messages, msg)
		events = append(events, Event{Remote: remote, Op: "push", Ref: c.Ref, Reason: reason, Rule: rule, Message: msg})
	}
	return reasons, messages, events
}

func anyMatch(pol *workspace.Policy, ref string) bool {
	for _, r := range pol.Git.Push {
		if r.Matches(ref) {
			return true
		}
	}
	return false
}

// forwarded are the request headers git's smart HTTP needs; nothing else
// of the sandbox's request (no Authorization, no cookie) goes upstream.
var forwarded = []string{"Content-Type", "Accept", "Git-Protocol", "User-Agent", "Accept-Language"}

// returned are the response headers the client gets back.
var returned = []string{"Content-Type", "Cache-Control", "Expires", "Pragma", "Last-Modified"}

func (h *Handler) upstreamURL(remote workspace.GitRemote, svc service) string {
	host, port := remote.Endpoint()
	def := map[string]int{"https": 443, "http": 80}[remote.Scheme]
	if port != def {
		host += ":" + strconv.Itoa(port)
	}
	u := remote.Scheme + "://" + host + "/" + strings.TrimSuffix(remote.Path, "/")
	if svc.refs {
		return u + "/info/refs?service=" + svc.name
	}
	return u + "/" + svc.name
}

func (h *Handler) cred(remote workspace.GitRemote) *credState {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.creds == nil {
		h.creds = map[string]*credState{}
	}
	c := h.creds[remote.URL]
	if c == nil {
		c = &credState{}
		h.creds[remote.URL] = c
	}
	return c
}

func (h *Handler) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, remote workspace.GitRemote, svc service, body bodySource) {
	host, port := remote.Endpoint()
	credHost := host
	if def := map[string]int{"https": 443, "http": 80}[remote.Scheme]; port != def {
		credHost += ":" + strconv.Itoa(port)
	}
	cs := h.cred(remote)
	send := func(withCred bool) (*http.Response, error) {
		var rd io.Reader
		var n int64
		method := http.MethodGet
		if body != nil {
			rd, n = body.open()
			method = http.MethodPost
		}
		req, err := http.NewRequestWithContext(ctx, method, h.upstreamURL(remote, svc), rd)
		if err != nil {
			return nil, err
		}
		req.ContentLength = n
		for _, k := range forwarded {
			if v := r.Header.Values(k); len(v) > 0 {
				req.Header[k] = append([]string(nil), v...)
			}
		}
		if svc.name == "git-upload-pack" && !svc.refs {
			if v := r.Header.Get("Content-Encoding"); v != "" {
				req.Header.Set("Content-Encoding", v)
			}
		}
		if withCred {
			cs.mu.Lock()
			req.SetBasicAuth(cs.c.Username, cs.c.Password)
			cs.mu.Unlock()
		}
		return h.Transport.RoundTrip(req)
	}

	cs.mu.Lock()
	have := cs.ok
	cs.mu.Unlock()
	resp, err := send(have)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		resp.Body.Close()
		retry := false
		cs.mu.Lock()
		switch {
		case have:
			cs.ok = false // it was sent and refused
		case !cs.tried:
			cs.tried = true
			c, ok, ferr := h.Credentials.Fill(ctx, remote.Scheme, credHost, remote.Path, remote.User)
			if ferr != nil {
				h.logger().Warn("git credential fill", "remote", remote.URL, "err", ferr)
			}
			cs.c, cs.ok, retry = c, ok, ok
		case cs.ok: // another request filled it meanwhile
			retry = true
		}
		cs.mu.Unlock()
		if !retry {
			refuse(w, http.StatusForbidden, "cordon: "+remote.URL+" wants a credential, and the host's `git credential fill` gave none that works")
			return
		}
		if resp, err = send(true); err == nil && resp.StatusCode == http.StatusUnauthorized {
			resp.Body.Close()
			cs.mu.Lock()
			cs.ok = false
			cs.mu.Unlock()
			refuse(w, http.StatusForbidden, "cordon: "+remote.URL+" refused the host's credential")
			return
		}
	}
	if err != nil {
		refuse(w, http.StatusBadGateway, "cordon: "+remote.URL+": "+clip(err.Error()))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		refuse(w, http.StatusBadGateway, fmt.Sprintf("cordon: %s answered %d (a redirect to %s): cordon does not follow redirects with your credential",
			remote.URL, resp.StatusCode, clip(resp.Header.Get("Location"))))
		return
	}
	for _, k := range returned {
		if v := resp.Header.Values(k); len(v) > 0 {
			w.Header()[k] = append([]string(nil), v...)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(flushWriter{w}, resp.Body); err != nil && !errors.Is(err, context.Canceled) {
		h.logger().Debug("git response", "remote", remote.URL, "err", err)
	}
}

// flushWriter flushes after each write: git reads progress (side band) as
// it comes.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
