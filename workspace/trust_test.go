package workspace

import "testing"

func TestUntrustWithdrawsOnlyThatFile(t *testing.T) {
	ts := TrustStore{Dir: testDirs(t).StateDir}
	for _, f := range []string{"/a/.sandbox.toml", "/b/.sandbox.toml"} {
		if err := ts.Trust(f, "h1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := ts.Trust("/a/.sandbox.toml", "h2"); err != nil {
		t.Fatal(err)
	}
	if err := ts.Untrust("/a/.sandbox.toml"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2"} {
		if ok, err := ts.Trusted("/a/.sandbox.toml", h); ok || err != nil {
			t.Fatalf("/a %s still trusted after Untrust: %v %v", h, ok, err)
		}
	}
	if ok, err := ts.Trusted("/b/.sandbox.toml", "h1"); !ok || err != nil {
		t.Fatalf("/b lost its trust: %v %v", ok, err)
	}
	// Untrusting a file never trusted is not an error.
	if err := ts.Untrust("/c/.sandbox.toml"); err != nil {
		t.Fatal(err)
	}
}
