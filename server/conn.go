package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"go.lsp.dev/jsonrpc2"
)

// conn is one JSON-RPC peer: it writes whole frames under a lock and
// matches the client's answers to the requests the server sent.
type conn struct {
	wmu sync.Mutex
	w   io.Writer

	seq     atomic.Int32
	mu      sync.Mutex
	pending map[string]chan *jsonrpc2.Response
	closed  bool
}

func newConn(w io.Writer) *conn {
	return &conn{w: w, pending: map[string]chan *jsonrpc2.Response{}}
}

func (c *conn) send(m jsonrpc2.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encoding %T: %w", m, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeFrame(c.w, data)
}

// reply answers a request; result is ignored when err is set.
func (c *conn) reply(id jsonrpc2.ID, result any, err error) error {
	if err != nil {
		result = nil
	}
	resp, merr := jsonrpc2.NewResponse(id, result, err)
	if merr != nil {
		resp, _ = jsonrpc2.NewResponse(id, nil, jsonrpc2.Errorf(jsonrpc2.InternalError, "encoding result: %v", merr))
	}
	return c.send(resp)
}

// replyNullID answers a message we could not read, whose id is unknown.
func (c *conn) replyNullID(code jsonrpc2.Code, msg string) error {
	data, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      nil,
		"error":   map[string]any{"code": code, "message": msg},
	})
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return writeFrame(c.w, data)
}

func (c *conn) notify(method string, params any) error {
	n, err := jsonrpc2.NewNotification(method, params)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", method, err)
	}
	return c.send(n)
}

// call sends a request to the client and waits for its answer or ctx.
func (c *conn) call(ctx context.Context, method string, params, result any) error {
	id := jsonrpc2.NewStringID("cordon-" + strconv.Itoa(int(c.seq.Add(1))))
	call, err := jsonrpc2.NewCall(id, method, params)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", method, err)
	}
	ch := make(chan *jsonrpc2.Response, 1)
	key := idKey(id)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("%s: connection closed", method)
	}
	c.pending[key] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, key)
		c.mu.Unlock()
	}()
	if err := c.send(call); err != nil {
		return err
	}
	select {
	case resp, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: connection closed", method)
		}
		if resp.Err() != nil {
			return fmt.Errorf("%s: %w", method, resp.Err())
		}
		if result == nil || len(resp.Result()) == 0 {
			return nil
		}
		if err := json.Unmarshal(resp.Result(), result); err != nil {
			return fmt.Errorf("%s: decoding answer: %w", method, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// deliver hands a client's response to the waiting call, if any.
func (c *conn) deliver(resp *jsonrpc2.Response) {
	c.mu.Lock()
	ch := c.pending[idKey(resp.ID())]
	delete(c.pending, idKey(resp.ID()))
	c.mu.Unlock()
	if ch != nil {
		ch <- resp
	}
}

// close fails every call still waiting for the client.
func (c *conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	for k, ch := range c.pending {
		close(ch)
		delete(c.pending, k)
	}
}

// idKey is a request id in a form that compares equal however the id was
// decoded: jsonrpc2's stock cancel handler type-switched on int32 while
// numbers decode as float64, so cancellation never matched.
func idKey(id jsonrpc2.ID) string { return fmt.Sprintf("%q", id) }
