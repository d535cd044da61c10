package workspace

import (
	"os"
	"strings"
	"testing"
)

// The generated files say what Tables says: run `go generate ./workspace`
// after changing a key.
func TestGeneratedFromKeys(t *testing.T) {
	want, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../editors/vscode/schemas/sandbox.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("editors/vscode/schemas/sandbox.schema.json is out of date: go generate ./workspace")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	spliced, err := SpliceReference(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if spliced != string(readme) {
		t.Error("README.md's key reference is out of date: go generate ./workspace")
	}
}

// Every key of the table is one the parser accepts with its kind, and
// every documented key has its doc and an example that parses.
func TestKeysParse(t *testing.T) {
	d := testDirs(t)
	for _, tb := range Tables() {
		if tb.Doc == "" {
			t.Errorf("[%s] has no doc", tb.Name)
		}
		for _, k := range tb.Keys {
			if k.Doc == "" || k.Example == "" || k.Value == "" || k.schema == nil {
				t.Errorf("%s.%s is not fully documented", tb.Name, k.Name)
			}
			src := "[" + tb.Name + "]\n" + k.Name + " = " + k.Example + "\n"
			if _, err := Parse("/ws/.sandbox.toml", []byte(src), d, "/ws"); err != nil {
				t.Errorf("the example of %s.%s does not parse: %v\n%s", tb.Name, k.Name, err, src)
			}
		}
		src := "[" + tb.Name + "]\nno_such_key = 1\n"
		_, err := Parse("/ws/.sandbox.toml", []byte(src), d, "/ws")
		if err == nil || !strings.Contains(err.Error(), "unknown key") {
			t.Errorf("[%s] accepted an unknown key: %v", tb.Name, err)
		}
	}
	if k, ok := LookupKey("network", "unknown"); !ok || strings.Join(k.Values, "|") != "ask|deny" {
		t.Errorf("network.unknown values %v", k.Values)
	}
}
