package server

import (
	"strings"
	"testing"
)

func TestInsertArrayValue(t *testing.T) {
	tests := []struct {
		name, in, table, key, value, want string
	}{
		{"empty file", "", "network", "allow", "a.example:443",
			"[network]\nallow = [\"a.example:443\"]\n"},
		{"append table after comment", "# my policy\n[filesystem]\ndeny_write = [\".env\"]  # keep\n", "network", "allow", "h:1",
			"# my policy\n[filesystem]\ndeny_write = [\".env\"]  # keep\n\n[network]\nallow = [\"h:1\"]\n"},
		{"no trailing newline", "[env]\npass = [\"X\"]", "network", "allow", "h:1",
			"[env]\npass = [\"X\"]\n\n[network]\nallow = [\"h:1\"]\n"},
		{"key added to table", "[network] # nets\nunknown = \"ask\"\n", "network", "allow", "h:1",
			"[network] # nets\nallow = [\"h:1\"]\nunknown = \"ask\"\n"},
		{"one-line array", "[network]\nallow = [\"a.example\"] # trailing\n", "network", "allow", "b.example:443",
			"[network]\nallow = [\"a.example\", \"b.example:443\"] # trailing\n"},
		{"empty array", "[network]\nallow = [ ]\n", "network", "allow", "b:1",
			"[network]\nallow = [\"b:1\" ]\n"},
		{"multi-line with trailing comma and comments", "[network]\nallow = [\n  \"a\", # first\n  \"b\",  # second ] tricky\n]\n", "network", "allow", "c:1",
			"[network]\nallow = [\n  \"a\", # first\n  \"b\", \"c:1\"  # second ] tricky\n]\n"},
		{"multi-line without trailing comma", "[network]\nallow = [\n  \"a\"   # only\n]\n", "network", "allow", "c:1",
			"[network]\nallow = [\n  \"a\", \"c:1\"   # only\n]\n"},
		{"brackets inside strings", "[network]\nallow = [\"x]\", 'y,#'] # z\n", "network", "allow", "c:1",
			"[network]\nallow = [\"x]\", 'y,#', \"c:1\"] # z\n"},
		{"dotted key at top", "network.allow = [\"a\"]\n", "network", "allow", "c:1",
			"network.allow = [\"a\", \"c:1\"]\n"},
		{"same key in another table untouched", "[filesystem]\nallow = 1\n[network]\ndeny = [\"d\"]\n", "network", "allow", "c:1",
			"[filesystem]\nallow = 1\n[network]\nallow = [\"c:1\"]\ndeny = [\"d\"]\n"},
		{"crlf kept", "[env]\r\npass = [\"X\"]\r\n", "network", "allow", "h:1",
			"[env]\r\npass = [\"X\"]\r\n\r\n[network]\r\nallow = [\"h:1\"]\r\n"},
		{"filesystem allow_write", "[filesystem]\ndeny_write = [\"*.pem\"]\n", "filesystem", "allow_write", "/var/cache/x",
			"[filesystem]\nallow_write = [\"/var/cache/x\"]\ndeny_write = [\"*.pem\"]\n"},
		{"header at end without newline", "[network]", "network", "allow", "h:1",
			"[network]\nallow = [\"h:1\"]\n"},
		{"quoted value escaped", "", "network", "allow", "we\"ird",
			"[network]\nallow = [\"we\\\"ird\"]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := InsertArrayValue(tc.in, tc.table, tc.key, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			got := ins.Apply(tc.in)
			if got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
			// Minimal: the original is a subsequence kept byte for byte.
			if got[:ins.Offset] != tc.in[:ins.Offset] || got[ins.Offset+len(ins.Text):] != tc.in[ins.Offset:] {
				t.Error("edit changed existing text")
			}
		})
	}
}

func TestInsertArrayValueRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"inline table":    "network = { allow = [\"a\"] }\n",
		"not an array":    "[network]\nallow = \"a\"\n",
		"broken file":     "[network\nallow = [\n",
		"unterminated":    "[network]\nallow = [\"a\",\n",
		"nested arrays":   "[network]\nallow = [[\"a\"]]\n",
		"array of tables": "[[network]]\nallow = [\"a\"]\n",
	} {
		t.Run(name, func(t *testing.T) {
			ins, err := InsertArrayValue(in, "network", "allow", "c:1")
			if err == nil {
				t.Fatalf("edited %q into %q; want a refusal", in, ins.Apply(in))
			}
			if !strings.Contains(err.Error(), "by hand") && !strings.Contains(err.Error(), "network.allow") {
				t.Errorf("unclear refusal: %v", err)
			}
		})
	}
}

// FuzzInsertArrayValue: any edit we return parses and holds the value,
// and never changes existing text.
func FuzzInsertArrayValue(f *testing.F) {
	f.Add("[network]\nallow = [\"a\"] # c\n", "b:1")
	f.Add("", "x")
	f.Add("network.allow = [\n 'a', # ]\n]\n", "y")
	f.Add("[a]\nb = \"\"\"\n[network]\nallow = [\n\"\"\"\n", "z")
	f.Fuzz(func(t *testing.T, in, value string) {
		ins, err := InsertArrayValue(in, "network", "allow", value)
		if err != nil {
			return
		}
		if ins.Offset < 0 || ins.Offset > len(in) {
			t.Fatalf("offset %d out of range", ins.Offset)
		}
		if _, err := verified(in, ins, "network", "allow", value); err != nil {
			t.Fatalf("returned an unverified edit: %v", err)
		}
	})
}

func TestHostRule(t *testing.T) {
	for _, tc := range []struct {
		host string
		port int
		want string
	}{{"a.example", 443, "a.example:443"}, {"[::1]", 80, "[::1]:80"}, {"::1", 80, "[::1]:80"}, {"a.example", 0, "a.example"}} {
		if got := hostRule(tc.host, tc.port); got != tc.want {
			t.Errorf("hostRule(%q, %d) = %q, want %q", tc.host, tc.port, got, tc.want)
		}
	}
}
