// Command netclient is the Go client the network end-to-end tests and
// benchmarks run inside the sandbox. Built by the tests only.
//
//	netclient get URL              GET through the environment's proxy; prints "STATUS BODY"
//	netclient dial HOST:PORT       plain TCP, ignoring proxy variables; prints "connected" or the error
//	netclient udp HOST:PORT        one UDP datagram; prints "sent" or the error
//	netclient socks HOST PORT      raw SOCKS5 CONNECT through $CORDON_PROXY (HOST may hold any byte, \x00 escapes); prints the reply code
//	netclient serve-and-get PORT   serves on 127.0.0.1:PORT itself, then GETs it with no proxy
//	netclient download URL         GET, discards the body; prints "BYTES SECONDS"
//	netclient connect-latency HOST:PORT N   N proxy CONNECTs through $HTTP_PROXY; prints the median in µs
//	netclient dial-latency HOST:PORT N      N plain TCP connects; prints the median in µs
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: netclient MODE ARGS")
	}
	switch args[0] {
	case "get":
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(args[1])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(b)))
	case "dial":
		c, err := net.DialTimeout("tcp", args[1], 5*time.Second)
		if err != nil {
			return err
		}
		c.Close()
		fmt.Println("connected")
	case "udp":
		c, err := net.Dial("udp", args[1])
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		fmt.Println("sent")
	case "socks":
		host, err := strconv.Unquote(`"` + args[1] + `"`)
		if err != nil {
			return err
		}
		port, _ := strconv.Atoi(args[2])
		c, err := net.DialTimeout("tcp", os.Getenv("CORDON_PROXY"), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req := []byte{5, 1, 0, 5, 1, 0, 3, byte(len(host))}
		req = append(req, host...)
		req = binary.BigEndian.AppendUint16(req, uint16(port))
		c.Write(req)
		resp := make([]byte, 4)
		if _, err := io.ReadFull(c, resp[:2]); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, resp); err != nil {
			return err
		}
		fmt.Printf("reply %d\n", resp[1])
	case "serve-and-get":
		ln, err := net.Listen("tcp", "127.0.0.1:"+args[1])
		if err != nil {
			return err
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "own server")
		}))
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
		resp, err := c.Get("http://localhost:" + args[1] + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s\n", resp.StatusCode, b)
	case "download":
		start := time.Now()
		resp, err := http.Get(args[1])
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return err
		}
		fmt.Printf("%d %.6f\n", n, time.Since(start).Seconds())
	case "connect-latency", "dial-latency":
		n, _ := strconv.Atoi(args[2])
		var proxy string
		if args[0] == "connect-latency" {
			u, err := url.Parse(os.Getenv("HTTP_PROXY"))
			if err != nil || u.Host == "" {
				return fmt.Errorf("HTTP_PROXY: %q", os.Getenv("HTTP_PROXY"))
			}
			proxy = u.Host
		}
		var ds []time.Duration
		for range n {
			start := time.Now()
			if err := once(proxy, args[1]); err != nil {
				return err
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		fmt.Printf("%d\n", ds[len(ds)/2].Microseconds())
	default:
		return fmt.Errorf("unknown mode %q", args[0])
	}
	return nil
}

// once opens one connection to target (through an HTTP CONNECT when proxy
// is set) and waits for the server's first byte.
func once(proxy, target string) error {
	addr := target
	if proxy != "" {
		addr = proxy
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if proxy != "" {
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("CONNECT %s: %s", target, resp.Status)
		}
	}
	_, err = br.ReadByte()
	return err
}
